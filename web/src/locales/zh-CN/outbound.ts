/** Outbound actions on the rule canvas: call a webhook, notify the contact's owner. */
export default {
  outbound: {
    palette: {
      call_webhook: '调用 Webhook',
      call_webhookHint: '联系人标签变化时通知外部系统',
      notify: '通知负责人',
      notifyHint: '给联系人的负责人发一条消息',
    },
    type: { call_webhook: '调用 Webhook', notify: '通知负责人' },
    verb: { call_webhook: '调用', notify: '通知' },
    destination: '目的地',
    pickDestination: '请选择目的地',
    noDestination: '还没有可用的目的地：超级管理员可在',
    noDestinationLink: '数据源',
    noDestinationTail: '页面添加。',
    unknownDestination: '目的地 #{id}',
    text: '消息内容',
    textPlaceholder: "例如：{'{name}'} 刚成为高价值客户（{'{tags}'}）",
    insert: '插入：',
    placeholder: { name: '联系人姓名', rule: '规则名称', tags: '标签变化' },
    calls: '发布将调用 {n} 次',
    callsTitle: '发布时：到达此节点、且本次发布改变了其标签的联系人数（每人一次）',
    eventHint: '事件触发的规则：之后每个到达此节点的事件调用一次。',
    whenHint: '只在本次运行改变了联系人的标签时调用；标签没变的联系人不会被调用。',
    publishLine: '发布将调用 {n} 次「{name}」',
  },
};
