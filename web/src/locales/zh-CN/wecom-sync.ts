export default {
  wecomSync: {
    ops: {
      title: '企业标签改名与删除',
      counts: '排队 {queued} · 完成 {done} · 失败 {failed}',
      help: '在 Segflow 中给已同步的标签或标签组改名，会在企业微信中同步改名（edit_corp_tag）；退役已同步的标签，会在企业微信中删除这个企业标签（del_corp_tag），所有客户身上的该标签随之移除。',
      kinds: { tag: '标签', group: '标签组' },
      ops: { rename: '改名为「{name}」', delete: '删除「{name}」' },
      status: { queued: '排队中', done: '已完成', failed: '失败' },
      retry: '重试失败的操作',
      retryHint: '在企业微信后台消除冲突（如同名标签）后重试',
    },
    overrides: {
      title: '已纠正的企业微信手动修改',
      help: '“以 Segflow 为准”的标签在企业微信里被手动修改时，Segflow 会记录每一次修改，并在下一次推送时改回规则的结果。',
      empty: '还没有企业微信里的手动修改',
      refresh: '刷新',
      columns: {
        at: '发现时间',
        contact: '客户',
        user: '跟进成员',
        tag: '标签',
        op: '企业微信中的修改',
        reverted: '改回时间',
      },
      ops: { added: '被加上', removed: '被移除' },
      pending: '等待推送改回',
      total: '共 {n} 条',
    },
    retire: {
      loading: '正在查看企业微信中的影响…',
      deletes:
        '退役后，Segflow 会在企业微信「{corp}」中删除企业标签「{name}」：它会从 {customers} 位客户（{relations} 个跟进关系）身上移除，且无法恢复；在 Segflow 中恢复此标签会重新创建一个新的企业标签。',
      keeps:
        '企业微信「{corp}」中的企业标签「{name}」不是本应用创建的，Segflow 不能删除它（301002）：它会留在企业微信中的 {customers} 位客户身上，请到企业微信管理后台处理。',
    },
  },
};
