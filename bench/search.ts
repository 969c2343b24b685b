/**
 * Pinyin search at scale: `npx tsx bench/search.ts [--dir /tmp/bench-1m] [--contacts 1000000] [--runs 7]`
 *
 * 1. Prepares (or reuses) a wrangler state directory as bench/preview.ts does: migrations, then
 *    `scripts/seed.ts --contacts N`, which also keys every queued name (a directory seeded before
 *    migration 0012 gets all its names keyed here, once).
 * 2. Opens that D1 in Miniflare and times, interleaved, median of `--runs`, inside workerd:
 *    - id:        `count(*)` of the contacts list's search for an external id (the baseline);
 *    - initials:  the same search for a name's initials ("zlk");
 *    - keys-only / external-id-only: the indexed part of each alone (a prefix range on
 *      search_keys' primary key / the external_id unique index);
 *    - substring / substring-scan: text inside names and remarks ("华东") through the keys, and
 *      the `instr` scan over every contact that the list ran before (the same contacts);
 *    and prints each one's query plan. The search is the list's (worker/src/routes/contacts.ts,
 *    the same meaning as the export's SQL): key prefix ranges (pinyin, initials, any text inside
 *    name and remark) OR external id equals it.
 * 3. Prints the size of the web bundle and the worker bundle (pinyin-pro and opencc-js are the
 *    bulk of what issue 20 added), gzipped, as built by `npm run build` / wrangler's bundler.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { nameQuery, prefixEnd, type NameQuery } from '@shared/search/pinyin';
import { ROOT, WRANGLER_ENV, median, openTimedD1, migrateAndSeed } from './local';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: '/tmp/bench-1m' },
    contacts: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '7' },
    query: { type: 'string', default: 'zlk' },
  },
});
const DIR = values.dir!;
const CONTACTS = Number(values.contacts);
const RUNS = Number(values.runs);
const log = (s: string) => console.log(`[search] ${s}`);

function prepare() {
  migrateAndSeed(DIR, CONTACTS, log);
}

/** The contacts list's search for `text`, as SQL over `contacts c` (the export's form of the same predicate). */
function listSearch(text: string): { sql: string; params: unknown[] } {
  const q = nameQuery(text);
  if (!q) {
    // punctuation only: keys fold it away, so the list scans for the text as typed
    return {
      sql: `(instr(lower(c.name), lower(?)) > 0 OR instr(lower(c.remark), lower(?)) > 0 OR c.external_id = ?)`,
      params: [text, text, text],
    };
  }
  return {
    sql: `(c.id IN (${keyRanges(q).sql}) OR c.external_id = ?)`,
    params: [...keyRanges(q).params, text],
  };
}

/** A key of a contact starting with one of the query's prefixes (worker/src/db/search.ts, written out). */
function keyRanges(q: NameQuery): { sql: string; params: unknown[] } {
  return {
    sql: `SELECT ref_id FROM search_keys WHERE kind = 'contact' AND (${q.prefixes.map(() => '(key >= ? AND key < ?)').join(' OR ')})`,
    params: q.prefixes.flatMap((p) => [p, prefixEnd(p)]),
  };
}

function gzipSize(file: string): number {
  return gzipSync(readFileSync(file)).length;
}

function bundleSizes(): { web: number; worker: number } {
  const assets = path.join(ROOT, 'web', 'dist', 'assets');
  const web = existsSync(assets)
    ? readdirSync(assets)
        .filter((f) => f.endsWith('.js'))
        .reduce((n, f) => n + gzipSize(path.join(assets, f)), 0)
    : 0;
  const out = mkdtempSync(path.join(tmpdir(), 'segflow-bundle-'));
  try {
    execFileSync('npx', ['wrangler', 'deploy', '--dry-run', '--outdir', out], { cwd: ROOT, env: WRANGLER_ENV, stdio: 'ignore' });
    const worker = readdirSync(out)
      .filter((f) => f.endsWith('.js'))
      .reduce((n, f) => n + gzipSize(path.join(out, f)), 0);
    return { web, worker };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

async function main() {
  prepare();
  const { q, close } = await openTimedD1(DIR);
  try {
    const one = async (sql: string, params: unknown[] = []) => (await q(sql, params)).results[0] ?? {};
    const n = Number((await one('SELECT count(*) AS n FROM contacts')).n);
    const keys = Number((await one(`SELECT count(*) AS n FROM search_keys WHERE kind = 'contact'`)).n);
    const queued = Number((await one('SELECT count(*) AS n FROM search_key_queue')).n);
    const ext = String((await one('SELECT external_id AS e FROM contacts WHERE id = 7')).e);
    log(
      `${n.toLocaleString()} contacts, ${keys.toLocaleString()} contact keys (${(keys / n).toFixed(1)} per contact), ${queued} still queued`,
    );

    const initials = values.query!;
    const p = nameQuery(initials)!;
    const cases: Record<string, { sql: string; params: unknown[] }> = {
      id: { sql: `SELECT count(*) AS n FROM contacts c WHERE ${listSearch(ext).sql}`, params: listSearch(ext).params },
      initials: { sql: `SELECT count(*) AS n FROM contacts c WHERE ${listSearch(initials).sql}`, params: listSearch(initials).params },
      'external-id-only': { sql: 'SELECT count(*) AS n FROM contacts c WHERE c.external_id = ?', params: [ext] },
      'keys-only': { sql: `SELECT count(*) AS n FROM contacts c WHERE c.id IN (${keyRanges(p).sql})`, params: keyRanges(p).params },
      substring: { sql: `SELECT count(*) AS n FROM contacts c WHERE ${listSearch('华东').sql}`, params: listSearch('华东').params },
      'substring-scan': {
        sql: `SELECT count(*) AS n FROM contacts c WHERE instr(lower(c.name), lower(?)) > 0 OR instr(lower(c.remark), lower(?)) > 0`,
        params: ['华东', '华东'],
      },
    };
    const ms: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
    const found: Record<string, number> = {};
    for (let run = 0; run < RUNS; run++) {
      for (const [name, c] of Object.entries(cases)) {
        const r = await q(c.sql, c.params);
        ms[name]!.push(r.ms);
        found[name] = Number(r.results[0]?.n);
      }
    }
    const base = median(ms.id!);
    const baseIndexed = median(ms['external-id-only']!);
    console.log(
      `\nload average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}; ${RUNS} runs, median ms; query "${initials}" vs external id ${ext}`,
    );
    console.log('| search | found | ms | × list search by id | × external-id index |');
    console.log('|---|---:|---:|---:|---:|');
    for (const name of Object.keys(cases)) {
      const m = median(ms[name]!);
      console.log(`| ${name} | ${found[name]} | ${m.toFixed(1)} | ${(m / base).toFixed(2)}× | ${(m / baseIndexed).toFixed(2)}× |`);
    }
    for (const [name, c] of Object.entries(cases)) {
      const plan = (await q(`EXPLAIN QUERY PLAN ${c.sql}`, c.params)).results.map((r) => String(r.detail));
      console.log(`\n${name}:\n  ${plan.join('\n  ')}`);
    }
  } finally {
    await close();
  }
  const sizes = bundleSizes();
  console.log(`\nbundles (gzip): web ${(sizes.web / 1024).toFixed(0)} KiB (all chunks), worker ${(sizes.worker / 1024).toFixed(0)} KiB`);
}

await main();
