/** 安全日志 screen (beside 审计日志), and the tabs between the two. */
export default {
  security: {
    tabs: {
      audit: '审计日志',
      security: '安全日志',
    },
    title: '安全日志',
    subtitle:
      '被拒绝的请求：未登录、越权、越界访问、CSRF 校验失败、Webhook 签名错误、频率限制。同一分钟内相同来源的重复请求合并计数，保留 {days} 天后自动清理',
    filters: {
      who: '用户邮箱或数据源…',
      ip: 'IP 地址…',
      reason: '原因',
      start: '开始',
      end: '结束',
      search: '查询',
    },
    columns: {
      time: '最近一次',
      who: '谁',
      ip: 'IP 地址',
      request: '请求',
      reason: '原因',
      count: '次数',
    },
    reasons: {
      unauthorized: '未登录或密码错误',
      forbidden: '权限不足',
      csrf_token_invalid: 'CSRF 校验失败',
      out_of_scope: '越界访问（其他部门的对象）',
      not_found: '对象不存在',
      no_route: '接口不存在',
      invalid_signature: 'Webhook 签名错误',
      rate_limited: '频率限制',
    },
    anonymous: '匿名',
    signIn: '登录尝试：{email}',
    source: '数据源：{id}',
    deletedUser: '已删除的用户 #{id}',
    overflow: '合并计数',
    overflowHint: '该地址本分钟的请求超出记录上限，其余请求合并计入此行',
    anyAddress: '全部地址',
    firstAt: '首次 {time}',
    times: '{n} 次',
    empty: '没有匹配的安全事件',
    total: '共 {n} 行',
  },
};
