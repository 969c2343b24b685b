import type zh from '../zh-CN/security';

const en: typeof zh = {
  security: {
    tabs: {
      audit: 'Audit log',
      security: 'Security log',
    },
    title: 'Security log',
    subtitle:
      'Refused requests: not signed in, role too low, objects outside your department, bad CSRF token, bad webhook signature, rate limits. Repeats from the same source within a minute are counted on one row; rows are deleted after {days} days',
    filters: {
      who: 'User email or source…',
      ip: 'IP address…',
      reason: 'Reason',
      start: 'From',
      end: 'To',
      search: 'Search',
    },
    columns: {
      time: 'Last seen',
      who: 'Who',
      ip: 'IP address',
      request: 'Request',
      reason: 'Reason',
      count: 'Count',
    },
    reasons: {
      unauthorized: 'Not signed in or wrong password',
      forbidden: 'Role too low',
      csrf_token_invalid: 'Bad CSRF token',
      out_of_scope: 'Outside their department',
      not_found: 'No such object',
      no_route: 'No such API route',
      invalid_signature: 'Bad webhook signature',
      rate_limited: 'Rate limited',
    },
    anonymous: 'Anonymous',
    signIn: 'Sign-in as {email}',
    source: 'Source: {id}',
    deletedUser: 'Deleted user #{id}',
    overflow: 'Counted together',
    overflowHint: 'This address went over its budget of rows for the minute; the rest of its requests are counted on this row',
    anyAddress: 'All addresses',
    firstAt: 'first {time}',
    times: '{n}×',
    empty: 'No security events match',
    total: '{n} rows',
  },
};
export default en;
