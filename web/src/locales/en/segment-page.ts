import type zh from '../zh-CN/segment-page';

const en: typeof zh = {
  segmentPage: {
    back: 'Segments',
    edit: 'Edit conditions',
    export: 'Export',
    exportCsv: 'Export CSV',
    exportXlsx: 'Export Excel (XLSX)',
    exported: 'Exported {n} contacts',
    exportNote: 'The file holds the contacts you may see; phone and ID numbers are exported for super admins only.',
    exportInvalid: 'The segment’s conditions are incomplete: nothing to export yet',
    loadFailed: 'The segment could not be loaded',
    sizeNow: 'Size now',
    sizeNowHint: 'Counted live within what you may see',
    invalid: 'Incomplete',
    contacts: '{n} contacts',
    history: {
      title: 'Size over time',
      summary: 'Last {days} days: from {first} to {last} ({change})',
      summaryOne: '{size} contacts on {day}',
      none: 'No daily snapshots yet: the scheduled job counts once a day, so the line starts tomorrow.',
      unchanged: 'no change',
      scoped: 'Only the contacts of your department and the departments below it',
    },
    definition: {
      title: 'Who belongs',
      summary: 'Contacts meeting these conditions are in the segment',
      empty: 'The conditions do not reach the End node yet: edit them first.',
    },
    words: {
      everyone: 'Every contact',
      all: 'All of:',
      any: 'Any of:',
      none: 'None of:',
      notLeaf: 'Not: {text}',
      nobody: '(nothing connected)',
      score: 'Score in band “{label}” {range}',
    },
    overlap: {
      title: 'Overlap with another segment',
      pick: 'Pick another segment',
      hint: 'Pick a segment to see how many contacts are in both, in either, and in only one of them.',
      both: 'In both',
      either: 'In either',
      onlyA: 'Only in “{name}”',
      onlyB: 'Only in “{name}”',
      summary: '{share} of “{a}” are also in “{b}”',
      took: 'Counted live in {ms} ms',
      invalid: '(incomplete)',
    },
  },
};
export default en;
