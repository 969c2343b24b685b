import type zh from '../zh-CN/band';

const en: typeof zh = {
  band: {
    group: 'Exclusive tag group',
    groupPlaceholder: 'Pick an exclusive group; its tags go to the bands in order',
    groupHint: 'A contact lands in one band and gets its tag; other tags of the group are replaced.',
    noGroups: 'No exclusive tag group yet: create one under Tags first',
    notAllowed: 'You may not apply this group’s tags by hand',
    factors: 'Score factors',
    noFactors: 'No factors yet: click the measures to count below',
    addFactor: 'Click to add a factor',
    measures: { fields: 'Contact fields', counts: 'Event counts, last 30 days', amounts: 'Amounts, last 30 days', custom: 'Custom fields' },
    measureCount: '{type} count',
    measureAmount: '{type} amount',
    weight: 'Weight',
    cap: 'Full at',
    penalty: 'Penalty',
    norm: 'Scaled as min(value, {cap}) ÷ {cap}: {cap} or more earns the full {w} points',
    normPenalty: 'Scaled as min(value, {cap}) ÷ {cap}: {cap} or more takes the full {w} points off',
    bands: 'Bands and tags',
    bandsHint: 'Bands meet end to end: the lower bound is included, the upper is not; below the lowest band, no tag.',
    from: 'from',
    to: 'to',
    tag: 'Tag',
    pickTag: 'Pick a tag',
    atLeast: '≥ {min}',
    below: '< {max}',
    range: '{min} – {max}',
    addBand: 'Add band',
    why: {
      total: 'Total {n}',
      band: 'Band: {band}',
      noBand: 'In no band',
      factor: 'Factor',
      value: 'Value',
      contribution: 'Points',
      missing: '(missing, counts 0)',
    },
  },
};

export default en;
