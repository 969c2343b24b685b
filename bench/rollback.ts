/**
 * Rollback planning on a large local D1: `npx tsx bench/rollback.ts [--dir /tmp/bench-rollback] [--contacts 100000] [--runs 5]`
 *
 * Prepares its own wrangler state directory (migrations + `scripts/seed.ts --contacts N`; reused
 * when already seeded), starts ONE Miniflare instance on it with a tiny worker that runs a
 * statement on `env.DB` in workerd, and times, interleaved, median of `--runs`:
 *   - baseline: `SELECT count(*) FROM tag_ledger WHERE source = 'rollback'` (source has no index:
 *     one full scan of the ledger);
 *   - the preview counts (`planCte` of worker/src/rollback/sql.ts grouped by op and skip, and the
 *     displaced-siblings count) of: everyone back 30 days, one contact back 30 days, undoing the
 *     largest ledger batch, restoring the demo's retired campaign tag with its holders.
 * Prints ms, D1 rows read and the ratio to the baseline measured in the same round. Nothing is
 * written. Delete the directory afterwards.
 */

import { loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DISPLACED_SQL, batchPlan, planCte, tagRestorePlan, toTimePlan, type Plan } from '../worker/src/rollback/sql';
import { median, openTimedD1, migrateAndSeed } from './local';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: '/tmp/bench-rollback' },
    contacts: { type: 'string', default: '100000' },
    runs: { type: 'string', default: '5' },
  },
});
const DIR = path.resolve(values.dir);
const CONTACTS = Number(values.contacts);
const RUNS = Number(values.runs);
const log = (s: string) => process.stderr.write(`${s}\n`);
const DAY = 86_400_000;

function prepare() {
  migrateAndSeed(DIR, CONTACTS, log);
}

/** The two statements a preview's counts come from. */
function counts(plan: Plan) {
  const cte = planCte(plan);
  return [
    {
      part: 'by op',
      sql: `WITH ${cte.sql} SELECT op, coalesce(skip, '') AS skip, count(*) AS n FROM plan GROUP BY op, skip`,
      params: cte.params,
    },
    {
      part: 'displaced',
      sql: `WITH ${cte.sql}, d AS (${DISPLACED_SQL}) SELECT count(*) AS n FROM d`,
      params: [...cte.params, plan.restoresTagId ?? null],
    },
  ];
}

async function main() {
  prepare();
  const { q, close } = await openTimedD1(DIR);
  try {
    const one = async (sql: string) => (await q(sql)).results[0] ?? {};
    const ledgerRows = Number((await one('SELECT count(*) AS n FROM tag_ledger')).n);
    const holdings = Number((await one('SELECT count(*) AS n FROM contact_tags')).n);
    const now = Number((await one('SELECT max(at) AS m FROM tag_ledger')).m);
    const contact = Number((await one('SELECT contact_id AS c FROM tag_ledger GROUP BY contact_id ORDER BY count(*) DESC LIMIT 1')).c);
    const batch = (await one(
      'SELECT batch_id AS b, count(*) AS n FROM tag_ledger WHERE batch_id IS NOT NULL GROUP BY batch_id ORDER BY n DESC LIMIT 1',
    )) as { b: string; n: number };
    const retired = (await one(
      `SELECT id, retired_at FROM tags WHERE status = 'retired' AND retired_at IS NOT NULL ORDER BY id LIMIT 1`,
    )) as { id: number; retired_at: number };
    log(
      `${ledgerRows.toLocaleString()} ledger rows, ${holdings.toLocaleString()} holdings; largest batch ${batch.b} (${batch.n} rows); load ${loadavg()[0]!.toFixed(2)}`,
    );

    const statements = [
      {
        key: 'baseline',
        label: 'baseline: full scan of tag_ledger (source not indexed)',
        sql: `SELECT count(*) AS n FROM tag_ledger WHERE source = 'rollback'`,
        params: [] as unknown[],
      },
      ...counts(toTimePlan(now - 30 * DAY)).map((s) => ({ key: `everyone-${s.part}`, label: `everyone back 30 days: ${s.part}`, ...s })),
      ...counts(toTimePlan(now - 30 * DAY, contact)).map((s) => ({
        key: `contact-${s.part}`,
        label: `one contact (busiest) back 30 days: ${s.part}`,
        ...s,
      })),
      ...counts(batchPlan(batch.b)).map((s) => ({ key: `batch-${s.part}`, label: `undo batch of ${batch.n} rows: ${s.part}`, ...s })),
      ...counts(tagRestorePlan(retired.id, retired.retired_at)).map((s) => ({
        key: `restore-${s.part}`,
        label: `restore retired tag #${retired.id}: ${s.part}`,
        ...s,
      })),
    ];
    const times = new Map<string, number[]>(statements.map((s) => [s.key, []]));
    const rowsRead = new Map<string, number>();
    const answers = new Map<string, string>();
    for (let run = 0; run < RUNS; run++) {
      for (const s of statements) {
        const r = await q(s.sql, s.params);
        if (run === 0) log(`  ${s.label}: ${r.ms} ms`);
        times.get(s.key)!.push(r.ms);
        rowsRead.set(s.key, r.meta.rows_read ?? 0);
        answers.set(s.key, JSON.stringify(r.results));
      }
    }
    const base = median(times.get('baseline')!);
    console.log(
      `\n${CONTACTS.toLocaleString()} contacts, ${ledgerRows.toLocaleString()} ledger rows, ${holdings.toLocaleString()} holdings, median of ${RUNS}`,
    );
    console.log(`${'statement'.padEnd(58)} ${'ms'.padStart(8)} ${'× base'.padStart(8)} ${'rows read'.padStart(12)}  answer`);
    for (const s of statements) {
      const ms = median(times.get(s.key)!);
      console.log(
        `${s.label.padEnd(58)} ${ms.toFixed(0).padStart(8)} ${(ms / base).toFixed(2).padStart(8)} ${rowsRead.get(s.key)!.toLocaleString().padStart(12)}  ${answers.get(s.key)!.slice(0, 120)}`,
      );
    }
    console.log(`\nquery plan, everyone back 30 days:`);
    const plan = counts(toTimePlan(now - 30 * DAY))[0]!;
    for (const row of (await q(`EXPLAIN QUERY PLAN ${plan.sql}`, plan.params)).results) console.log(`  ${String(row.detail)}`);
  } finally {
    await close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
