/** What a name search key belongs to (table `search_keys`; keys from ./pinyin.ts `storedKeys`). */
export const SEARCH_KINDS = ['contact', 'user', 'tag', 'rule'] as const;
export type SearchKind = (typeof SEARCH_KINDS)[number];
