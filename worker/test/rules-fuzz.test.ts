import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileRule, formulaToLogic } from '@shared/rules/compile';
import { compileLogic, compileRulePlan, truthy } from '@shared/rules/evaluate';
import { applyReference } from '@shared/rules/jsonlogic';
import { randomGraph, SeededRandom, withBandNode, withOutboundActions, type GraphVocabulary } from '@shared/rules/random-graph';
import type { EvalData, TriggerEvent } from '@shared/rules/types';
import type { EventType } from '@shared/domain';
import { buildPreviewCountPlan, fillCounts, type PlanTuning } from '@shared/rules/preview-counts';
import { netChange, netPlanOver, type NetPlan, type TagRow } from '@shared/rules/net-effect';
import type { CompiledRule } from '@shared/rules/compile';
import { runPreview } from '../src/rules/preview';
import { applyStatements } from '../src/rules/apply';
import { outboundStatements } from '../src/outbound/rule-deliveries';
import { outboundActions } from '@shared/rules/outbound';
import { applyChanges, type RuleChange } from '../src/execution/evaluate';
import type { TagInfo } from '../src/execution/published';
import { loadDemoContacts } from './demo-contacts';

/**
 * Differential fuzz: random valid graphs over the demo data. For each, the SQL preview's
 * counts (matched, per node, per edge, the net gain / lose / kept per tag, conflicts) must equal
 * what json-logic-js and the closure evaluator say contact by contact — for both SQL strategies:
 * the conjunction counts (`preview-counts.ts`, the default) and the one statement
 * (`buildPreviewQuery`) — and what publishing writes: the set-based writes of publish and
 * scheduled runs change contact_tags by exactly the preview's per-tag counts, contact by
 * contact as the webhook path's in-memory net change says, with no add-then-remove ledger rows.
 * Every other seed draws its actions from a few tags, two of one exclusive group, so that adds
 * and removes of one tag and two tags of one exclusive group fire together.
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
/**
 * Seeds whose default preview ran as conjunction counts (not the one-statement fallback), apart
 * for the seeds with outbound nodes: their "re-tagged" factor multiplies over every tag, so more
 * of them outgrow the conjunction plan.
 */
let countPlans = 0;
let outboundCountPlans = 0;
/** Seeds whose second round counted some held tag from the other tests' side (EXISTS), or by walking the tag index. */
let secondExists = 0;
let secondWalk = 0;
/** Seeds where a tag's gain / lose / kept count was not zero: the held-tag atoms were exercised. */
let heldNonZero = 0;
/** Seeds where two actions with opposite or exclusive effects fired for the same contact. */
let collided = 0;
/** Seeds where a tag was lost to another tag of its exclusive group. */
let displacedSeeds = 0;
/** Seeds where an outbound node would call for someone. */
let calledSeeds = 0;
/** Seeds with a band node, and those where one of its bands' tags was gained by someone. */
let bandSeeds = 0;
let bandGains = 0;
/** The demo's tags with their groups, and the tags actions draw from on colliding seeds. */
let tagRows: TagRow[] = [];
let tagInfo = new Map<number, TagInfo>();
let collidingTags: number[] = [];

beforeAll(async () => {
  const demo = await loadDemoContacts({ contacts: CONTACTS, seed: 42, now: NOW, avgEvents: 10, tz: TZ });
  ({ contacts, vocab, tagRows, tagInfo } = demo);
  // The exclusive group with the most holders among active tags, and one non-exclusive tag.
  const held = new Map<number, number>();
  for (const x of demo.holdings) held.set(x.tag_id, (held.get(x.tag_id) ?? 0) + 1);
  const active = demo.tags.filter((x) => x.status === 'active' && (held.get(x.id) ?? 0) > 0);
  const groups = new Map<number, number[]>();
  for (const x of active.filter((x) => x.exclusive === 1)) groups.set(x.group_id, [...(groups.get(x.group_id) ?? []), x.id]);
  const exclusive = [...groups.values()].filter((g) => g.length >= 3).sort((a, b) => b.length - a.length)[0] ?? [];
  const plain = active.find((x) => x.exclusive === 0)?.id;
  collidingTags = [...exclusive.slice(0, 3), ...(plain ? [plain] : [])];
}, 60_000);

