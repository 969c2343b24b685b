import type zhCN from './zh-CN';

/** English. Typed against zh-CN so a missing or extra key is a compile error. */
const en: typeof zhCN = {
  app: {
    name: 'Segflow',
    tagline: 'Tags & segments',
    language: 'Language',
  },
  nav: {
    rules: 'Tagging rules',
    segments: 'Segments',
    contacts: 'Contacts',
    tags: 'Tags',
    audit: 'Audit log',
  },
  common: {
    loading: 'Loading…',
    retry: 'Retry',
    reset: 'Reset',
    all: 'All',
    none: 'None',
    never: 'Never',
    loadFailed: 'Could not load: {message}',
    networkError: 'Cannot reach the server. Check your connection and retry.',
    comingSoon: 'Coming soon',
  },
  contactKind: {
    friend: 'WeChat friend',
    group_member: 'Group member',
    follower: 'OA follower',
    wecom_customer: 'WeCom customer',
  },
  gender: { male: 'Male', female: 'Female', unknown: 'Unknown' },
  contacts: {
    title: 'Contacts',
    subtitle: '{total} contacts',
    subtitleFiltered: '{total} contacts match',
    searchPlaceholder: 'Search name, remark or external ID',
    kind: 'Kind',
    department: 'Department',
    tag: 'Tag',
    tagPlaceholder: 'Filter by tag',
    sort: 'Sort',
    sorts: {
      last_active: 'Recently active',
      spend: 'Total spend',
      name: 'Name',
      created: 'Newest',
    },
    columns: {
      name: 'Contact',
      kind: 'Kind',
      department: 'Department',
      region: 'Region',
      channel: 'Source channel',
      tags: 'Tags',
      spend: 'Total spend',
      lastActive: 'Last active',
    },
    purchases: '{n} purchase | {n} purchases',
    moreTags: '+{n}',
    empty: 'No contacts match',
    emptyHint: 'Loosen the filters or clear the search',
  },
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
  placeholder: {
    rules: {
      title: 'Draw “if … then tag” rules on a canvas',
      body: 'Drop in triggers, conditions and actions, preview exactly who gains or loses a tag before publishing, release to a share first, roll back any time.',
    },
    segments: {
      title: 'Save the audiences you use',
      body: 'Define audiences with the same condition builder, follow their size over time, and get alerted when one drops sharply.',
    },
    audit: {
      title: 'Every change, accounted for',
      body: 'Who changed what, when and from where, with before and after. Kept for 180 days.',
    },
  },
  time: {
    justNow: 'just now',
  },
};
export default en;
