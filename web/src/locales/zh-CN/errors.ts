import type { ErrorCode } from '@shared/api/errors';

/**
 * The API's errors in the user's language, one sentence per `code` the worker can send
 * (`shared/src/api/errors.ts` ErrorCode). The server's own `message` is English detail for
 * developers; only an unknown code shows it, after a generic sentence.
 */
export default {
  apiError: {
    code: {
      invalid_request: '提交的内容有误，请检查后重试',
      invalid_json: '提交的内容不是有效的 JSON',
      payload_too_large: '提交的内容过大，请减少后重试',
      unknown_reference: '引用的对象不存在，可能已被删除，请刷新后重试',
      not_found: '要找的内容不存在，可能已被删除',
      method_not_allowed: '服务器不支持这个操作',
      unauthorized: '登录已失效，请重新登录',
      invalid_signature: '签名校验失败',
      forbidden: '没有权限执行这个操作',
      csrf_token_invalid: '页面会话已过期，请刷新页面后重试',
      rate_limited: '尝试次数过多，请稍后再试',
      confirmation_required: '这是影响较大的操作，需要先确认影响的数量；数量已变化时请重新确认',
      conflict: '操作与当前数据冲突，请刷新后重试',
      wecom_name_too_long:
        '该标签组同步到企业微信，企业微信中的标签名（上级标签/本标签，用「/」连接）最多 30 个字，请换一个更短的名称或位置',
      invalid_rule: '规则不完整或有错误，无法执行，请按画布上的提示修改',
      unavailable: '服务暂时繁忙或不可用，本次操作没有生效，请稍后重试',
      internal: '服务器内部错误，本次操作没有生效，请稍后重试',
      approval_required: '本部门的发布需要超级管理员审批：请提交发布申请',
    } satisfies Record<ErrorCode, string>,
    /** confirmation_required with the object and count the server names in `details`. */
    confirmWith: '此操作会影响「{object}」的 {count} 项，需要确认后再执行',
    /** Appended when the error names fields (`details[].path`). */
    fields: '（涉及：{paths}）',
    pathSeparator: '、',
    /** A code this client does not know yet (a newer server): the server's text as detail. */
    unknown: '请求失败（{status}）：{server}',
  },
};
