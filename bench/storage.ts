/**
 * D1 bytes per contact before and after the event archive (issue 15), on a local SQLite file
 * built the way D1 builds it: the real migrations, then the demo generator's data
 * (`shared/src/demo`: contacts, 180 days of events, the daily rollup, tags and ledger).
 *
 *   npx tsx bench/storage.ts [--contacts 1000000] [--avg-events 12] [--days 180] [--horizon 90] [--seed 1]
 *
 * Node 20 has no `node:sqlite`, so the file is written by the `sqlite3` command-line shell (the
 * same SQLite library D1 runs; `dbstat` gives bytes per table and index). "Before" is the file as
 * loaded; "after" is the same file once every event older than the horizon is deleted and the
 * archive's records (one `event_archive` row per chunk of `DEFAULT_CHUNK_ROWS`) are written, as
 * the job leaves it — then VACUUM, since a deleting database reuses its free pages rather than
 * shrinking. The archived rows are also written as the job writes them (NDJSON per day in
 * (contact, id) order, gzip) to report R2 bytes per contact.
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { demoSql } from '@shared/demo';
import { EVENT_TYPES } from '@shared/domain';
import { dayNumber, dayStartMs } from '@shared/time';
import { ROOT } from './local';

const { values } = parseArgs({
  options: {
    contacts: { type: 'string', default: '1000000' },
    'avg-events': { type: 'string', default: '12' },
    days: { type: 'string', default: '180' },
    horizon: { type: 'string', default: '90' },
    seed: { type: 'string', default: '1' },
  },
});
const contacts = Number(values.contacts);
const avgEvents = Number(values['avg-events']);
const days = Number(values.days);
const horizon = Number(values.horizon);
const TZ = 480;
/** `DEFAULT_CHUNK_ROWS` of worker/src/archive/job.ts (worker code, typed for Workers: not imported here). */
const DEFAULT_CHUNK_ROWS = 5000;
/** The archive's line format (worker/src/archive/ndjson.ts): the D1 columns as stored, contact first. */
const COLUMNS = [
  'contact_id',
  'id',
  'source_id',
  'sender_event_id',
  'type',
  'occurred_at',
  'received_at',
  'amount',
  'channel',
  'group_id',
  'text',
  'properties',
] as const;
type ContactEventRow = Record<(typeof COLUMNS)[number], string | number | null> & { contact_id: number; id: number };
const toNdjson = (rows: readonly ContactEventRow[]) =>
  rows.map((r) => JSON.stringify(Object.fromEntries(COLUMNS.map((c) => [c, r[c]]))) + '\n').join('');
/** D1's limit per database (10 GB, decimal as Cloudflare states it). */
const D1_LIMIT = 10e9;

const dir = mkdtempSync(path.join(tmpdir(), 'segflow-storage-'));
const file = path.join(dir, 'd1.sqlite');
const sql = (q: string) => execFileSync('sqlite3', ['-json', file, q], { encoding: 'utf8', maxBuffer: 1 << 30 });
// an index on occurred_at alone would let the per-day reads below seek; the app has none (it reads by type), so:
const TYPES_IN = `type IN (${EVENT_TYPES.map((t) => `'${t}'`).join(', ')})`;
const rows = <T>(q: string): T[] => {
  const out = sql(q).trim();
  return out ? (JSON.parse(out) as T[]) : [];
};

