import type zh from '../zh-CN/common';

import { ENUM_VALUE_LABELS, wordsIn } from '@shared/rules/labels';

const en: typeof zh = {
  app: {
    name: 'Segflow',
    tagline: 'Tags & segments',
    language: 'Language',
  },
  nav: {
    home: 'Overview',
    rules: 'Tagging rules',
    segments: 'Segments',
    contacts: 'Contacts',
    tags: 'Tags',
    audit: 'Audit log',
    people: 'People',
    sources: 'Data sources',
    publishing: 'Approvals',
    rollback: 'Rollback',
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
    confirm: 'Confirm',
    failed: 'Failed: {message}',
    cancel: 'Cancel',
    comingSoon: 'Coming soon',
  },
  contactKind: wordsIn(ENUM_VALUE_LABELS.kind, 'en'),
  gender: wordsIn(ENUM_VALUE_LABELS.gender, 'en'),
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
