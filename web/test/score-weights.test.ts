import { beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import type { RuleGraph } from '@shared/rules/types';
import { MEMBER_SCORE_BANDS, MEMBER_SCORE_METRICS } from '@shared/templates/templates';
import { useRuleDocStore } from '../src/features/rule-builder/useRuleDocStore';

/** A score node with these weights, the member-score template's bands. */
function scoreRule(weights: number[]): RuleGraph {
  return {
    schemaVersion: 1,
    nodes: [
      { id: 't', kind: 'trigger', position: { x: 0, y: 0 }, trigger: { type: 'schedule', cron: '0 3 * * *' } },
      {
        id: 's',
        kind: 'score',
        position: { x: 300, y: 0 },
        metrics: MEMBER_SCORE_METRICS.map((m, i) => ({ ...m, weight: weights[i]! })),
        bands: MEMBER_SCORE_BANDS,
      },
    ],
    edges: [{ id: 'e', source: 't', target: 's' }],
  } as RuleGraph;
}
const sumErrors = () => useRuleDocStore().errors.filter((e) => e.code === 'weights_sum');

describe('score weights read as percentages, a penalty counting by its size', () => {
  beforeEach(() => setActivePinia(createPinia()));

  it('takes the member-score template (30 + 25 + 20 + 15 and a −10 penalty) as 100%', () => {
    useRuleDocStore().load(scoreRule(MEMBER_SCORE_METRICS.map((m) => m.weight)));
    expect(sumErrors()).toEqual([]);
  });

  it('still says so when the sizes do not make 100%', () => {
    useRuleDocStore().load(scoreRule([30, 25, 20, 15, -20]));
    expect(sumErrors()).toHaveLength(1);
    useRuleDocStore().load(scoreRule([30, 25, 20, 15, 0]));
    expect(sumErrors()).toHaveLength(1);
  });
});
