/**
 * Preview benchmark on a large local D1: `npx tsx bench/preview.ts [--dir /tmp/bench-1m] [--contacts 1000000] [--runs 5] [--indexes]`
 *
 * 1. Prepares its own wrangler state directory (`--dir`): migrations and `scripts/seed.ts
 *    --contacts N` (~5+ min for 1M on a quiet machine). An already seeded directory is reused.
 * 2. Starts ONE Miniflare instance on it (as scripts/seed.ts does) with a tiny worker that runs a
 *    statement on `env.DB` inside workerd and returns the wall time around the call plus D1's
 *    `meta` (duration, rows_read): the measurement is D1 in workerd, not a Node SQLite.
 * 3. In the same run, interleaved, median of `--runs`:
 *    - bare:    `SELECT count(*) FROM contacts WHERE invite_count >= ?` (a column in no index: a
 *               full scan of the contacts table, the baseline); the same on message_count (which
 *               `contacts_rule_cover_idx` now covers: an index scan) and on indexed total_spend;
 *    - agg5:    the preview (total, matched, every node and edge, gain / lose per action) of a
 *               5-condition rule with a 30-day purchase-amount aggregate;
 *    - indexed5: the preview of a 5-condition rule whose conditions are all on indexed columns;
 *    - aggfirst3 / notin4: a rule whose first condition is a 30-day purchase aggregate that few
 *      contacts pass (a positive set) / that nearly everyone passes (written as NOT IN a set);
 *    - bands4: the group-member score of seed 003 (five weighted factors, two of them 30- and
 *      90-day event counts) with four bands, each adding a tag of the exclusive 群成员评级 group:
 *      the net change per tag includes every band tag displaced by another.
 *    Every preview counts the rule's net change per tag (net-effect.ts) over the demo's real
 *    tag groups: the lifecycle tags the chains add are exclusive, so their siblings' losses count.
 *    Each preview runs as: the one statement (`buildPreviewQuery`, with "holds the tag" as a
 *    correlated EXISTS), the same with holds-tag as `IN (SELECT … FROM contact_tags …)`, the
 *    conjunction counts in two batches (`buildPreviewCountPlan`, what `runPreview` runs: held-tag
 *    counts in the second, each from its smaller side), the same without the merge form and
 *    without the passes over an aggregate set (`narrow: false`), the one-batch plan it replaced
 *    and that plan with every holds-tag forced to IN / to EXISTS, and a nodes-only variant
 *    (total, matched, nodes, edges: the issue's target). Every variant's counts must equal the
 *    one statement's. A two-batch variant's ms is the sum of its batches' (each timed in workerd
 *    around `DB.batch`), printed with each batch's median beside it.
 *    With --indexes the indexes in MEASURED_INDEXES are then dropped (in this directory only),
 *    everything measured again without them, and the indexes created again.
 * Prints ms (median), D1 rows read, ratio to the bare scan measured in the same round, and each
 * statement's query plan.
 */

import { loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Miniflare } from 'miniflare';
import { compileRule, type CompiledRule } from '@shared/rules/compile';
import type { SqlFrag } from '@shared/rules/operators';
import {
  buildPreviewCountPlan,
  columnValues,
  fillCounts,
  type CountRound,
  type PlanTuning,
  type PreviewCountPlan,
} from '@shared/rules/preview-counts';
import { buildPreviewQuery } from '@shared/rules/sql';
import { netPlanOver, type NetPlan } from '@shared/rules/net-effect';
import type { RuleEdge, RuleGraph, RuleNode } from '@shared/rules/types';
import { d1DatabaseId, median, migrateAndSeed } from './local';
import { GROUP_MEMBER_BANDS, groupMemberScoreGraph } from '@shared/demo/rule-graphs';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: '/tmp/bench-1m' },
    contacts: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '5' },
    indexes: { type: 'boolean', default: false },
  },
});
const DIR = path.resolve(values.dir);
const CONTACTS = Number(values.contacts);
const RUNS = Number(values.runs);
const log = (s: string) => process.stderr.write(`${s}\n`);

