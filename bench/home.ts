/**
 * The home at scale: `npx tsx bench/home.ts [--dir /tmp/bench-home-1m] [--contacts 1000000] [--runs 7]`
 *
 * 1. Prepares (or reuses) a wrangler state directory as bench/search.ts does: migrations, then
 *    `scripts/seed.ts --contacts N` (which also counts today's tag coverage, as the cron does).
 * 2. Writes 90 days of the home's history at the size a busy company would have: 40 segments
 *    snapshotted daily per department, 90 days of tag coverage per department and group, 60 rules
 *    active every hour of 30 days, 8 sources every hour of 90 days, 200,000 delivered and 300 dead
 *    outbound deliveries (rollup rows only: the home reads nothing else).
 * 3. Times, inside workerd (median of --runs, interleaved), every statement GET /api/home runs
 *    (worker/src/home/sql.ts `homeReads`, the same text and parameters) for a super admin and for
 *    a department admin, next to a bare `SELECT count(*) FROM contacts` in the same run, and
 *    prints the ratio and each statement's query plan.
 * 4. Times what the rollups cost where they are written: the cron's daily coverage count and a
 *    segment's per-department snapshot at N contacts (once each, into a scratch day), and the
 *    tag_ledger trigger's cost per ledger row (100,000 rule rows inserted with and without it).
 */

import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { dayNumber, dayStartMs, SHANGHAI_OFFSET_MINUTES } from '@shared/time';
import {
  COVERAGE_BY_GROUP,
  COVERAGE_TOTALS,
  homeReads,
  SEGMENT_DEPARTMENT_SIZES,
  SEGMENT_RECORDED,
  SEGMENT_TOTAL,
  type HomeRead,
} from '../worker/src/home/sql';
import { median, openTimedD1, migrateAndSeed } from './local';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: '/tmp/bench-home-1m' },
    contacts: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '7' },
  },
});
const DIR = values.dir!;
const CONTACTS = Number(values.contacts);
const RUNS = Number(values.runs);
const TZ = SHANGHAI_OFFSET_MINUTES;
const HOUR = 3_600_000;
const log = (s: string) => console.log(`[home] ${s}`);

const SEGMENTS = 40;
const RULES = 60;
const SOURCES = 8;
const BENCH_SEGMENT_BASE = 900_000;
const BENCH_RULE_BASE = 900_000;

function prepare() {
  migrateAndSeed(DIR, CONTACTS, log);
}

type Q = Awaited<ReturnType<typeof openTimedD1>>['q'];

/** `n` integers 0..n-1 as a recursive CTE named `seq(i)`. */
const seq = (n: number) => `WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < ${n - 1})`;

/** Departments numbered 0..n-1 (`k`), with their count `n`: objects spread over all of them. */
const DEPT_BY_INDEX = '(SELECT id, ROW_NUMBER() OVER (ORDER BY id) - 1 AS k, COUNT(*) OVER () AS n FROM departments)';

