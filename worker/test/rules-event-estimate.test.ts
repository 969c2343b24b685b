import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileRule, formulaToLogic } from '@shared/rules/compile';
import { compileLogic, truthy } from '@shared/rules/evaluate';
import { applyReference } from '@shared/rules/jsonlogic';
import { randomGraph, SeededRandom, type GraphVocabulary } from '@shared/rules/random-graph';
import { netChange, netPlanOver, type NetPlan, type TagRow } from '@shared/rules/net-effect';
import type { EvalData, EventRow, RuleGraph } from '@shared/rules/types';
import type { EventType } from '@shared/domain';
import { ESTIMATE_DAYS } from '@shared/api/rules';
import { DAY_MS } from '@shared/time';
import { runPreview } from '../src/rules/preview';
import { recentEventsFor } from '../src/rules/rule-preview';
import { applyChanges, type RuleChange } from '../src/execution/evaluate';
import type { TagInfo } from '../src/execution/published';
import { loadDemoContacts } from './demo-contacts';

/**
 * Differential test of the estimate an event rule that reads its event is previewed with
 * (issue 18: "honest event-rule previews"): the SQL counts over (contact, past trigger event)
 * rows must equal, contact by contact, what json-logic-js says when each of the contact's own
 * events of the trigger's type in the last ESTIMATE_DAYS days is taken as the triggering event:
 * a contact counts for a node, an edge, a tag's gain / lose / kept or a conflict when at least
 * one of those events puts it there. Random event rules over the demo data, seeded.
 */
const NOW = 1_773_540_000_000; // 2026-03-15 10:00 Asia/Shanghai
const TZ = 480;
const CONTACTS = 300;
const GRAPHS = 120;

let contacts: EvalData[] = [];
let vocab: GraphVocabulary;
let tagRows: TagRow[] = [];
let tagInfo = new Map<number, TagInfo>();
/** How many seeds estimated a rule with someone matched, and with someone not matched among those with events. */
let someMatched = 0;
let someMissed = 0;

beforeAll(async () => {
  ({ contacts, vocab, tagRows, tagInfo } = await loadDemoContacts({ contacts: CONTACTS, seed: 7, now: NOW, avgEvents: 12, tz: TZ }));
}, 60_000);

/** Per tag, whether the contact gains, loses or keeps it when `fired` fire (the webhook path's in-memory net change). */
function tagEffects(plan: NetPlan, held: readonly number[], fired: readonly string[]) {
  const net = netChange(plan, fired);
  const asked: RuleChange[] = [
    ...net.remove.map((tagId) => ({ tagId, op: 'remove' as const, ruleId: 1, ruleVersion: 1 })),
    ...net.add.map((tagId) => ({ tagId, op: 'add' as const, ruleId: 1, ruleVersion: 1 })),
  ];
  const after = new Set(held);
  applyChanges(after, asked, tagInfo, new Map());
  const out: string[] = [];
  for (const t of plan.tags) {
    const had = held.includes(t.tagId);
    const has = after.has(t.tagId);
    if (!had && has) out.push(`gain:${t.tagId}`);
    if (had && !has) out.push(`lose:${t.tagId}`);
    if (t.addNodes.length > 0 && had && has && !net.add.includes(t.tagId)) out.push(`kept:${t.tagId}`);
  }
  plan.conflicts.forEach((c, i) => {
    if (fired.includes(c.nodeIds[0]) && fired.includes(c.nodeIds[1])) out.push(`conflict:${i}`);
  });
  return out;
}

/** A random event rule that reads its event (a keyword, an event filter): the kind previewed by estimate. */
function eventRuleOf(seed: number): { graph: RuleGraph; eventType: EventType } | null {
  const r = new SeededRandom(seed);
  const eventType = r.pick<EventType>(['message', 'purchase', 'qr_scan']);
  const graph = randomGraph(r, vocab, { eventType });
  const compiled = compileRule(graph, { customFields: vocab.customFields });
  if (!compiled.ok) throw new Error(`seed ${seed}: ${JSON.stringify(compiled.errors)}`);
  return recentEventsFor(compiled.value, NOW) ? { graph, eventType } : null;
}

