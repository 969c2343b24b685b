import type zh from '../zh-CN/errors';

const en: typeof zh = {
  apiError: {
    code: {
      invalid_request: 'Some of what was sent is not valid: check it and try again',
      invalid_json: 'What was sent is not valid JSON',
      payload_too_large: 'What was sent is too large: send less and try again',
      unknown_reference: 'Something this refers to does not exist (it may have been deleted): refresh and try again',
      not_found: 'This does not exist (it may have been deleted)',
      method_not_allowed: 'The server does not support this operation',
      unauthorized: 'Your session has ended: sign in again',
      invalid_signature: 'The signature does not match',
      forbidden: 'You are not allowed to do this',
      csrf_token_invalid: 'This page’s session is out of date: reload the page and try again',
      rate_limited: 'Too many attempts: try again later',
      confirmation_required: 'This is a far-reaching change: confirm how many it affects first (confirm again if the number changed)',
      conflict: 'This conflicts with the current data: refresh and try again',
      wecom_name_too_long:
        'This group is synced to WeCom, where a tag is named by its path (parent/tag) of at most 30 characters: choose a shorter name or another place',
      invalid_rule: 'The rule is incomplete or has errors and cannot run: fix what the canvas points out',
      unavailable: 'The service is busy or unavailable for a moment: nothing was changed; try again shortly',
      internal: 'Server error: nothing was changed; try again later',
      approval_required: 'Publishing in this department needs a super admin’s approval: submit a publish request',
    },
    confirmWith: 'This affects {count} of “{object}”: confirm it to go ahead',
    fields: ' (concerns: {paths})',
    pathSeparator: ', ',
    unknown: 'Request failed ({status}): {server}',
  },
};
export default en;
