import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { demoSql } from '../../shared/src/demo';
import { compileRule, formulaToLogic } from '../../shared/src/rules/compile';
import { evalDataFromRows } from '../../shared/src/rules/data';
import { compileLogic, compileRulePlan, truthy } from '../../shared/src/rules/evaluate';
import { applyReference } from '../../shared/src/rules/jsonlogic';
import { randomGraph, SeededRandom, type GraphVocabulary } from '../../shared/src/rules/random-graph';
import type { EvalData, TriggerEvent } from '../../shared/src/rules/types';
import type { EventType } from '../../shared/src/domain';
import { buildPreviewCountPlan, fillCounts, type PlanTuning } from '../../shared/src/rules/preview-counts';
import { runPreview } from '../src/rules/preview';

/**
 * Differential fuzz: random valid graphs over the demo data. For each, the SQL preview's
 * counts (matched, per node, per edge, gain / lose per action) must equal what json-logic-js
 * and the closure evaluator say contact by contact — for both SQL strategies: the conjunction
 * counts (`preview-counts.ts`, the default) and the one statement (`buildPreviewQuery`).
 * Seeded: a failure names its seed, and rerunning reproduces it.
 */
const NOW = 1_773_540_000_000; // 2026-03-15 10:00 Asia/Shanghai
const TZ = 480;
const CONTACTS = 300;
const GRAPHS = 300;

let contacts: EvalData[] = [];
let vocab: GraphVocabulary;
/** Matched count per seed: the suite is only worth something if graphs select varied subsets. */
const matchedBySeed: number[] = [];
/** Seeds whose default preview ran as conjunction counts (not the one-statement fallback). */
let countPlans = 0;
/** Seeds whose second round counted some held tag from the other tests' side (EXISTS), or by walking the tag index. */
let secondExists = 0;
let secondWalk = 0;
/** Seeds where an action's gain / lose / holders count was not zero: the held-tag atoms were exercised. */
let heldNonZero = 0;

beforeAll(async () => {
  const statements = [...demoSql({ contacts: CONTACTS, seed: 42, now: NOW, avgEvents: 10 })];
  for (let i = 0; i < statements.length; i += 50) await env.DB.batch(statements.slice(i, i + 50).map((s) => env.DB.prepare(s)));

  // Read the contacts back from D1: the JS side sees exactly the rows SQL sees.
  const db = env.DB;
  const [rows, tags, stats, events, custom] = await Promise.all([
    db.prepare('SELECT * FROM contacts ORDER BY id').all<Record<string, unknown>>(),
    db.prepare('SELECT contact_id, tag_id FROM contact_tags').all<{ contact_id: number; tag_id: number }>(),
    db.prepare('SELECT contact_id, type, day, count, amount FROM contact_daily_stats').all<{ contact_id: number; type: string; day: number; count: number; amount: number }>(),
    db.prepare('SELECT contact_id, type, occurred_at, amount, channel, text FROM events').all<{ contact_id: number; type: string; occurred_at: number; amount: number | null; channel: string | null; text: string | null }>(),
    db.prepare('SELECT key, label_zh, label_en, type FROM custom_fields').all<{ key: string; label_zh: string; label_en: string; type: 'text' | 'number' | 'date' | 'boolean' | 'list' }>(),
  ]);
  const group = <T extends { contact_id: number }>(list: T[]) => {
    const m = new Map<number, T[]>();
    for (const x of list) m.set(x.contact_id, [...(m.get(x.contact_id) ?? []), x]);
    return m;
  };
  const tagsBy = group(tags.results);
  const statsBy = group(stats.results);
  const eventsBy = group(events.results);
  contacts = rows.results.map((c) =>
    evalDataFromRows(
      {
        contact: c,
        tagIds: (tagsBy.get(c.id as number) ?? []).map((t) => t.tag_id),
        stats: statsBy.get(c.id as number) ?? [],
        events: eventsBy.get(c.id as number) ?? [],
      },
      NOW,
      TZ,
    ),
  );

  const values: GraphVocabulary['values'] = {};
  const customValues: GraphVocabulary['customValues'] = {};
  for (const d of contacts) {
    for (const [k, v] of Object.entries(d.contact)) {
      if (typeof v === 'string' || typeof v === 'number') (values[k] ??= []).push(v);
    }
    for (const [k, v] of Object.entries(d.contact.custom as Record<string, unknown>)) {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') (customValues[k] ??= []).push(v);
    }
  }
  const messageTexts = events.results.filter((e) => e.type === 'message' && e.text).map((e) => e.text as string);
  vocab = {
    values,
    customValues,
    tagIds: [...new Set(tags.results.map((t) => t.tag_id))].sort((a, b) => a - b),
    customFields: custom.results.map((f) => ({ key: f.key, labelZh: f.label_zh, labelEn: f.label_en, type: f.type })),
    eventChannels: [...new Set(events.results.map((e) => e.channel).filter((c): c is string => !!c))],
    keywords: [...new Set(messageTexts.map((t) => [...t].slice(0, 2).join('')))],
  };
}, 60_000);