/** 90 days of history in the rollups (idempotent: the bench's own ids, conflicts ignored). */
async function writeHistory(q: Q, today: number, nowHour: number) {
  const t = Date.now();
  const graph = JSON.stringify({ schemaVersion: 1, nodes: [], edges: [] });
  await q(
    `${seq(SEGMENTS)} INSERT OR IGNORE INTO segments (id, name, department_id, graph, logic, created_at, updated_at)
     SELECT ${BENCH_SEGMENT_BASE} + i, 'bench segment ' || i, d.id, ?, 'true', 0, 0 FROM seq JOIN ${DEPT_BY_INDEX} d ON d.k = seq.i % d.n`,
    [graph],
  );
  // per department (and 0) per day: a size that drifts, so the rows are not all alike
  await q(
    `${seq(90)} INSERT OR IGNORE INTO segment_snapshot_departments (segment_id, day, department_id, size)
     SELECT s.id, ? - seq.i, d.id, (s.id * 37 + d.id * 101 + seq.i * 13) % 5000
     FROM seq, segments s, (SELECT id FROM departments UNION ALL SELECT 0) d WHERE s.id >= ${BENCH_SEGMENT_BASE}`,
    [today],
  );
  await q(
    `INSERT OR IGNORE INTO segment_snapshots (segment_id, day, size)
     SELECT segment_id, day, SUM(size) FROM segment_snapshot_departments WHERE segment_id >= ${BENCH_SEGMENT_BASE} GROUP BY 1, 2`,
  );
  await q(
    `${seq(90)} INSERT OR IGNORE INTO department_daily_counts (day, department_id, contacts, tagged, counted_at)
     SELECT ? - seq.i, d.id, 60000 + d.id, 50000 + d.id, 0 FROM seq, (SELECT id FROM departments UNION ALL SELECT 0) d`,
    [today - 1],
  );
  await q(
    `${seq(90)} INSERT OR IGNORE INTO tag_group_daily_coverage (day, department_id, group_id, contacts)
     SELECT ? - seq.i, d.id, g.id, (d.id * 977 + g.id * 31 + seq.i) % 50000 FROM seq, (SELECT id FROM departments UNION ALL SELECT 0) d, tag_groups g`,
    [today - 1],
  );
  await q(
    `${seq(RULES)} INSERT OR IGNORE INTO rules (id, name, department_id, status, draft_graph, created_at, updated_at)
     SELECT ${BENCH_RULE_BASE} + i, 'bench rule ' || i, d.id, 'published', ?, 0, 0 FROM seq JOIN ${DEPT_BY_INDEX} d ON d.k = seq.i % d.n`,
    [graph],
  );
  await q(
    `${seq(31 * 24)} INSERT OR IGNORE INTO rule_activity_hourly (rule_id, hour, added, removed)
     SELECT r.id, ? - seq.i, (r.id + seq.i) % 400, (r.id * 7 + seq.i) % 90 FROM seq, rules r WHERE r.id >= ${BENCH_RULE_BASE}`,
    [nowHour],
  );
  await q(
    `${seq(90 * 24)} INSERT OR IGNORE INTO intake_hourly (hour, source_id, events)
     SELECT ? - seq.i, 'bench-source-' || s.i, (seq.i * 17 + s.i * 5) % 3000 FROM seq, (SELECT value AS i FROM json_each(?)) s`,
    [nowHour, JSON.stringify([...Array(SOURCES).keys()])],
  );
  await q(
    `${seq(200_300)} INSERT OR IGNORE INTO deliveries (id, destination_id, kind, rule_id, rule_version, node_id, contact_id, status, attempts, created_at)
     SELECT 'bench-' || i, 1, 'call_webhook', ${BENCH_RULE_BASE}, 1, 'a', 1 + i % 1000, CASE WHEN i < 300 THEN 'dead' ELSE 'delivered' END, 1, 0 FROM seq`,
  );
  const counts: Record<string, number> = {};
  for (const table of [
    'segment_snapshots',
    'segment_snapshot_departments',
    'department_daily_counts',
    'tag_group_daily_coverage',
    'rule_activity_hourly',
    'intake_hourly',
    'deliveries',
    'tag_ledger',
  ])
    counts[table] = Number((await q(`SELECT COUNT(*) AS n FROM ${table}`)).results[0]!.n);
  log(`history written in ${((Date.now() - t) / 1000).toFixed(1)} s: ${JSON.stringify(counts)}`);
}

async function timeReads(q: Q, label: string, reads: HomeRead[]) {
  const ms: Record<string, number[]> = { 'count(*) FROM contacts': [] };
  for (const r of reads) ms[r.name] = [];
  const rowsRead: Record<string, number> = {};
  for (let run = 0; run < RUNS; run++) {
    ms['count(*) FROM contacts']!.push((await q('SELECT count(*) AS n FROM contacts')).ms);
    for (const r of reads) {
      const res = await q(r.sql, r.params);
      ms[r.name]!.push(res.ms);
      rowsRead[r.name] = res.meta.rows_read ?? 0;
    }
  }
  const base = median(ms['count(*) FROM contacts']!);
  const total = reads.reduce((n, r) => n + median(ms[r.name]!), 0);
  console.log(`\n${label}: ${RUNS} runs, median ms (inside workerd)`);
  console.log('| statement | ms | rows read | × count(*) |');
  console.log('|---|---:|---:|---:|');
  console.log(`| bare SELECT count(*) FROM contacts | ${base.toFixed(1)} | ${CONTACTS.toLocaleString()} | 1.00× |`);
  for (const r of reads) {
    const m = median(ms[r.name]!);
    console.log(`| ${r.name} | ${m.toFixed(1)} | ${rowsRead[r.name]!.toLocaleString()} | ${(m / base).toFixed(2)}× |`);
  }
  console.log(`| **home total** | **${total.toFixed(1)}** | | **${(total / base).toFixed(2)}×** |`);
  return total;
}

async function plans(q: Q, reads: HomeRead[]) {
  for (const r of reads) {
    const plan = (await q(`EXPLAIN QUERY PLAN ${r.sql}`, r.params)).results.map((x) => String(x.detail));
    console.log(`\n${r.name}:\n  ${plan.join('\n  ')}`);
  }
}

