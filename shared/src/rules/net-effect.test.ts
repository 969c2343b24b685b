import { describe, expect, it } from 'vitest';
import type { CompiledAction } from './compile';
import { netChange, netPlanOver } from './net-effect';

const add = (nodeId: string, tagId: number): CompiledAction => ({ nodeId, action: { type: 'add_tag', tagId } });
const remove = (nodeId: string, tagId: number): CompiledAction => ({ nodeId, action: { type: 'remove_tag', tagId } });
// tags 1–3: exclusive group 10; tag 4: a plain group 20; tag 5: group 10 too, named by no action
const TAGS = [
  { id: 1, groupId: 10, exclusive: true },
  { id: 2, groupId: 10, exclusive: true },
  { id: 3, groupId: 10, exclusive: true },
  { id: 4, groupId: 20, exclusive: false },
  { id: 5, groupId: 10, exclusive: true },
];

describe('netChange', () => {
  it('lets a removal win over an addition of the same tag', () => {
    const plan = netPlanOver([add('a', 4), remove('r', 4)], TAGS);
    expect(netChange(plan, ['a', 'r'])).toEqual({ add: [], remove: [4] });
    expect(netChange(plan, ['a'])).toEqual({ add: [4], remove: [] });
    expect(plan.conflicts).toEqual([{ kind: 'add_remove', nodeIds: ['a', 'r'], winner: 'r' }]);
  });

  it('adds one tag per exclusive group: the first add action’s tag, in node order', () => {
    const plan = netPlanOver([add('x', 2), add('y', 1), add('z', 4)], TAGS);
    expect(netChange(plan, ['y', 'x', 'z'])).toEqual({ add: [2, 4], remove: [] });
    expect(netChange(plan, ['y', 'z'])).toEqual({ add: [1, 4], remove: [] });
    expect(plan.conflicts).toEqual([{ kind: 'exclusive', nodeIds: ['x', 'y'], winner: 'x' }]);
  });

  it('gives the group to the next tag when the first one is also removed', () => {
    const plan = netPlanOver([add('x', 2), add('y', 1), remove('r', 2)], TAGS);
    expect(netChange(plan, ['x', 'y', 'r'])).toEqual({ add: [1], remove: [2] });
  });

  it('plans the group’s other tags, which only displacement can take away', () => {
    const plan = netPlanOver([add('x', 2)], TAGS);
    expect(plan.tags.map((t) => [t.tagId, t.addNodes, t.removeNodes])).toEqual([
      [2, ['x'], []],
      [1, [], []],
      [3, [], []],
      [5, [], []],
    ]);
    expect(netChange(plan, ['x'])).toEqual({ add: [2], remove: [] });
  });
});