describe('differential fuzz: SQL counts equal json-logic-js and closure counts', () => {
  it('loaded the demo contacts', () => {
    expect(contacts.length).toBe(CONTACTS);
    expect(vocab.tagIds.length).toBeGreaterThan(0);
  });

  for (let seed = 1; seed <= GRAPHS; seed++) {
    it(`seed ${seed}`, async () => {
      const r = new SeededRandom(seed);
      const eventType = r.chance(0.3) ? r.pick<EventType>(['message', 'purchase', 'qr_scan']) : undefined;
      const graph = randomGraph(r, vocab, eventType ? { eventType } : {});
      const event: TriggerEvent | null = eventType
        ? {
            type: eventType,
            text: r.chance(0.8) ? `${r.pick(vocab.keywords)}${r.pick(vocab.keywords)}` : null,
            channel: r.chance(0.5) ? r.pick(vocab.eventChannels) : null,
            amount: r.chance(0.5) ? r.int(0, 50) * 1000 : null,
          }
        : null;
      const compiled = compileRule(graph, { customFields: vocab.customFields });
      if (!compiled.ok) throw new Error(`seed ${seed}: ${JSON.stringify(compiled.errors)}\n${JSON.stringify(graph)}`);
      const rule = compiled.value;

      const ctx = { now: NOW, tzOffsetMinutes: TZ, event };
      const sql = await runPreview(env.DB, rule, ctx);
      if (!sql.ok) throw new Error(JSON.stringify(sql.errors));
      const single = await runPreview(env.DB, rule, ctx, { strategy: 'single' });
      if (!single.ok) throw new Error(JSON.stringify(single.errors));
      const countPlan = buildPreviewCountPlan(rule, ctx);
      if (countPlan?.ok) {
        countPlans++;
        // Which forms the second round picked from the first round's sizes.
        const counts = new Array<number>(countPlan.value.size).fill(0);
        const { first, second } = countPlan.value;
        const res = await env.DB.batch<{ counts: string }>(first.statements.map((s) => env.DB.prepare(s.sql).bind(...s.params)));
        fillCounts(first, res.map((r) => r.results[0]?.counts), counts);
        const later = second?.(counts).statements.map((s) => s.sql).join(';') ?? '';
        if (later.includes('EXISTS (SELECT 1 FROM contact_tags ct')) secondExists++;
        if (later.includes('FROM contact_tags ht CROSS JOIN')) secondWalk++;
      }

      const full = compileLogic(rule.logic);
      const plan = compileRulePlan(rule);
      const perNode = Object.entries(rule.nodeLogic).map(([id, logic]) => [id, compileLogic(logic)] as const);
      const testsById = new Map(rule.tests.map((t) => [t.id, t]));
      const perEdge = Object.entries(rule.edgeFlow).map(([id, f]) => [id, compileLogic(formulaToLogic(f, testsById))] as const);
      const edgeCounts: Record<string, number> = {};
      let matchedRef = 0;
      let matchedFast = 0;
      let matchedPlan = 0;
      const firedMismatch: string[] = [];
      const nodeCounts: Record<string, number> = {};
      const actionCounts: Record<string, { gain?: number; lose?: number; holdersNotMatched?: number }> = {};
      for (const a of rule.actions) actionCounts[a.nodeId] = a.action.type === 'add_tag' ? { gain: 0, holdersNotMatched: 0 } : { lose: 0 };
      for (const c of contacts) {
        const data = { ...c, event };
        const ref = applyReference(rule.logic, data) as string[];
        if (ref.length > 0) matchedRef++;
        if ((full(data) as unknown[]).length > 0) matchedFast++;
        const fired = plan(data);
        if (fired.length > 0) matchedPlan++;
        // The plan fires exactly the actions json-logic-js does, in the same (node) order.
        if (fired.join() !== ref.join()) firedMismatch.push(`contact ${String(c.contact.id)}: plan [${fired.join()}], json-logic-js [${ref.join()}]`);
        for (const [id, f] of perNode) if (truthy(f(data))) nodeCounts[id] = (nodeCounts[id] ?? 0) + 1;
        for (const [id, f] of perEdge) if (truthy(f(data))) edgeCounts[id] = (edgeCounts[id] ?? 0) + 1;
        for (const a of rule.actions) {
          const reached = ref.includes(a.nodeId);
          const holds = (data.tags ?? []).includes(a.action.tagId);
          const n = actionCounts[a.nodeId] as { gain?: number; lose?: number; holdersNotMatched?: number };
          if (a.action.type === 'add_tag') {
            if (reached && !holds) n.gain = (n.gain ?? 0) + 1;
            if (holds && !reached) n.holdersNotMatched = (n.holdersNotMatched ?? 0) + 1;
          } else if (reached && holds) n.lose = (n.lose ?? 0) + 1;
        }
      }
      const ctxMsg = `seed ${seed}: ${JSON.stringify(graph)}`;
      expect(sql.value.total, ctxMsg).toBe(CONTACTS);
      expect(matchedFast, ctxMsg).toBe(matchedRef);
      expect(matchedPlan, ctxMsg).toBe(matchedRef);
      expect(firedMismatch.slice(0, 5), ctxMsg).toEqual([]);
      expect(sql.value.matched, ctxMsg).toBe(matchedRef);
      matchedBySeed.push(matchedRef);
      for (const id of Object.keys(rule.nodeLogic)) expect(sql.value.nodes[id] ?? 0, `${ctxMsg} node ${id}`).toBe(nodeCounts[id] ?? 0);
      for (const id of Object.keys(rule.edgeFlow)) expect(sql.value.edges[id] ?? 0, `${ctxMsg} edge ${id}`).toBe(edgeCounts[id] ?? 0);
      expect(sql.value.actions, ctxMsg).toEqual(actionCounts);
      if (Object.values(actionCounts).some((a) => (a.gain ?? 0) + (a.lose ?? 0) + (a.holdersNotMatched ?? 0) > 0)) heldNonZero++;
      // Both SQL strategies, column for column.
      const { rowsRead: _a, ...counted } = sql.value;
      const { rowsRead: _b, ...countedSingle } = single.value;
      expect(counted, ctxMsg).toEqual(countedSingle);
      // Every way of writing the held-tag counts: one batch by the narrowing rule, each form
      // forced in both rounds, and two rounds without the merge or without the narrowing (the
      // default picks per count by size: not every seed meets every form).
      const tunings: PlanTuning[] = [{ rounds: 1 }, { held: 'walk' }, { held: 'exists' }, { held: 'in' }, { held: 'merge' }, { merge: false }, { narrow: false }];
      for (const tuning of tunings) {
        const other = await runPreview(env.DB, rule, ctx, tuning);
        if (!other.ok) throw new Error(JSON.stringify(other.errors));
        const { rowsRead: _c, ...countedOther } = other.value;
        expect(countedOther, `${ctxMsg} ${JSON.stringify(tuning)}`).toEqual(countedSingle);
      }
      // Within a scope (as a department's or a gray share's preview): holder counts on the tag
      // index are unscoped sizes, held conjunctions never merge.
      const scope = { sql: 'c.bucket < ?', params: [6000] };
      const scoped = await runPreview(env.DB, rule, ctx, { scope });
      const scopedSingle = await runPreview(env.DB, rule, ctx, { scope, strategy: 'single' });
      if (!scoped.ok || !scopedSingle.ok) throw new Error('scoped preview failed');
      const { rowsRead: _d, ...countedScoped } = scoped.value;
      const { rowsRead: _e, ...countedScopedSingle } = scopedSingle.value;
      expect(countedScoped, `${ctxMsg} scoped`).toEqual(countedScopedSingle);
    });
  }

  it('drew graphs that select proper, varied subsets (not all-or-nothing)', () => {
    const partial = matchedBySeed.filter((m) => m > 0 && m < CONTACTS).length;
    expect(partial).toBeGreaterThan(GRAPHS * 0.4);
    expect(new Set(matchedBySeed).size).toBeGreaterThan(50);
  });

  it('ran most previews as conjunction counts, with held tags that mattered', () => {
    expect(countPlans).toBeGreaterThan(GRAPHS * 0.8);
    expect(heldNonZero).toBeGreaterThan(GRAPHS * 0.3);
  });

  it('met both held-tag forms in the second round, chosen by size', () => {
    expect(secondExists).toBeGreaterThan(GRAPHS * 0.1);
    expect(secondWalk).toBeGreaterThan(GRAPHS * 0.1);
  });
});