/** The write side, once each: the cron's daily counts at N contacts and the ledger trigger per row. */
async function writeCosts(q: Q) {
  const scratch = -1; // a day no real row has; deleted afterwards
  console.log('\nwrite side (once each, ms inside workerd):');
  const group = await q(COVERAGE_BY_GROUP, [scratch]);
  const totals = await q(COVERAGE_TOTALS, [scratch, 0]);
  console.log(`- cron, daily tag coverage: by group ${group.ms} ms, totals ${totals.ms} ms (once a day)`);
  await q('DELETE FROM tag_group_daily_coverage WHERE day = ?', [scratch]);
  await q('DELETE FROM department_daily_counts WHERE day = ?', [scratch]);

  // a segment as the cron snapshots it: the old plain count, against the count by department
  const where = { sql: 'c.total_spend >= ?', params: [100_000] };
  const plain = await q(`SELECT COUNT(*) AS n FROM contacts c WHERE ${where.sql}`, where.params);
  const byDept = await q(SEGMENT_DEPARTMENT_SIZES(where.sql), [BENCH_SEGMENT_BASE, scratch, ...where.params]);
  await q(SEGMENT_RECORDED, [BENCH_SEGMENT_BASE, scratch]);
  const total = await q(SEGMENT_TOTAL, [BENCH_SEGMENT_BASE, scratch]);
  console.log(
    `- cron, one segment's snapshot (spend ≥ ¥1,000): plain count ${plain.ms} ms; by department ${byDept.ms} ms + total ${total.ms} ms`,
  );
  await q('DELETE FROM segment_snapshot_departments WHERE day = ?', [scratch]);
  await q('DELETE FROM segment_snapshots WHERE day = ?', [scratch]);

  // the ledger trigger: 100,000 rule rows with it, then without it (recreated from its own text)
  const rows = 100_000;
  const insert = `${seq(rows)} INSERT INTO tag_ledger (contact_id, tag_id, op, source, rule_id, rule_version, batch_id, at)
    SELECT 1 + i, 1, 'add', 'rule', ${BENCH_RULE_BASE}, 1, 'bench-trigger', ? + i FROM seq`;
  const cleanup = async () => {
    await q(`DELETE FROM tag_ledger WHERE batch_id = 'bench-trigger'`);
    await q(`DELETE FROM rule_activity_hourly WHERE rule_id = ${BENCH_RULE_BASE} AND hour < 0`);
  };
  const at = -10 * 86_400_000; // before 1970: hours no read touches
  const withTrigger = await q(insert, [at]);
  await cleanup();
  const def = String(
    (await q(`SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'tag_ledger_rule_activity'`)).results[0]!.sql,
  );
  await q('DROP TRIGGER tag_ledger_rule_activity');
  let without: Awaited<ReturnType<Q>>;
  try {
    without = await q(insert, [at]);
  } finally {
    await q(def);
  }
  await cleanup();
  console.log(
    `- tag_ledger trigger: ${rows.toLocaleString()} rule rows inserted in ${withTrigger.ms} ms with it, ${without.ms} ms without (${(((withTrigger.ms - without.ms) / rows) * 1000).toFixed(2)} µs a row)`,
  );
}

async function main() {
  prepare();
  const { q, close } = await openTimedD1(DIR);
  try {
    const now = Date.now();
    const today = dayNumber(now, TZ);
    const nowHour = Math.floor(now / HOUR);
    await writeHistory(q, today, nowHour);
    const n = Number((await q('SELECT count(*) AS n FROM contacts')).results[0]!.n);
    const dept = (await q(`SELECT path FROM departments WHERE parent_id IS NOT NULL ORDER BY id LIMIT 1`)).results[0]!.path as string;
    log(`${n.toLocaleString()} contacts; department admin scope ${dept}`);
    const windows = {
      segmentFromDay: today - 89,
      ruleFromHour: Math.floor(dayStartMs(today - 29, TZ) / HOUR),
      intakeFromHour: nowHour - 47,
      tzOffsetMinutes: TZ,
    };
    const superReads = homeReads({ path: null, ...windows });
    const deptReads = homeReads({ path: dept, ...windows });
    console.log(
      `\nload average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
    const superTotal = await timeReads(q, 'super admin', superReads);
    const deptTotal = await timeReads(q, `department admin (${dept})`, deptReads);
    console.log(`\nhome total: super admin ${superTotal.toFixed(1)} ms, department admin ${deptTotal.toFixed(1)} ms (budget 300 ms)`);
    console.log('\nquery plans, super admin:');
    await plans(q, superReads);
    console.log('\nquery plans, department admin (the statements that differ):');
    await plans(
      q,
      deptReads.filter((r) => r.name !== 'intake per hour'),
    );
    await writeCosts(q);
  } finally {
    await close();
  }
}

await main();
