/** The Tags screen. */
export default {
  tags: {
    title: '标签管理',
    subtitle: '{groups} 个标签组 · {tags} 个标签 · {holdings} 次打标',
    exclusive: '互斥',
    exclusiveHint: '同一联系人在此组内最多持有一个标签',
    limit: '上限 {n} 个',
    holders: '{n} 人',
    retired: '已退役',
    viewContacts: '查看持有该标签的联系人',
    lastApplied: '最近打标：{time}',
    emptyGroup: '该组暂无标签',
    empty: '还没有标签组',
  },
};
