import type zh from '../zh-CN/contacts';

const en: typeof zh = {
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
};
export default en;