describe('differential fuzz: SQL counts equal json-logic-js and closure counts', () => {
  it('loaded the demo contacts', () => {
    expect(contacts.length).toBe(CONTACTS);
    expect(vocab.tagIds.length).toBeGreaterThan(0);
    expect(collidingTags.length).toBe(4);
  });

  for (let seed = 1; seed <= GRAPHS; seed++) {
    it(`seed ${seed}`, async () => {
      const r = new SeededRandom(seed);
      const eventType = r.chance(0.3) ? r.pick<EventType>(['message', 'purchase', 'qr_scan']) : undefined;
      const colliding = seed % 2 === 0;
      const drawn = randomGraph(r, vocab, {
        ...(eventType ? { eventType } : {}),
        ...(colliding ? { actionTags: collidingTags, actions: { min: 2, max: 4 } } : {}),
      });
      // Every third seed also calls out (its own random source: the other draws stay as they were).
      const called = seed % 3 === 0 ? withOutboundActions(new SeededRandom(seed * 7919), drawn, 1) : drawn;
      // Every fourth seed that does not call out also has a band node onto the exclusive group's
      // tags (its own random source too; with calls it would tip the plan counts checked below).
      const graph =
        seed % 4 === 1 && seed % 3 !== 0 ? withBandNode(new SeededRandom(seed * 104_729), called, collidingTags.slice(0, 3)) : called;
      if (graph !== called) bandSeeds++;
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
      const net = netPlanOver(rule.actions, tagRows);
      const sql = await runPreview(env.DB, rule, ctx, { net });
      if (!sql.ok) throw new Error(JSON.stringify(sql.errors));
      const single = await runPreview(env.DB, rule, ctx, { net, strategy: 'single' });
      if (!single.ok) throw new Error(JSON.stringify(single.errors));
      const countPlan = buildPreviewCountPlan(rule, ctx, { net });
      if (countPlan?.ok) {
        if (seed % 3 === 0) outboundCountPlans++;
        else countPlans++;
        // Which forms the second round picked from the first round's sizes.
        const counts = new Array<number>(countPlan.value.size).fill(0);
        const { first, second } = countPlan.value;
        const res = await env.DB.batch<{ counts: string }>(first.statements.map((s) => env.DB.prepare(s.sql).bind(...s.params)));
        fillCounts(
          first,
          res.map((r) => r.results[0]?.counts),
          counts,
        );
        const later =
          second?.(counts)
            .statements.map((s) => s.sql)
            .join(';') ?? '';
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
      const js = netCounts();
      const outbound = outboundActions(rule.actions);
      const callsRef: Record<string, number[]> = Object.fromEntries(outbound.map((o) => [o.nodeId, []]));
      for (const c of contacts) {
        const data = { ...c, event };
        const ref = applyReference(rule.logic, data) as string[];
        if (ref.length > 0) matchedRef++;
        if ((full(data) as unknown[]).length > 0) matchedFast++;
        const fired = plan(data);
        if (fired.length > 0) matchedPlan++;
        // The plan fires exactly the actions json-logic-js does, in the same (node) order.
        if (fired.join() !== ref.join())
          firedMismatch.push(`contact ${String(c.contact.id)}: plan [${fired.join()}], json-logic-js [${ref.join()}]`);
        for (const [id, f] of perNode) if (truthy(f(data))) nodeCounts[id] = (nodeCounts[id] ?? 0) + 1;
        for (const [id, f] of perEdge) if (truthy(f(data))) edgeCounts[id] = (edgeCounts[id] ?? 0) + 1;
        js.add(net, c.contact.id as number, data.tags ?? [], ref);
        // An outbound node calls for a contact it reaches whose tags the run changes.
        if (js.changes[c.contact.id as number] !== undefined)
          for (const o of outbound)
            if (ref.includes(o.nodeId)) callsRef[o.nodeId] = [...(callsRef[o.nodeId] ?? []), c.contact.id as number];
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
      expect(Object.fromEntries(sql.value.tags), `${ctxMsg} net change per tag`).toEqual(js.byTag());
      expect(sql.value.conflicts, `${ctxMsg} conflicts`).toEqual(net.conflicts.map((_c, i) => js.conflicts[i] ?? 0));
      const callCounts = Object.fromEntries(Object.entries(callsRef).map(([id, list]) => [id, list.length]));
      expect(sql.value.calls, `${ctxMsg} calls per outbound node`).toEqual(callCounts);
      if (Object.values(callCounts).some((n) => n > 0)) calledSeeds++;
      if ([...sql.value.tags.values()].some((t) => t.gain + t.lose + (t.kept ?? 0) > 0)) heldNonZero++;
      if (js.conflicts.some((n) => n > 0)) collided++;
      if (js.displaced > 0) displacedSeeds++;
      const bandTags = rule.actions.filter((a) => a.nodeId.startsWith('band:')).map((a) => (a.action as { tagId: number }).tagId);
      if (bandTags.some((id) => (sql.value.tags.get(id)?.gain ?? 0) > 0)) bandGains++;
      // Publishing writes exactly that: per tag, and contact by contact.
      const written = await publishDiff(rule, net, ctx);
      expect(written.tags, `${ctxMsg} publish per tag`).toEqual(
        Object.fromEntries([...sql.value.tags].map(([id, t]) => [id, { gain: t.gain, lose: t.lose }])),
      );
      expect(written.changes, `${ctxMsg} publish per contact`).toEqual(js.changes);
      expect(written.addThenRemove, `${ctxMsg} no add-then-remove ledger rows`).toBe(0);
      // and stages a delivery for exactly the contacts the JS side says each outbound node calls
      expect(written.staged, `${ctxMsg} staged deliveries`).toEqual(callsRef);
      // Both SQL strategies, column for column.
      const { rowsRead: _a, ...counted } = sql.value;
      const { rowsRead: _b, ...countedSingle } = single.value;
      expect(counted, ctxMsg).toEqual(countedSingle);
      // Every way of writing the held-tag counts: one batch by the narrowing rule, each form
      // forced in both rounds, and two rounds without the merge or without the narrowing (the
      // default picks per count by size: not every seed meets every form).
      const tunings: PlanTuning[] = [
        { rounds: 1 },
        { held: 'walk' },
        { held: 'exists' },
        { held: 'in' },
        { held: 'merge' },
        { merge: false },
        { narrow: false },
        { bandPasses: false },
        { heldGroups: false },
      ];
      for (const tuning of tunings) {
        const other = await runPreview(env.DB, rule, ctx, { ...tuning, net });
        if (!other.ok) throw new Error(JSON.stringify(other.errors));
        const { rowsRead: _c, ...countedOther } = other.value;
        expect(countedOther, `${ctxMsg} ${JSON.stringify(tuning)}`).toEqual(countedSingle);
      }
      // Within a scope (as a department's or a gray share's preview): holder counts on the tag
      // index are unscoped sizes, held conjunctions never merge.
      const scope = { sql: 'c.bucket < ?', params: [6000] };
      const scoped = await runPreview(env.DB, rule, ctx, { scope, net });
      const scopedSingle = await runPreview(env.DB, rule, ctx, { scope, net, strategy: 'single' });
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
    expect(countPlans).toBeGreaterThan((GRAPHS - GRAPHS / 3) * 0.8);
    // 48 of 100 when written: the rest ran as the one statement, as exact and slower
    expect(outboundCountPlans).toBeGreaterThan((GRAPHS / 3) * 0.4);
    expect(heldNonZero).toBeGreaterThan(GRAPHS * 0.3);
  });

  it('drew rules whose actions collided on shared tags and exclusive groups', () => {
    expect(collided).toBeGreaterThan(GRAPHS * 0.1);
    expect(displacedSeeds).toBeGreaterThan(GRAPHS * 0.1);
  });

  it('drew band nodes and their tags changed contacts', () => {
    expect(bandSeeds).toBeGreaterThan(GRAPHS * 0.15);
    expect(bandGains).toBeGreaterThan(GRAPHS * 0.05);
  });

  it('drew outbound nodes that call for some contacts (and not for all they reach)', () => {
    expect(calledSeeds).toBeGreaterThan(GRAPHS * 0.1);
  });

  it('met both held-tag forms in the second round, chosen by size', () => {
    expect(secondExists).toBeGreaterThan(GRAPHS * 0.1);
    expect(secondWalk).toBeGreaterThan(GRAPHS * 0.1);
  });
});

/**
 * The JS side of the net change, contact by contact: `netChange` (what the webhook path asks
 * for) applied with the webhook path's own in-memory tag writer (`applyChanges`).
 */
function netCounts() {
  const tags = new Map<number, { gain: number; lose: number; kept?: number }>();
  const changes: Record<string, string> = {};
  const conflicts: number[] = [];
  let displaced = 0;
  const tag = (id: number) => {
    let t = tags.get(id);
    if (!t) tags.set(id, (t = { gain: 0, lose: 0 }));
    return t;
  };
  return {
    conflicts,
    changes,
    get displaced() {
      return displaced;
    },
    add(plan: NetPlan, contactId: number, held: readonly number[], fired: readonly string[]) {
      plan.conflicts.forEach((c, i) => {
        conflicts[i] = (conflicts[i] ?? 0) + (fired.includes(c.nodeIds[0]) && fired.includes(c.nodeIds[1]) ? 1 : 0);
      });
      const net = netChange(plan, fired);
      const asked: RuleChange[] = [
        ...net.remove.map((tagId) => ({ tagId, op: 'remove' as const, ruleId: 1, ruleVersion: 1 })),
        ...net.add.map((tagId) => ({ tagId, op: 'add' as const, ruleId: 1, ruleVersion: 1 })),
      ];
      const after = new Set(held);
      const effective = applyChanges(after, asked, tagInfo, new Map());
      for (const t of plan.tags) {
        const n = tag(t.tagId);
        const had = held.includes(t.tagId);
        const has = after.has(t.tagId);
        if (!had && has) n.gain++;
        if (had && !has) {
          n.lose++;
          if (!net.remove.includes(t.tagId)) displaced++;
        }
        if (t.addNodes.length > 0) n.kept = (n.kept ?? 0) + (had && has && !net.add.includes(t.tagId) ? 1 : 0);
      }
      const diff = effective
        .map((e) => `${e.op}:${e.tagId}`)
        .sort()
        .join(',');
      if (diff) changes[contactId] = diff;
    },
    byTag: () => Object.fromEntries(tags),
  };
}

/**
 * Publishes the rule's net change with the statements publishing runs (in one batch), reads
 * what changed, and puts contact_tags back as it was.
 */
async function publishDiff(rule: CompiledRule, net: NetPlan, ctx: { now: number; tzOffsetMinutes: number; event: TriggerEvent | null }) {
  const db = env.DB;
  const before = (await db.prepare('SELECT * FROM contact_tags').all<Record<string, unknown> & { contact_id: number; tag_id: number }>())
    .results;
  const batchId = `fuzz:${crypto.randomUUID()}`;
  const statements = applyStatements(
    db,
    rule,
    net,
    { now: ctx.now, tzOffsetMinutes: ctx.tzOffsetMinutes, ...(ctx.event ? { event: ctx.event } : {}) },
    undefined,
    {
      source: 'rule',
      ruleId: 1,
      ruleVersion: 1,
      batchId,
      at: ctx.now,
    },
  );
  if (!statements.ok) throw new Error(JSON.stringify(statements.errors));
  const run = { ruleId: 1, ruleVersion: 1, batchId, cause: { kind: 'publish' as const, ref: batchId }, at: ctx.now };
  const outbound = outboundStatements(
    db,
    rule,
    { now: ctx.now, tzOffsetMinutes: ctx.tzOffsetMinutes, ...(ctx.event ? { event: ctx.event } : {}) },
    undefined,
    run,
  );
  if (!outbound.ok) throw new Error(JSON.stringify(outbound.errors));
  const all = [...outbound.value.before, ...statements.value, ...outbound.value.after];
  if (all.length) await db.batch(all);
  const staged: Record<string, number[]> = {};
  for (const [i, a] of outboundActions(rule.actions).entries()) {
    const runId = outbound.value.runIds[i] as string;
    const rows = await db
      .prepare('SELECT contact_id FROM tag_apply_targets WHERE run_id = ? ORDER BY contact_id')
      .bind(runId)
      .all<{ contact_id: number }>();
    staged[a.nodeId] = rows.results.map((x) => x.contact_id);
    await db.prepare('DELETE FROM tag_apply_targets WHERE run_id = ?').bind(runId).run();
  }
  const after = (await db.prepare('SELECT contact_id, tag_id FROM contact_tags').all<{ contact_id: number; tag_id: number }>()).results;
  const key = (r: { contact_id: number; tag_id: number }) => `${r.contact_id}|${r.tag_id}`;
  const had = new Set(before.map(key));
  const has = new Set(after.map(key));
  const tags: Record<string, { gain: number; lose: number }> = {};
  const perContact = new Map<number, string[]>();
  const note = (k: string, op: 'add' | 'remove') => {
    const [c, t] = k.split('|').map(Number) as [number, number];
    const n = (tags[t] ??= { gain: 0, lose: 0 });
    if (op === 'add') n.gain++;
    else n.lose++;
    perContact.set(c, [...(perContact.get(c) ?? []), `${op}:${t}`]);
  };
  for (const k of has) if (!had.has(k)) note(k, 'add');
  for (const k of had) if (!has.has(k)) note(k, 'remove');
  for (const t of net.tags) tags[t.tagId] ??= { gain: 0, lose: 0 };
  const changes = Object.fromEntries([...perContact].map(([c, list]) => [c, list.sort().join(',')]));
  const twice = await db
    .prepare(
      `SELECT count(*) AS n FROM (SELECT contact_id, tag_id FROM tag_ledger WHERE batch_id = ? GROUP BY contact_id, tag_id HAVING count(*) > 1)`,
    )
    .bind(batchId)
    .first<{ n: number }>();
  // Put contact_tags back (the ledger rows of the batch go too: nothing reads them here).
  await db.batch([
    db.prepare('DELETE FROM contact_tags'),
    db
      .prepare(
        `INSERT INTO contact_tags SELECT json_extract(j.value, '$.contact_id'), json_extract(j.value, '$.tag_id'), json_extract(j.value, '$.source'),
                  json_extract(j.value, '$.rule_id'), json_extract(j.value, '$.rule_version'), json_extract(j.value, '$.added_at') FROM json_each(?) j`,
      )
      .bind(JSON.stringify(before)),
    db.prepare('DELETE FROM tag_ledger WHERE batch_id = ?').bind(batchId),
  ]);
  return { tags, changes, staged, addThenRemove: twice?.n ?? 0 };
}
