import { describe, expect, it } from 'vitest';
import { compileRule } from '@shared/rules/compile';
import { explainRule } from '@shared/rules/explain';
import type { RuleGraph } from '@shared/rules/types';
import { trialView } from '../src/features/rule-builder/trial';

const NOW = 1_773_540_000_000;
const words = { elseCase: 'else', caseN: (n: number) => `case ${n}`, score: (v: string) => `score ${v}` };

/** t → branch (广东 | spend ≥ ¥1,000 | else); case 2 and a gender test meet in an AND; else → score bands. */
const graph: RuleGraph = {
  schemaVersion: 1,
  nodes: [
    { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } },
    {
      id: 'br',
      kind: 'branch',
      cases: [
        { id: 'c1', condition: { field: 'region', op: 'eq', value: '广东' } },
        { id: 'c2', condition: { field: 'totalSpend', op: 'gte', value: 100000 } },
      ],
    },
    { id: 'female', kind: 'condition', condition: { field: 'gender', op: 'eq', value: 'female' } },
    { id: 'and', kind: 'logic', op: 'and' },
    {
      id: 'sc',
      kind: 'score',
      metrics: [{ field: 'purchaseCount', weight: 100, cap: 10 }],
      bands: [
        { id: 'low', min: 0, max: 50 },
        { id: 'high', label: '高', min: 50, max: null },
      ],
    },
    { id: 'a1', kind: 'action', action: { type: 'add_tag', tagId: 1 } },
    { id: 'a2', kind: 'action', action: { type: 'add_tag', tagId: 2 } },
    { id: 'a3', kind: 'action', action: { type: 'add_tag', tagId: 3 } },
  ],
  edges: [
    { id: 'e1', source: 't', target: 'br' },
    { id: 'e2', source: 'br', target: 'a1', sourceHandle: 'c1' },
    { id: 'e3', source: 'br', target: 'and', sourceHandle: 'c2' },
    { id: 'e4', source: 't', target: 'female' },
    { id: 'e5', source: 'female', target: 'and', sourceHandle: 'yes' },
    { id: 'e6', source: 'and', target: 'a2' },
    { id: 'e7', source: 'br', target: 'sc', sourceHandle: 'else' },
    { id: 'e8', source: 'sc', target: 'a3', sourceHandle: 'high' },
  ],
};
const compiled = compileRule(graph);
if (!compiled.ok) throw new Error(JSON.stringify(compiled.errors));
const rule = compiled.value;
const tryOn = (contact: Record<string, unknown>) => trialView(graph, 7, explainRule(rule, { contact, tags: [], now: NOW }), words);

describe('trialView: each node’s verdict for one contact', () => {
  it('a branch names the case taken; an AND that only one input reaches has not passed; nodes off the path are not reached', () => {
    const v = tryOn({ region: '上海', totalSpend: 150000, gender: 'male', purchaseCount: 0 });
    expect(v.verdicts).toEqual({
      t: { state: 'passed' },
      br: { state: 'passed', detail: 'case 2' },
      female: { state: 'failed' },
      and: { state: 'failed' },
      sc: { state: 'unreached' },
      a1: { state: 'unreached' },
      a2: { state: 'unreached' },
      a3: { state: 'unreached' },
    });
    expect(
      Object.entries(v.edges)
        .filter(([, on]) => on)
        .map(([id]) => id)
        .sort(),
    ).toEqual(['e1', 'e3', 'e4']);
  });

  it('the else arm is "not passed" with its word, and a score shows the value and the band label', () => {
    const v = tryOn({ region: '北京', totalSpend: 0, gender: 'female', purchaseCount: 8 });
    expect(v.verdicts.br).toEqual({ state: 'failed', detail: 'else' });
    expect(v.verdicts.sc).toEqual({ state: 'passed', detail: 'score 80.0 · 高' });
    expect(v.verdicts.a3).toEqual({ state: 'passed' });
    expect(v.verdicts.and).toEqual({ state: 'failed' });
    expect(v.edges.e8).toBe(true);
  });
});
