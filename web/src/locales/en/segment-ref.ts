/** Conditions on segments and department subtrees: "In segment "X"", "Department is "East" or below". */
export default {
  segmentRef: {
    usedBy: 'Rules or segments refer to this segment, so it cannot be deleted: {names}. Remove those conditions first.',
    usedByRule: 'rule “{name}”',
    usedBySegment: 'segment “{name}”',
    listSeparator: ', ',
    picker: 'Choose a segment',
    none: 'No segments you can refer to',
    size: '{n} contacts',
    sizeUnknown: 'unfinished',
    inText: 'In segment “{name}”',
    notInText: 'Not in segment “{name}”',
    deptTreeText: '{field} is “{dept}” or any department under it',
    cycle: 'Segments {path} form a loop',
    pickHint: 'Uses the segment as it is defined now: when it is edited, this follows, with no republish',
    deptTreeHint: 'The chosen department and every department under it (including ones created later)',
  },
};