/**
 * Indexes whose worth `--indexes` measures: each is dropped (in this directory only), the same
 * statements measured without it, and then created again, so the directory stays as migrated.
 */
const MEASURED_INDEXES = [
  {
    name: 'contacts_rule_cover_idx',
    create:
      'CREATE INDEX IF NOT EXISTS contacts_rule_cover_idx ON contacts (kind, region, total_spend, last_active_at, owner_user_id, message_count, source_channel, gender, device)',
  },
];

const WORKER = `export default {
  async fetch(request, env) {
    const { sql, params, mode, batch } = await request.json();
    try {
      if (batch) {
        const t0 = Date.now();
        const all = await env.DB.batch(batch.map((s) => env.DB.prepare(s.sql).bind(...s.params)));
        const ms = Date.now() - t0;
        const meta = { duration: all.reduce((n, r) => n + (r.meta.duration ?? 0), 0), rows_read: all.reduce((n, r) => n + (r.meta.rows_read ?? 0), 0) };
        return Response.json({ ms, meta, results: all.map((r) => (r.results ?? [])[0] ?? {}) });
      }
      const t0 = Date.now();
      const stmt = env.DB.prepare(sql).bind(...params);
      const res = mode === 'run' ? await stmt.run() : await stmt.all();
      const ms = Date.now() - t0;
      return Response.json({ ms, meta: res.meta, results: (res.results ?? []).slice(0, 50) });
    } catch (e) {
      return Response.json({ error: String(e && e.message || e) }, { status: 500 });
    }
  },
};`;

function prepare() {
  migrateAndSeed(DIR, CONTACTS, log);
}

interface Result {
  ms: number;
  meta: { duration?: number; rows_read?: number; rows_written?: number };
  results: Record<string, unknown>[];
}

function graph(nodes: RuleNode[], edges: [string, string, string?][]): RuleGraph {
  return {
    schemaVersion: 1,
    nodes: [{ id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } }, ...nodes],
    edges: edges.map(([source, target, sourceHandle], i): RuleEdge =>
      sourceHandle ? { id: `e${i}`, source, target, sourceHandle } : { id: `e${i}`, source, target },
    ),
  };
}
const cond = (
  id: string,
  field: string,
  op: string,
  value?: unknown,
  params?: { eventType: 'purchase' | 'message'; days: number },
): RuleNode => ({
  id,
  kind: 'condition',
  condition: { field, op, ...(value === undefined ? {} : { value }), ...(params ? { params } : {}) },
});
/** A chain c1 → c2 → … → c5 on `yes`, an action at the end and one on the first `no`. */
function chain(conds: RuleNode[], tagIn: number, tagOut: number): RuleGraph {
  const edges: [string, string, string?][] = [['t', 'c1']];
  for (let i = 1; i < conds.length; i++) edges.push([`c${i}`, `c${i + 1}`, 'yes']);
  edges.push([`c${conds.length}`, 'a_in', 'yes'], ['c1', 'a_out', 'no']);
  return graph(
    [
      ...conds,
      { id: 'a_in', kind: 'action', action: { type: 'add_tag', tagId: tagIn } },
      { id: 'a_out', kind: 'action', action: { type: 'remove_tag', tagId: tagOut } },
    ],
    edges,
  );
}

