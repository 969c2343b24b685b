import type zh from '../zh-CN/home';

const en: typeof zh = {
  home: {
    title: 'Overview',
    subtitle: 'Segment sizes, tag coverage, rule activity and data intake at a glance',
    subtitleScoped: 'Segment sizes, tag coverage and rule activity of {department} and the departments below it',
    loadFailed: 'The overview could not be loaded',
    took: 'Queried in {ms} ms',
    segments: {
      title: 'Segment sizes',
      // plural by the number of segments (vue-i18n: singular | plural)
      summary:
        '{n} segment, sized once a day (up to the last {days} days shown); the largest is “{name}” ({size} contacts) | {n} segments, sized once a day (up to the last {days} days shown); the largest is “{name}” ({size} contacts)',
      summaryNone: '{n} segment, not counted yet | {n} segments, not counted yet',
      open: 'Open segment',
      latest: 'Latest',
      noSnapshot: 'not counted yet',
      rest: '{n} more segments',
      empty: 'No segments yet. Create one and its size will be drawn here every day.',
      emptyAction: 'New segment',
      waiting: 'Segment sizes are counted once a day by the scheduled job; the first point appears after its first count.',
    },
    coverage: {
      title: 'Tag coverage',
      summary: '{tagged} of {contacts} contacts ({share}) hold at least one tag',
      countedAt: 'counted {at}',
      untagged: 'Untagged',
      bar: '{share} · {n}',
      legend: 'Per tag group: the share of contacts holding at least one active tag of the group',
      empty: 'No contacts yet. Import contacts or connect a data source and each tag group’s coverage appears here.',
      emptyAction: 'Import contacts',
      waiting: 'Tag coverage is counted once a day by the scheduled job and shown here afterwards.',
      openGroup: 'Open in Tags',
    },
    rules: {
      title: 'Rule activity',
      // plural by the number of published rules
      summary:
        'Rules added {added} tags and removed {removed} in the last {days} days; {published} rule published | Rules added {added} tags and removed {removed} in the last {days} days; {published} rules published',
      added: 'added',
      removed: 'removed',
      others: 'Other rules',
      empty: 'No rule added or removed a tag in the last {days} days. Publish a rule and the tags it applies each day appear here.',
      emptyAction: 'Open tagging rules',
      totals: '+{added} / −{removed}',
    },
    intake: {
      title: 'Data intake',
      // plural by the number of sources
      summary: '{n} events from {sources} source in the last {hours} hours | {n} events from {sources} sources in the last {hours} hours',
      unnamed: 'Unregistered source {id}',
      empty: 'No events in the last {hours} hours. Create a webhook source under Data sources and send events to it.',
      emptyAction: 'Open data sources',
      failures: 'Failures',
      intakeDead: '{open} intake dead letters ({recent} in the last {hours} hours)',
      outboundDead: '{n} outbound dead letters',
      outboundWaiting: '{n} outbound deliveries waiting for a retry',
      queueDepth: 'Queue backlog: a Worker cannot read a Cloudflare queue’s backlog; see it in the Cloudflare dashboard',
      open: 'Open data sources',
    },
  },
};
export default en;
