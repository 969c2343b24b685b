import { describe, expect, it } from 'vitest';
import { collectDemo } from '../demo';
import type { EventType } from '../domain';
import { compileRule } from './compile';
import { evalDataFromRows } from './data';
import { compileLogic, compileRulePlan, evaluatorFor, ruleEvaluatorFor } from './evaluate';
import { UnsupportedLogicError } from './errors';
import { applyReference } from './jsonlogic';
import { randomGraph, SeededRandom, type GraphVocabulary } from './random-graph';
import type { EvalData, RuleGraph, TriggerEvent } from './types';

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

describe('plan evaluator', () => {
  const NOW = 1_773_540_000_000; // 2026-03-15 10:00 Asia/Shanghai
  const TZ = 480;
  const demo = collectDemo({ contacts: 200, seed: 7, now: NOW, avgEvents: 10 });
  const contacts: EvalData[] = demo.contacts.map((c) =>
    evalDataFromRows(
      {
        contact: c as unknown as Record<string, unknown>,
        tagIds: demo.contactTags.filter((t) => t.contact_id === c.id).map((t) => t.tag_id),
        stats: demo.dailyStats.filter((s) => s.contact_id === c.id),
        events: demo.events.filter((e) => e.contact_id === c.id),
      },
      NOW,
      TZ,
    ),
  );
  const values: GraphVocabulary['values'] = {};
  const customValues: GraphVocabulary['customValues'] = {};
  for (const d of contacts) {
    for (const [k, v] of Object.entries(d.contact)) if (typeof v === 'string' || typeof v === 'number') (values[k] ??= []).push(v);
    for (const [k, v] of Object.entries(d.contact.custom as Record<string, unknown>)) {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') (customValues[k] ??= []).push(v);
    }
  }
  const vocab: GraphVocabulary = {
    values,
    customValues,
    tagIds: [...new Set(demo.contactTags.map((t) => t.tag_id))].sort((a, b) => a - b),
    customFields: demo.customFields.map((f) => ({ key: f.key, labelZh: f.label_zh, labelEn: f.label_en, type: f.type })),
    eventChannels: [...new Set(demo.events.map((e) => e.channel).filter((c): c is string => !!c))],
    keywords: [
      ...new Set(demo.events.filter((e) => e.type === 'message' && e.text).map((e) => [...(e.text as string)].slice(0, 2).join(''))),
    ],
  };

  /**
   * Contacts where the plan and json-logic-js on `rule.logic` fire different actions (or in
   * another order): the plan as compiled (a decision tree) and as the action loop it falls back to.
   */
  const disagreements = (graph: RuleGraph, event: TriggerEvent | null = null): string[] => {
    const compiled = compileRule(graph, { customFields: vocab.customFields });
    if (!compiled.ok) throw new Error(JSON.stringify(compiled.errors));
    const tree = compileRulePlan(compiled.value);
    const loop = compileRulePlan(compiled.value, { maxDecisions: 0 });
    const out: string[] = [];
    for (const c of contacts) {
      const data = { ...c, event };
      const want = (applyReference(compiled.value.logic, data) as string[]).join();
      const got = tree(data).join();
      if (got !== want) out.push(`contact ${String(c.contact.id)}: plan [${got}], json-logic-js [${want}]`);
      const looped = loop(data).join();
      if (looped !== want) out.push(`contact ${String(c.contact.id)}: plan's action loop [${looped}], json-logic-js [${want}]`);
    }
    return out;
  };

  it('fires exactly the actions json-logic-js does, in node order, on 400 random graphs (tree and loop)', () => {
    for (let seed = 1; seed <= 400; seed++) {
      const r = new SeededRandom(seed);
      const eventType = r.chance(0.3) ? r.pick<EventType>(['message', 'purchase', 'qr_scan']) : undefined;
      const graph = randomGraph(r, vocab, { maxNodes: 8, ...(eventType ? { eventType } : {}) });
      const event: TriggerEvent | null = eventType
        ? {
            type: eventType,
            text: r.chance(0.8) ? r.pick(vocab.keywords) : null,
            channel: r.chance(0.5) ? r.pick(vocab.eventChannels) : null,
            amount: r.chance(0.5) ? r.int(0, 50) * 1000 : null,
          }
        : null;
      expect(disagreements(graph, event).slice(0, 3), `seed ${seed}: ${JSON.stringify(graph)}`).toEqual([]);
    }
  });

  it('agrees on a rule with more independent actions than its decision tree allows (the action loop)', () => {
    // Eight actions behind eight unrelated conditions: a tree would need 2^8 − 1 decisions.
    const fields = [
      'messageCount',
      'purchaseCount',
      'totalSpend',
      'inviteCount',
      'violationCount',
      'messageCount',
      'purchaseCount',
      'totalSpend',
    ];
    const nodes: RuleGraph['nodes'] = [{ id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } }];
    const edges: RuleGraph['edges'] = [];
    fields.forEach((field, i) => {
      const seen = (values[field] ?? [0]).filter((v): v is number => typeof v === 'number').sort((a, b) => a - b);
      nodes.push({
        id: `c${i}`,
        kind: 'condition',
        condition: { field, op: 'gte', value: seen[Math.floor((seen.length * (i + 1)) / 10)] ?? 1 },
      });
      nodes.push({ id: `a${i}`, kind: 'action', action: { type: 'add_tag', tagId: vocab.tagIds[i % vocab.tagIds.length] as number } });
      edges.push({ id: `e${i}`, source: 't', target: `c${i}` }, { id: `f${i}`, source: `c${i}`, target: `a${i}`, sourceHandle: 'yes' });
    });
    const graph: RuleGraph = { schemaVersion: 1, nodes, edges };
    expect(disagreements(graph)).toEqual([]);
    const compiled = compileRule(graph, { customFields: vocab.customFields });
    if (!compiled.ok) throw new Error('compile failed');
    const plan = compileRulePlan(compiled.value);
    // Several actions fire for some contacts: the loop's multi-action arrays were exercised.
    expect(contacts.some((c) => plan(c).length > 1)).toBe(true);
  });

  it('returns the same array for contacts that fire the same actions (nothing allocated per contact)', () => {
    const r = compileRule(graph);
    if (!r.ok) throw new Error('compile failed');
    const plan = compileRulePlan(r.value);
    const first = plan({ contact: { totalSpend: 150 }, now: 0 });
    expect(first).toEqual(['a', 'b']);
    expect(plan({ contact: { totalSpend: 900 }, now: 0 })).toBe(first);
  });
});

