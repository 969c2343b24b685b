import { describe, expect, it } from 'vitest';
import { compileRule } from './compile';
import { compileLogic, evaluatorFor, ruleEvaluatorFor } from './evaluate';
import { UnsupportedLogicError } from './errors';
import type { RuleGraph } from './types';

const graph: RuleGraph = {
  schemaVersion: 1,
  nodes: [
    { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } },
    { id: 'c', kind: 'condition', condition: { field: 'totalSpend', op: 'gte', value: 100 } },
    { id: 'a', kind: 'action', action: { type: 'add_tag', tagId: 1 } },
    { id: 'b', kind: 'action', action: { type: 'add_tag', tagId: 2 } },
  ],
  edges: [
    { id: 'e1', source: 't', target: 'c' },
    { id: 'e2', source: 'c', target: 'a', sourceHandle: 'yes' },
    { id: 'e3', source: 'c', target: 'b', sourceHandle: 'yes' },
  ],
};

describe('closure evaluator', () => {
  it('refuses an operation it does not know when compiling, not when evaluating', () => {
    expect(() => compileLogic({ '<': [1, 2] })).toThrow(UnsupportedLogicError);
  });

  it('caches one closure per rule-version key and compiles a new key afresh', () => {
    const v1 = evaluatorFor('rule:1@v1', { sf_gt: [{ var: 'contact.totalSpend' }, 10] });
    expect(evaluatorFor('rule:1@v1', { sf_gt: [{ var: 'contact.totalSpend' }, 10] })).toBe(v1);
    const v2 = evaluatorFor('rule:1@v2', { sf_gt: [{ var: 'contact.totalSpend' }, 1000] });
    expect(v2).not.toBe(v1);
    expect(v2({ contact: { totalSpend: 500 }, now: 0 })).toBe(false);
  });

  it('evaluates a shared condition once for all the actions behind it', () => {
    const r = compileRule(graph);
    if (!r.ok) throw new Error('compile failed');
    let reads = 0;
    const contact = new Proxy({ totalSpend: 150 } as Record<string, unknown>, {
      get(target, key) {
        if (key === 'totalSpend') reads++;
        return target[key as string];
      },
    });
    const plan = ruleEvaluatorFor('rule:2@v1', r.value);
    expect(plan({ contact, now: 0 })).toEqual(['a', 'b']);
    expect(reads).toBe(1);
    // and the memo does not leak into the next contact
    expect(plan({ contact: { totalSpend: 5 }, now: 0 })).toEqual([]);
  });
});
