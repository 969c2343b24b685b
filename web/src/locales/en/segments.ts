import type zh from '../zh-CN/segments';

const en: typeof zh = {
  segments: {
    title: 'Segments',
    subtitle: 'Audiences drawn with the same condition canvas, with their size right now',
    create: 'New segment',
    createFirst: 'Create your first segment',
    search: 'Search segments',
    empty: 'No saved segments yet. Draw who belongs on the canvas and always know how many there are.',
    noMatch: 'No segments match',
    name: 'Segment',
    size: 'Size now',
    invalid: 'Incomplete',
    updated: 'Last changed',
    delete: 'Delete segment',
    deleteConfirm: 'Delete “{name}”? Its daily size history goes with it.',
    namePrompt: 'Segment name',
    defaultName: 'Untitled segment',
    counted: 'Counted live in {ms} ms',
    back: 'Segments',
    save: 'Save',
    saved: 'Segment saved',
    sizeNow: '{n} contacts now',
    start: 'All contacts',
    startText: 'Start from every contact',
    end: 'Audience',
    endHint: 'Contacts reaching here form the audience ({op})',
  },
};
export default en;