describe('plan evaluator, decision tree', () => {
  it('computes a score once however many bands it has, and fires the one band it falls in', () => {
    const bands: RuleGraph = {
      schemaVersion: 1,
      nodes: [
        { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } },
        {
          id: 's',
          kind: 'score',
          metrics: [{ field: 'messageCount', weight: 100, cap: 100 }],
          bands: [
            { id: 'hi', min: 60, max: null },
            { id: 'mid', min: 30, max: 60 },
            { id: 'lo', min: 0, max: 30 },
          ],
        },
        { id: 'a_hi', kind: 'action', action: { type: 'add_tag', tagId: 1 } },
        { id: 'a_mid', kind: 'action', action: { type: 'add_tag', tagId: 2 } },
        { id: 'a_lo', kind: 'action', action: { type: 'add_tag', tagId: 3 } },
      ],
      edges: [
        { id: 'e0', source: 't', target: 's' },
        { id: 'e1', source: 's', target: 'a_hi', sourceHandle: 'hi' },
        { id: 'e2', source: 's', target: 'a_mid', sourceHandle: 'mid' },
        { id: 'e3', source: 's', target: 'a_lo', sourceHandle: 'lo' },
      ],
    };
    const r = compileRule(bands);
    if (!r.ok) throw new Error('compile failed');
    const plan = compileRulePlan(r.value);
    let reads = 0;
    const counted = (messageCount: unknown) =>
      new Proxy({ messageCount } as Record<string, unknown>, {
        get(target, key) {
          if (key === 'messageCount') reads++;
          return target[key as string];
        },
      });
    expect(plan({ contact: counted(10), now: 0 })).toEqual(['a_lo']);
    expect(plan({ contact: counted(30), now: 0 })).toEqual(['a_mid']);
    expect(plan({ contact: counted(59.5), now: 0 })).toEqual(['a_mid']);
    expect(plan({ contact: counted(60), now: 0 })).toEqual(['a_hi']);
    expect(reads).toBe(4);
    // Not a number: a score of 0, the lowest band, as json-logic-js says.
    expect(plan({ contact: counted('many'), now: 0 })).toEqual(
      applyReference(r.value.logic, { contact: { messageCount: 'many' }, now: 0 }),
    );
  });
});