describe('event rules that read their event are previewed by their past events', () => {
  it('loaded the demo contacts and their events', () => {
    expect(contacts.length).toBe(CONTACTS);
    expect(vocab.keywords.length).toBeGreaterThan(0);
  });

  let estimated = 0;
  for (let seed = 1; seed <= GRAPHS; seed++) {
    it(`seed ${seed}`, async () => {
      const drawn = eventRuleOf(seed);
      if (!drawn) return; // a rule that applies now is previewed as it applies (rules-fuzz.test.ts)
      estimated++;
      const rule = (compileRule(drawn.graph, { customFields: vocab.customFields }) as Extract<ReturnType<typeof compileRule>, { ok: true }>)
        .value;
      const recent = recentEventsFor(rule, NOW)!;
      expect(recent).toEqual({ type: drawn.eventType, days: ESTIMATE_DAYS, fromMs: NOW - ESTIMATE_DAYS * DAY_MS, toMs: NOW });
      const net = netPlanOver(rule.actions, tagRows);
      const sql = await runPreview(env.DB, rule, { now: NOW, tzOffsetMinutes: TZ, recentEvents: recent }, { net });
      if (!sql.ok) throw new Error(JSON.stringify(sql.errors));

      const perNode = Object.entries(rule.nodeLogic).map(([id, logic]) => [id, compileLogic(logic)] as const);
      const testsById = new Map(rule.tests.map((t) => [t.id, t]));
      const perEdge = Object.entries(rule.edgeFlow).map(([id, f]) => [id, compileLogic(formulaToLogic(f, testsById))] as const);
      const count = new Map<string, number>();
      const bump = (keys: Set<string>) => keys.forEach((k) => count.set(k, (count.get(k) ?? 0) + 1));
      let withEvents = 0;
      for (const c of contacts) {
        const mine = (c.events ?? []).filter(
          (e: EventRow) => e.type === recent.type && e.occurredAt > recent.fromMs && e.occurredAt <= recent.toMs,
        );
        if (mine.length === 0) continue;
        withEvents++;
        // this contact's keys: any of its events puts it there
        const keys = new Set<string>();
        for (const e of mine) {
          const data = { ...c, event: { type: recent.type, text: e.text ?? null, channel: e.channel ?? null, amount: e.amount ?? null } };
          const fired = applyReference(rule.logic, data) as string[];
          if (fired.length > 0) keys.add('matched');
          for (const [id, f] of perNode) if (truthy(f(data))) keys.add(`node:${id}`);
          for (const [id, f] of perEdge) if (truthy(f(data))) keys.add(`edge:${id}`);
          for (const k of tagEffects(net, data.tags ?? [], fired)) keys.add(k);
        }
        bump(keys);
      }
      const msg = `seed ${seed}: ${JSON.stringify(drawn.graph)}`;
      expect(sql.value.total, msg).toBe(CONTACTS);
      expect(sql.value.withEvents, msg).toBe(withEvents);
      expect(sql.value.matched, msg).toBe(count.get('matched') ?? 0);
      for (const id of Object.keys(rule.nodeLogic))
        expect(sql.value.nodes[id] ?? 0, `${msg} node ${id}`).toBe(count.get(`node:${id}`) ?? 0);
      for (const id of Object.keys(rule.edgeFlow)) expect(sql.value.edges[id] ?? 0, `${msg} edge ${id}`).toBe(count.get(`edge:${id}`) ?? 0);
      for (const [tagId, t] of sql.value.tags) {
        expect(t.gain, `${msg} gain ${tagId}`).toBe(count.get(`gain:${tagId}`) ?? 0);
        expect(t.lose, `${msg} lose ${tagId}`).toBe(count.get(`lose:${tagId}`) ?? 0);
        if (t.kept !== undefined) expect(t.kept, `${msg} kept ${tagId}`).toBe(count.get(`kept:${tagId}`) ?? 0);
      }
      expect(sql.value.conflicts, `${msg} conflicts`).toEqual(net.conflicts.map((_c, i) => count.get(`conflict:${i}`) ?? 0));
      if (sql.value.matched > 0) someMatched++;
      if (sql.value.matched < withEvents) someMissed++;
    });
  }

  it('estimated enough rules, some matching and some not, to be worth something', () => {
    expect(estimated).toBeGreaterThanOrEqual(20);
    expect(someMatched).toBeGreaterThanOrEqual(10);
    expect(someMissed).toBeGreaterThanOrEqual(10);
  });
});
