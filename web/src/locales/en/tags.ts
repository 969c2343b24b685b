import type zh from '../zh-CN/tags';

const en: typeof zh = {
  tags: {
    title: 'Tags',
    subtitle: '{groups} groups · {tags} tags · {holdings} tag holdings',
    exclusive: 'Exclusive',
    exclusiveHint: 'A contact holds at most one tag of this group',
    limit: 'Limit {n}',
    holders: '{n}',
    retired: 'Retired',
    viewContacts: 'Show contacts holding this tag',
    lastApplied: 'Last applied: {time}',
    emptyGroup: 'No tags in this group yet',
    empty: 'No tag groups yet',
  },
};
export default en;
