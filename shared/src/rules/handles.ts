import type { RuleNode } from './types';

/**
 * The output handles of a node, in display order: a condition's yes / no, a branch's cases then
 * else, a score's or band node's bands; `[undefined]` = one unnamed output, `[]` = none (an action ends the flow).
 * The compiler, the canvas and the random graphs all read handles from here.
 */
export function outputHandles(n: RuleNode): (string | undefined)[] {
  switch (n.kind) {
    case 'condition':
      return ['yes', 'no'];
    case 'branch':
      return [...n.cases.map((c) => c.id), 'else'];
    case 'score':
    case 'band':
      return n.bands.map((b) => b.id);
    case 'action':
      return [];
    default:
      return [undefined];
  }
}
