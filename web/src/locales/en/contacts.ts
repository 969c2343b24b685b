import type zh from '../zh-CN/contacts';

const en: typeof zh = {
  contacts: {
    title: 'Contacts',
    subtitle: '{total} contacts',
    subtitleFiltered: '{total} contacts match',
    searchPlaceholder: 'Name, pinyin, initials, remark or ID',
    ownerPlaceholder: 'Filter by owner',
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
      owner: 'Owner',
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
    phoneSearchLimitedTitle: 'Phone number search limit reached',
    phoneSearchLimited:
      'Phones are shown to you masked, so to stop numbers being tried one by one you may search at most {perHour} different numbers an hour and {perDay} a day, and {perMaskPerDay} a day sharing the same first 3 and last 4 digits. Searching the same number again does not count. Try again later, or search by name or remark.',
  },
};
export default en;