/** Streams statements into one sqlite3 process, in transactions of 200 statements. */
async function load(statements: Iterable<string>): Promise<void> {
  const child = spawn('sqlite3', [file], { stdio: ['pipe', 'ignore', 'inherit'] });
  const done = new Promise<void>((resolve, reject) =>
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sqlite3 exited ${code}`)))),
  );
  const write = (s: string) => (child.stdin.write(s) ? Promise.resolve() : new Promise<void>((r) => child.stdin.once('drain', () => r())));
  // a 2 GB page cache: with the default 2 MB, index inserts at 1M contacts go to disk and the load takes hours
  await write('PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -2000000;\n');
  let n = 0;
  await write('BEGIN;\n');
  for (const s of statements) {
    await write(s + ';\n');
    if (++n % 200 === 0) await write('COMMIT; BEGIN;\n');
  }
  await write('COMMIT;\n');
  child.stdin.end();
  await done;
}

interface Sizes {
  total: number;
  byName: Map<string, number>;
}
function measure(): Sizes {
  sql('VACUUM');
  const [pc] = rows<{ b: number }>('SELECT page_count * page_size AS b FROM pragma_page_count(), pragma_page_size()');
  const byName = new Map(
    rows<{ name: string; b: number }>('SELECT name, SUM(pgsize) AS b FROM dbstat GROUP BY name').map((r) => [r.name, r.b]),
  );
  return { total: pc!.b, byName };
}

const now = Date.now();
const t0 = performance.now();
const migrations = readdirSync(path.join(ROOT, 'migrations'))
  .filter((f) => f.endsWith('.sql'))
  .sort();
await load(migrations.map((f) => readFileSync(path.join(ROOT, 'migrations', f), 'utf8').replaceAll('--> statement-breakpoint', '')));
await load(demoSql({ contacts, seed: Number(values.seed), now, avgEvents, days }));
const loadedS = ((performance.now() - t0) / 1000).toFixed(0);
const counts = rows<{ t: string; n: number }>(
  `SELECT 'contacts' AS t, COUNT(*) AS n FROM contacts UNION ALL SELECT 'events', COUNT(*) FROM events UNION ALL SELECT 'contact_daily_stats', COUNT(*) FROM contact_daily_stats UNION ALL SELECT 'contact_tags', COUNT(*) FROM contact_tags UNION ALL SELECT 'tag_ledger', COUNT(*) FROM tag_ledger`,
);
const before = measure();

// The archive: every day older than the horizon (days before today − horizon + 1).
const cutoffMs = dayStartMs(dayNumber(now, TZ) - horizon + 1, TZ);
// One day at a time, in the job's order, so memory stays one day's rows.
const firstDay = rows<{ d: number | null }>(`SELECT MIN(occurred_at) AS d FROM events WHERE ${TYPES_IN}`)[0]!.d;
let archivedEvents = 0;
let archivedDays = 0;
let r2Bytes = 0;
let chunks = 0;
const records: string[] = [];
for (let day = dayNumber(firstDay ?? cutoffMs, TZ); dayStartMs(day, TZ) < cutoffMs; day++) {
  const from = dayStartMs(day, TZ);
  const list = rows<ContactEventRow>(
    `SELECT ${COLUMNS.join(', ')} FROM events
     WHERE ${TYPES_IN} AND occurred_at >= ${from} AND occurred_at < ${from + 86_400_000} ORDER BY contact_id, id`,
  );
  if (!list.length) continue;
  archivedEvents += list.length;
  archivedDays++;
  for (let i = 0; i < list.length; i += DEFAULT_CHUNK_ROWS) {
    const part = list.slice(i, i + DEFAULT_CHUNK_ROWS);
    const gz = gzipSync(toNdjson(part)).byteLength;
    r2Bytes += gz;
    const chunk = i / DEFAULT_CHUNK_ROWS;
    records.push(
      `INSERT INTO event_archive VALUES (${day}, ${chunk}, 'events/${new Date(day * 86_400_000).toISOString().slice(0, 10)}/${String(chunk).padStart(5, '0')}.ndjson.gz', ${part.length}, ${part[0]!.contact_id}, ${part[part.length - 1]!.contact_id}, ${Math.max(...part.map((e) => e.id))}, '${'0'.repeat(64)}', ${gz}, ${now}, ${now})`,
    );
    chunks++;
  }
}
await load([`DELETE FROM events WHERE occurred_at < ${cutoffMs}`, ...records]);
const after = measure();

const per = (b: number) => b / contacts;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
console.log(
  `storage: ${fmt(contacts)} contacts, ~${avgEvents} events each over ${days} days, horizon ${horizon} days (loaded in ${loadedS} s)`,
);
for (const c of counts) console.log(`  ${c.t.padEnd(20)} ${fmt(c.n).padStart(14)} rows`);
console.log(
  `  archived: ${fmt(archivedEvents)} events of ${archivedDays} days in ${fmt(chunks)} chunks, ${fmt(r2Bytes)} bytes gzipped in R2 (${per(r2Bytes).toFixed(0)} B/contact)`,
);
console.log('\n| | D1 bytes | bytes per contact | contacts per 10 GB |\n|---|---:|---:|---:|');
for (const [name, s] of [
  ['before (180 days of raw events)', before],
  [`after (raw events of the last ${horizon} days)`, after],
] as const)
  console.log(`| ${name} | ${fmt(s.total)} | ${per(s.total).toFixed(0)} | ${fmt(D1_LIMIT / per(s.total))} |`);
console.log('\nper table and index (bytes per contact, before → after):');
const names = [...before.byName.keys()].sort((a, b) => (before.byName.get(b) ?? 0) - (before.byName.get(a) ?? 0));
for (const n of names.slice(0, 14))
  console.log(
    `  ${n.padEnd(40)} ${per(before.byName.get(n) ?? 0)
      .toFixed(0)
      .padStart(6)} → ${per(after.byName.get(n) ?? 0)
      .toFixed(0)
      .padStart(6)}`,
  );
rmSync(dir, { recursive: true, force: true });