// Long on purpose: a script's steps in the order it prints them (setup, timed passes, tables).
async function main() {
  prepare();
  const mf = new Miniflare({ modules: true, script: WORKER, d1Persist: path.join(DIR, 'v3', 'd1'), d1Databases: { DB: d1DatabaseId() } });
  try {
    const q = async (sql: string, params: unknown[] = [], mode: 'all' | 'run' = 'all'): Promise<Result> => {
      const res = await mf.dispatchFetch('http://bench/', { method: 'POST', body: JSON.stringify({ sql, params, mode }) });
      const body = (await res.json()) as Result & { error?: string };
      if (!res.ok || body.error) throw new Error(`${body.error}\n${sql.slice(0, 400)}`);
      return body;
    };
    const n = (await q('SELECT count(*) AS n FROM contacts')).results[0]?.n as number;
    const nStats = (await q('SELECT count(*) AS n FROM contact_daily_stats')).results[0]?.n as number;
    // The actions' tags: ones many contacts hold (the demo's lifecycle tags), so the "holds the
    // tag" columns (gain / lose) are real work, not an empty index range.
    const tags = (await q('SELECT t.id, t.name, t.group_id, g.exclusive FROM tags t JOIN tag_groups g ON g.id = t.group_id')).results as {
      id: number;
      name: string;
      group_id: number;
      exclusive: number;
    }[];
    const tag = (name: string) => tags.find((t) => t.name === name)?.id ?? 1;
    const netOf = (rule: CompiledRule): NetPlan =>
      netPlanOver(
        rule.actions,
        tags.map((t) => ({ id: t.id, groupId: t.group_id, exclusive: t.exclusive === 1 })),
      );
    // Windows relative to the newest event, so the rule selects the same contacts whenever it runs.
    const now = ((await q('SELECT max(occurred_at) AS m FROM events')).results[0]?.m as number) ?? Date.now();
    log(`${n.toLocaleString()} contacts, ${nStats.toLocaleString()} daily stat rows, now = ${new Date(now).toISOString()}`);

    const rules: Record<string, RuleGraph> = {
      agg5: chain(
        [
          cond('c1', 'kind', 'in', ['friend', 'wecom_customer']),
          cond('c2', 'region', 'in', ['广东', '上海', '北京', '浙江']),
          cond('c3', 'event.amount', 'gte', 10_000, { eventType: 'purchase', days: 30 }),
          cond('c4', 'lastActiveAt', 'within_last_days', 30),
          cond('c5', 'messageCount', 'gte', 5),
        ],
        tag('活跃客户'),
        tag('流失客户'),
      ),
      indexed5: chain(
        [
          cond('c1', 'kind', 'eq', 'wecom_customer'),
          cond('c2', 'region', 'in', ['广东', '上海', '北京', '浙江']),
          cond('c3', 'totalSpend', 'gte', 100_000),
          cond('c4', 'lastActiveAt', 'within_last_days', 30),
          cond('c5', 'ownerUserId', 'is_not_empty'),
        ],
        tag('沉睡客户'),
        tag('流失客户'),
      ),
      // A positive aggregate set first: every later count rides on the pass over it.
      aggfirst3: chain(
        [
          cond('c1', 'event.count', 'gte', 1, { eventType: 'purchase', days: 30 }),
          cond('c2', 'kind', 'eq', 'wecom_customer'),
          cond('c3', 'messageCount', 'gte', 5),
        ],
        tag('活跃客户'),
        tag('流失客户'),
      ),
      // A NOT IN set first (nearly everyone passes): held counts must not ride on its pass.
      notin4: chain(
        [
          cond('c1', 'event.amount', 'lt', 100, { eventType: 'purchase', days: 30 }),
          cond('c2', 'kind', 'eq', 'wecom_customer'),
          cond('c3', 'messageCount', 'gte', 5),
          cond('c4', 'lastActiveAt', 'within_last_days', 30),
        ],
        tag('活跃客户'),
        tag('流失客户'),
      ),
      // The group-member score of seed 003, four bands into one exclusive group.
      bands4: groupMemberScoreGraph(GROUP_MEMBER_BANDS.map(tag)),
    };
    const ruleLabels: Record<string, string> = {
      agg5: 'preview: 5 conditions incl. 30-day purchase amount',
      indexed5: 'preview: 5 conditions on indexed columns',
      aggfirst3: 'preview: 30-day purchase count ≥ 1, then 2 conditions',
      notin4: 'preview: 30-day purchase amount < ¥1 (NOT IN set), then 3 conditions',
      bands4: 'preview: group-member score (5 factors), 4 bands → 4 tags of one exclusive group',
    };
    type Statement = {
      key: string;
      label: string;
      sql: string;
      params: unknown[];
      rule?: CompiledRule;
      columns?: string[];
      plan?: PreviewCountPlan;
    };
    const statements: Statement[] = [
      {
        key: 'bare',
        label: 'bare scan: count(*) WHERE invite_count >= 1 (no index: table scan)',
        sql: 'SELECT count(*) AS n FROM contacts WHERE invite_count >= ?',
        params: [1],
      },
      {
        key: 'bare_msg',
        label: 'count(*) WHERE message_count >= 5 (covered by contacts_rule_cover_idx)',
        sql: 'SELECT count(*) AS n FROM contacts WHERE message_count >= ?',
        params: [5],
      },
      {
        key: 'bare_idx',
        label: 'count(*) WHERE total_spend >= ¥1000 (indexed)',
        sql: 'SELECT count(*) AS n FROM contacts WHERE total_spend >= ?',
        params: [100_000],
      },
    ];
    for (const [key, g] of Object.entries(rules)) {
      const compiled = compileRule(g);
      if (!compiled.ok) throw new Error(`${key}: ${JSON.stringify(compiled.errors)}`);
      const pq = buildPreviewQuery(compiled.value, { now, tzOffsetMinutes: 480 }, { net: netOf(compiled.value) });
      if (!pq.ok) throw new Error(`${key}: ${JSON.stringify(pq.errors)}`);
      statements.push({
        key,
        label: ruleLabels[key] ?? key,
        sql: pq.value.sql,
        params: pq.value.params,
        rule: compiled.value,
        columns: pq.value.columns.map((c) =>
          'nodeId' in c
            ? `${c.kind}:${c.nodeId}`
            : 'edgeId' in c
              ? `edge:${c.edgeId}`
              : 'tagId' in c
                ? `${c.kind}:${c.tagId}`
                : 'index' in c
                  ? `${c.kind}:${c.index}`
                  : c.kind,
        ),
      });
    }

    // The default preview path: conjunction counts in two D1 batches (`buildPreviewCountPlan`,
    // what `runPreview` runs), and the one-batch plan it replaced, with its held-tag forms.
    const counted: Statement[] = [];
    const sizeOf = (p: PreviewCountPlan) =>
      `${p.size} counts: ${p.first.fills.length} in round 1${p.second ? `, up to ${p.size - p.first.fills.length} in round 2` : ''}`;
    for (const s of statements) {
      if (!s.rule) continue;
      const variant = (key: string, label: string, tuning: PlanTuning) => {
        const plan = buildPreviewCountPlan(
          s.rule as CompiledRule,
          { now, tzOffsetMinutes: 480 },
          { ...tuning, net: netOf(s.rule as CompiledRule) },
        );
        if (!plan?.ok) throw new Error(`${s.key}: no count plan`);
        counted.push({
          ...s,
          key: `${s.key}_${key}`,
          label: `${s.label}: ${label} (${sizeOf(plan.value)})`,
          sql: plan.value.first.statements.map((x) => x.sql).join(';\n'),
          params: [],
          plan: plan.value,
        });
      };
      variant(
        'counts',
        'conjunction counts, two rounds: held-tag counts from the smaller side, merged where of a size (what runPreview runs)',
        {},
      );
      variant('counts_nomerge', 'conjunction counts, two rounds, without the merge', { merge: false });
      variant(
        'counts_nonarrow',
        'conjunction counts, two rounds, no passes over the aggregate set (one query per count; held ∧ set sized in round 2)',
        { narrow: false },
      );
      variant('counts1', 'conjunction counts, one batch, held-tag form by the narrowing rule (before)', { rounds: 1 });
      // The same counts in one batch with every "holds the tag" next to other tests as IN, then as EXISTS.
      variant('counts1_in', 'conjunction counts, one batch, held tags always IN (holder set)', { rounds: 1, held: 'in' });
      variant('counts1_exists', 'conjunction counts, one batch, held tags always EXISTS (probe)', { rounds: 1, held: 'exists' });
      // What issue 3's target names: the total and per-node (and edge) counts, without gain / lose.
      variant('nodes', 'conjunction counts, total + nodes + edges only', { nodesOnly: true });
    }
    // Variant: the held-tag columns as a non-correlated IN (one pass over the tag's holders).
    const held = /EXISTS \(SELECT 1 FROM contact_tags ct WHERE ct\.contact_id = c\.id AND ct\.tag_id = (\?\d*)\) AS (h\d+)/g;
    for (const s of [...statements]) {
      if (!s.rule || !held.test(s.sql)) continue;
      held.lastIndex = 0;
      statements.push({
        ...s,
        key: `${s.key}_in`,
        label: `${s.label}, held tags as IN (subquery)`,
        sql: s.sql.replace(held, 'c.id IN (SELECT ct.contact_id FROM contact_tags ct WHERE ct.tag_id = $1) AS $2'),
      });
    }

    statements.push(...counted);
    /**
     * Runs a statement, or a count plan's rounds (one D1 batch each, as `runPreview`). A plan's
     * result is its columns, packed like the one statement's; its ms and D1 meta are the sums over
     * its batches (each timed inside workerd around `DB.batch`), `rounds` the ms of each.
     */
    const exec = async (s: Statement): Promise<Result & { rounds?: number[]; second?: SqlFrag[] }> => {
      if (!s.plan) return q(s.sql, s.params);
      const p = s.plan;
      const counts = new Array<number>(p.size).fill(0);
      const total: Result & { rounds: number[]; second?: SqlFrag[] } = {
        ms: 0,
        meta: { duration: 0, rows_read: 0 },
        results: [],
        rounds: [],
      };
      const run = async (round: CountRound) => {
        if (round.statements.length === 0) {
          total.rounds.push(0);
          return;
        }
        const res = await mf.dispatchFetch('http://bench/', { method: 'POST', body: JSON.stringify({ batch: round.statements }) });
        const body = (await res.json()) as Result & { error?: string };
        if (!res.ok || body.error) throw new Error(`${body.error}\n${s.sql.slice(0, 400)}`);
        fillCounts(
          round,
          body.results.map((r) => r.counts),
          counts,
        );
        total.ms += body.ms;
        total.meta.duration = (total.meta.duration ?? 0) + (body.meta.duration ?? 0);
        total.meta.rows_read = (total.meta.rows_read ?? 0) + (body.meta.rows_read ?? 0);
        total.rounds.push(body.ms);
      };
      await run(p.first);
      if (p.second) {
        const later = p.second(counts);
        total.second = later.statements;
        await run(later);
      }
      return { ...total, results: [{ counts: columnValues(p, counts).join(',') }] };
    };
    const explain = async (s: Statement): Promise<string> => {
      // A plan's second round depends on the first's counts: run it once to see what it writes.
      const texts = s.plan ? [...s.plan.first.statements, ...((await exec(s)).second ?? [])] : [{ sql: s.sql, params: s.params }];
      const out: string[] = [];
      for (const t of texts) {
        try {
          const plan = await q(`EXPLAIN QUERY PLAN ${t.sql}`, t.params);
          out.push(plan.results.map((r) => `    ${String(r.detail)}`).join('\n'));
        } catch (e) {
          out.push(`    (no plan: ${String(e).split('\n')[0]})`);
        }
      }
      return out.join('\n    ;\n');
    };
    const plans = new Map<string, string>();
    for (const s of statements) plans.set(s.key, await explain(s));

    type Round = Map<string, { ms: number[]; d1: number[]; rows: number; counts: string; rounds: number[][] }>;
    const measure = async (label: string): Promise<Round> => {
      const round: Round = new Map();
      for (const s of statements) await exec(s); // warm the page cache
      for (let r = 0; r < RUNS; r++) {
        for (const s of statements) {
          const res = await exec(s);
          const row = res.results[0] ?? {};
          const entry = round.get(s.key) ?? { ms: [], d1: [], rows: 0, counts: '', rounds: [] };
          entry.ms.push(res.ms);
          if (res.rounds) entry.rounds.push(res.rounds);
          entry.d1.push(res.meta.duration ?? Number.NaN);
          entry.rows = res.meta.rows_read ?? 0;
          entry.counts = String(row.counts ?? row.n ?? '');
          round.set(s.key, entry);
        }
        log(`  ${label}: run ${r + 1}/${RUNS}, load ${loadavg()[0]?.toFixed(1)}`);
      }
      return round;
    };
    let firstBare = Number.NaN;
    const print = (title: string, round: Round) => {
      const bare = median(round.get('bare')?.ms ?? [Number.NaN]);
      if (Number.isNaN(firstBare)) firstBare = bare;
      console.log(`\n### ${title}\n`);
      console.log(
        `| statement | ms (median) | D1 meta.duration ms | rows read | × bare scan (this round) | × bare scan (schema as migrated) | result |`,
      );
      console.log('|---|---:|---:|---:|---:|---:|---|');
      for (const s of statements) {
        const e = round.get(s.key);
        if (!e) continue;
        const ms = median(e.ms);
        // two rounds: the median of each round's ms beside the total
        const perRound =
          (e.rounds[0]?.length ?? 0) > 1
            ? ` (${(e.rounds[0] ?? []).map((_x, i) => median(e.rounds.map((r) => r[i] ?? 0)).toFixed(0)).join(' + ')})`
            : '';
        console.log(
          `| ${s.label} | ${ms.toFixed(0)}${perRound} | ${median(e.d1).toFixed(1)} | ${e.rows.toLocaleString()} | ${(ms / bare).toFixed(2)}× | ${(ms / firstBare).toFixed(2)}× | ${e.counts.length > 60 ? `${e.counts.slice(0, 60)}…` : e.counts} |`,
        );
      }
    };

    console.log(`\n## Preview on ${n.toLocaleString()} contacts (local D1 in workerd via Miniflare), ${RUNS} runs each, interleaved`);
    const before = await measure('schema indexes');
    // Every variant of a preview must count exactly what the one statement counts.
    const sameCounts = (round: Round) => {
      for (const [k, e] of round) {
        const baseKey = k.replace(/_(in|counts|counts_nomerge|counts_nonarrow|counts1|counts1_in|counts1_exists)$/, '');
        const base = baseKey !== k ? round.get(baseKey) : undefined;
        if (base && base.counts !== e.counts) throw new Error(`${k} counts differ from ${baseKey}: ${e.counts} vs ${base.counts}`);
        const full = k.endsWith('_nodes') ? round.get(k.slice(0, -'_nodes'.length)) : undefined;
        // the same columns up to the gain / lose ones
        const mine = e.counts.split(',');
        if (full && full.counts.split(',').some((v, i) => i < mine.length && v !== mine[i]))
          throw new Error(`${k} node counts differ: ${e.counts} vs ${full.counts}`);
      }
    };
    sameCounts(before);
    print('with the schema as migrated', before);
    for (const s of statements)
      if (s.columns && !s.plan && !s.key.endsWith('_in')) console.log(`\n${s.key} columns: ${s.columns.join(', ')}`);
    console.log('\nquery plans (schema as migrated):');
    for (const s of statements) console.log(`  ${s.key}:\n${plans.get(s.key)}`);

    if (values.indexes) {
      for (const i of MEASURED_INDEXES) await q(`DROP INDEX IF EXISTS ${i.name}`, [], 'run');
      try {
        const without = await measure('without the measured indexes');
        sameCounts(without);
        print(`without ${MEASURED_INDEXES.map((i) => i.name).join(', ')}`, without);
        console.log('\nquery plans (without them):');
        for (const s of statements) console.log(`  ${s.key}:\n${await explain(s)}`);
      } finally {
        for (const i of MEASURED_INDEXES) {
          const t = Date.now();
          await q(i.create, [], 'run');
          log(`created ${i.name} again in ${((Date.now() - t) / 1000).toFixed(1)} s`);
        }
      }
    }
    console.log(
      `\nload average at the end: ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')}`,
    );
  } finally {
    await mf.dispose();
  }
}

await main();
