/**
 * Seeds the local D1 that `wrangler dev` uses with deterministic demo data
 * (shared/src/demo). Migrations are applied beforehand by `npm run db:migrate`.
 *
 *   npx tsx scripts/seed.ts [--contacts 10000] [--seed 1] [--avg-events 12] [--now <ms|ISO>]
 *                           [--persist-to <dir>] [--reset] [--drop-indexes | --keep-indexes] [--history-days 90]
 *
 * Without --reset an already seeded database is left alone (exit 0), so `npm start` twice
 * keeps the user's data. --reset deletes every row of every app table first.
 *
 * How it writes: the same way `wrangler d1 execute --local` does — a Miniflare instance on
 * wrangler's persist directory (`<persist-to>/v3/d1`, database id from wrangler.toml) — but
 * one instance for the whole load. Statements go as JSON to a tiny loader worker that runs them
 * with `env.DB.batch()` (one transaction per 40 statements) inside workerd — ~35% faster than
 * the D1 proxy `getD1Database()` returns — and the next batch is generated while the
 * previous one is written. D1 refuses the
 * PRAGMAs that would speed SQLite up (synchronous, journal_mode, cache_size → SQLITE_AUTH),
 * so for large loads secondary indexes are dropped and rebuilt afterwards instead.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Miniflare } from 'miniflare';
import {
  DEMO_PASSWORD,
  demoCompileOptions,
  demoRules,
  demoSegmentInsert,
  demoSegments,
  demoSql,
  scheduledRuns,
  segmentHistory,
} from '@shared/demo/index';
import { compileRule } from '@shared/rules/compile';
import { netPlanOver } from '@shared/rules/net-effect';
import { templateById } from '@shared/templates/templates';
import type { JsonLogic } from '@shared/rules/types';
import { storedKeys } from '@shared/search/pinyin';
import { SEARCH_KINDS } from '@shared/search/kinds';
import { hashPassword, randomSalt } from '@shared/auth/password';
import { dayNumber, dayStartMs, SHANGHAI_OFFSET_MINUTES } from '@shared/time';
import {
  COVERAGE_BY_GROUP,
  COVERAGE_DONE,
  COVERAGE_TOTALS,
  SEGMENT_DEPARTMENT_SIZES,
  SEGMENT_RECORDED,
  SEGMENT_TOTAL,
} from '../worker/src/home/sql';
// the segments API's compiler (pure: imports only shared/), so the stored predicate is the API's
import { compileSegment } from '../worker/src/rules/segment';
// the rules' own workspace and apply step (publishing and scheduled runs write through them)
import { compileOptions, loadWorkspace } from '../worker/src/rules/context';
import { pastRunStatements } from '../worker/src/rules/past-runs';

const HELP = `Usage: npx tsx scripts/seed.ts [options]
  --contacts N        contacts to generate (default 10000)
  --seed N            generator seed (default 1)
  --avg-events N      mean behaviour events per contact (default 12; 4 above 200k contacts)
  --now T             "now" for the data, epoch ms or ISO date (default: the current time)
  --persist-to DIR    wrangler state directory (default .wrangler/state), as in wrangler dev --persist-to
  --reset             delete all existing rows first
  --drop-indexes      drop secondary indexes during the load and rebuild them (default above 50k contacts)
  --keep-indexes      never drop indexes
  --history-days N    days of demo segment sizes and demo rule runs to back-compute, today included
                      (default 90; 0 above 50k contacts, which also leaves the demo rules out)
  --help`;

const REPO_ROOT = path.resolve(import.meta.dirname, '..');

const LOADER_WORKER = `export default {
  async fetch(request, env) {
    const statements = await request.json();
    await env.DB.batch(statements.map((s) => env.DB.prepare(s)));
    return new Response('ok');
  },
};`;

/** Statements per `batch()` call: one transaction, one round trip to workerd. */
const STATEMENTS_PER_BATCH = 40;

interface Args {
  contacts: number;
  seed: number;
  avgEvents: number;
  now: number;
  persistTo: string;
  reset: boolean;
  dropIndexes: boolean;
  historyDays: number;
}

function parse(): Args {
  const { values } = parseArgs({
    options: {
      contacts: { type: 'string' },
      seed: { type: 'string' },
      'avg-events': { type: 'string' },
      now: { type: 'string' },
      'persist-to': { type: 'string' },
      reset: { type: 'boolean', default: false },
      'drop-indexes': { type: 'boolean', default: false },
      'keep-indexes': { type: 'boolean', default: false },
      'history-days': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const int = (name: string, raw: string | undefined, fallback: number) => {
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw)) fail(`--${name} must be a whole number, got "${raw}"`);
    return Number(raw);
  };
  const contacts = int('contacts', values.contacts, 10_000);
  let now = Date.now();
  if (values.now !== undefined) {
    now = /^\d+$/.test(values.now) ? Number(values.now) : Date.parse(values.now);
    if (!Number.isFinite(now)) fail(`--now must be epoch ms or an ISO date, got "${values.now}"`);
  }
  return {
    contacts,
    seed: int('seed', values.seed, 1),
    avgEvents: int('avg-events', values['avg-events'], contacts > 200_000 ? 4 : 12),
    now,
    // As wrangler: --persist-to is relative to the cwd, the default to wrangler.toml's folder.
    persistTo:
      values['persist-to'] !== undefined ? path.resolve(process.cwd(), values['persist-to']) : path.join(REPO_ROOT, '.wrangler', 'state'),
    reset: values.reset,
    dropIndexes: values['keep-indexes'] ? false : values['drop-indexes'] || contacts > 50_000,
    // 450 counts over every contact: seconds at 10k, far too long for the 1M bench seeds
    historyDays: int('history-days', values['history-days'], contacts > 50_000 ? 0 : 90),
  };
}

function fail(message: string): never {
  console.error(`seed: ${message}`);
  process.exit(1);
}

/** The local database id wrangler uses for binding DB: preview_database_id ?? database_id. */
function databaseId(): string {
  const toml = readFileSync(path.join(REPO_ROOT, 'wrangler.toml'), 'utf8');
  for (const block of toml.split(/^\[\[d1_databases\]\]\s*$/m).slice(1)) {
    const body = block.split(/^\[/m)[0] ?? '';
    const field = (k: string) => new RegExp(`^\\s*${k}\\s*=\\s*"([^"]*)"`, 'm').exec(body)?.[1];
    if (field('binding') === 'DB') {
      const id = field('preview_database_id') ?? field('database_id') ?? 'DB';
      return id;
    }
  }
  return fail('wrangler.toml has no [[d1_databases]] entry with binding = "DB"');
}

function dirSize(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    total += entry.isDirectory() ? dirSize(p) : statSync(p).size;
  }
  return total;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * Demo users without a password get the demo one, each with their own salt (PBKDF2 as in the
 * worker); also run on an existing database seeded before sign-in existed.
 */
async function setDemoPasswords(db: Awaited<ReturnType<Miniflare['getD1Database']>>) {
  const { results } = await db.prepare('SELECT id FROM users WHERE password_hash IS NULL').all<{ id: number }>();
  if (results.length) {
    const updates = await Promise.all(
      results.map(async ({ id }) => {
        const salt = randomSalt();
        return db
          .prepare('UPDATE users SET password_hash = ?, password_salt = ? WHERE id = ?')
          .bind(await hashPassword(DEMO_PASSWORD, salt), salt, id);
      }),
    );
    await db.batch(updates);
  }
  console.log(`seed: sign in as admin@segflow.demo (super admin) with password "${DEMO_PASSWORD}"; every demo user has it`);
}

/**
 * Keys every queued name (the triggers of migration 0012 queue each inserted row) as the
 * worker's cron step does (worker/src/search/keys.ts `keyQueued`), all at once: the demo is
 * searchable by pinyin as soon as `npm start` serves it. Answers how many names were keyed.
 */
async function keyDemoNames(db: Awaited<ReturnType<Miniflare['getD1Database']>>): Promise<number> {
  const TABLE = { contact: 'contacts', user: 'users', tag: 'tags', rule: 'rules' } as const;
  let keyed = 0;
  for (const kind of SEARCH_KINDS) {
    for (;;) {
      const { results } = await db
        .prepare(
          `SELECT t.id, t.name${kind === 'contact' ? ', t.remark' : ''} FROM search_key_queue q JOIN ${TABLE[kind]} t ON t.id = q.ref_id WHERE q.kind = ? LIMIT 5000`,
        )
        .bind(kind)
        .all<{ id: number; name: string | null; remark?: string | null }>();
      if (!results.length) break;
      const json = JSON.stringify(results.map((r) => ({ id: r.id, keys: storedKeys(kind, r.name, r.remark ?? null) })));
      await db.batch([
        db.prepare(`DELETE FROM search_keys WHERE kind = ?1 AND ref_id IN (SELECT j.value ->> 'id' FROM json_each(?2) j)`).bind(kind, json),
        db
          .prepare(
            `INSERT OR IGNORE INTO search_keys (kind, key, ref_id) SELECT ?1, k.value, j.value ->> 'id' FROM json_each(?2) j, json_each(j.value, '$.keys') k`,
          )
          .bind(kind, json),
        db
          .prepare(`DELETE FROM search_key_queue WHERE kind = ?1 AND ref_id IN (SELECT j.value ->> 'id' FROM json_each(?2) j)`)
          .bind(kind, json),
      ]);
      keyed += results.length;
    }
  }
  return keyed;
}

/**
 * Today's tag coverage per department, as the worker's cron counts it the first tick of a day
 * (worker/src/home/rollups.ts), so the home's coverage chart has data as soon as `npm start`
 * serves it (wrangler dev does not fire the Cron Trigger). Days in Asia/Shanghai, wrangler.toml's
 * TIMEZONE. Answers whether it counted (false: counted already today).
 */
async function countCoverage(db: Awaited<ReturnType<Miniflare['getD1Database']>>): Promise<boolean> {
  const now = Date.now();
  const day = dayNumber(now, SHANGHAI_OFFSET_MINUTES);
  if (await db.prepare(COVERAGE_DONE).bind(day).first()) return false;
  await db.batch([db.prepare(COVERAGE_BY_GROUP).bind(day), db.prepare(COVERAGE_TOTALS).bind(day, now)]);
  return true;
}

type D1 = Awaited<ReturnType<Miniflare['getD1Database']>>;

/**
 * The demo segments (shared/src/demo/segments.ts) with their predicate compiled as the segments
 * API compiles it, and their daily sizes over the last `historyDays` days, back-computed by
 * `segmentHistory` and written with the cron's own statements (by department, then the total),
 * so department users' charts work too. Today's row is written too, counted at now exactly as the
 * cron's first tick of the day would (wrangler dev fires no Cron Trigger, and its ON CONFLICT
 * means the cron then finds the day done). Only what is missing: a demo segment is added when no
 * segment has its name and none of that name was deleted (a `segment.delete` audit row), and only
 * days without a snapshot are counted, so a second start writes nothing.
 */
async function seedSegments(db: D1, historyDays: number) {
  const now = Date.now();
  const tz = SHANGHAI_OFFSET_MINUTES;
  const today = dayNumber(now, tz);
  const specs = demoSegments(now);
  const names = JSON.stringify(specs.map((s) => s.name));
  const [existing, deleted] = await db.batch<{ id: number; name: string; logic: string; created_at: number }>([
    db.prepare('SELECT id, name, logic, created_at FROM segments WHERE name IN (SELECT value FROM json_each(?))').bind(names),
    db
      .prepare(
        "SELECT DISTINCT params ->> 'name' AS name FROM audit_log WHERE action = 'segment.delete' AND params ->> 'name' IN (SELECT value FROM json_each(?))",
      )
      .bind(names),
  ]);
  const known = new Set([...existing!.results, ...deleted!.results].map((r) => r.name));
  const segments = existing!.results.map((r) => ({ id: r.id, logic: JSON.parse(r.logic) as JsonLogic | null, createdAt: r.created_at }));
  const createdAt = historyDays > 0 ? dayStartMs(today - historyDays + 1, tz) : now;
  let added = 0;
  for (const s of specs) {
    if (known.has(s.name)) continue;
    const compiled = compileSegment(s.graph, demoCompileOptions(now));
    if (!compiled.ok) fail(`demo segment ${s.name} does not compile: ${JSON.stringify(compiled.errors)}`);
    const insert = demoSegmentInsert(s, compiled.value.logic, createdAt);
    const row = await db
      .prepare(insert.sql)
      .bind(...insert.params)
      .first<{ id: number }>();
    segments.push({ id: row!.id, logic: compiled.value.logic, createdAt });
    added++;
  }

  let days = 0;
  for (const s of segments) {
    if (s.logic === null || historyDays === 0) continue;
    const recorded = await db
      .prepare('SELECT day FROM segment_snapshots WHERE segment_id = ? AND day > ?')
      .bind(s.id, today - historyDays)
      .all<{ day: number }>();
    const history = segmentHistory(s.logic, {
      now,
      days: historyDays,
      tzOffsetMinutes: tz,
      skip: new Set(recorded.results.map((r) => r.day)),
      fromDay: dayNumber(s.createdAt, tz),
    });
    if (!history.ok) fail(`segment ${s.id}: ${JSON.stringify(history.errors)}`);
    const statements = history.value.flatMap(({ day, where }) => [
      db.prepare(SEGMENT_DEPARTMENT_SIZES(where.sql)).bind(s.id, day, ...where.params),
      db.prepare(SEGMENT_RECORDED).bind(s.id, day),
      db.prepare(SEGMENT_TOTAL).bind(s.id, day),
    ]);
    for (let i = 0; i < statements.length; i += 30) await db.batch(statements.slice(i, i + 30));
    days += history.value.length;
  }
  return { added, days };
}

/** Runs `seedSegments` and says what it did and how long it took. */
async function reportSegments(db: D1, historyDays: number) {
  const t = performance.now();
  const { added, days } = await seedSegments(db, historyDays);
  console.log(
    added || days
      ? `seed: ${added} demo segments added, ${days} segment-days of size history counted in ${seconds(performance.now() - t)}`
      : `seed: demo segments and their history already there (checked in ${seconds(performance.now() - t)})`,
  );
}

/**
 * The demo rules (shared/src/demo/rules.ts): each made from its gallery template with the demo's
 * tags, published `historyDays` days ago by its department's admin, and every scheduled run since
 * back-computed with the worker's own apply step (worker/src/rules/apply.ts: the rule SQL at the
 * run's time, the net change, the tag writer), so `tag_ledger` and the home's rule-activity
 * rollup (kept by the ledger's trigger) hold the runs a cron would have made. As for segments,
 * each run sees the contacts created by then with their event windows at that time, and today's
 * values of everything else (a contact's last-active time, counters): contacts active lately
 * look inactive before, so some move stage once when they "come back". Only missing rules are
 * added (by name), so a second start writes nothing.
 */
async function seedRules(db: D1, historyDays: number) {
  const now = Date.now();
  const tz = SHANGHAI_OFFSET_MINUTES;
  const today = dayNumber(now, tz);
  // the benches' large seeds (no history) skip them: one apply over a million contacts is minutes
  if (historyDays === 0) return { added: 0, runs: 0, ledger: 0 };
  const specs = demoRules(now);
  const existing = await db
    .prepare('SELECT name FROM rules WHERE name IN (SELECT value FROM json_each(?))')
    .bind(JSON.stringify(specs.map((s) => s.name)))
    .all<{ name: string }>();
  const known = new Set(existing.results.map((r) => r.name));
  const todo = specs.filter((s) => !known.has(s.name));
  if (!todo.length) return { added: 0, runs: 0, ledger: 0 };
  const d1 = db as unknown as D1Database;
  const ws = await loadWorkspace(d1);
  const ledgerBefore = (await db.prepare('SELECT count(*) AS n FROM tag_ledger').first<{ n: number }>())!.n;
  const fromDay = today - historyDays + 1;
  const publishedAt = dayStartMs(fromDay, tz) + 2 * 3_600_000;
  let added = 0;
  let runs = 0;
  for (const spec of todo) {
    const template = templateById(spec.template)!;
    const ids = new Map<string, number>();
    for (const tag of template.tags) {
      const found = ws.tags.find((t) => t.groupName === tag.group && t.name === tag.name && t.status === 'active');
      if (found) ids.set(tag.key, found.id);
    }
    if (ids.size < template.tags.length) {
      console.log(`seed: rule ${spec.name} skipped: the database lacks some of its tags`);
      continue;
    }
    const built = template.build({ tagId: (k) => ids.get(k)!, notifyDestinationId: null });
    const cron = spec.cron;
    const graph = cron
      ? { ...built, nodes: built.nodes.map((n) => (n.kind === 'trigger' ? { ...n, trigger: { type: 'schedule' as const, cron } } : n)) }
      : built;
    const compiled = compileRule(graph, compileOptions(ws));
    if (!compiled.ok) fail(`demo rule ${spec.name} does not compile: ${JSON.stringify(compiled.errors)}`);
    const rule = compiled.value;
    if (rule.trigger.type !== 'schedule') fail(`demo rule ${spec.name} must be scheduled`);
    const net = netPlanOver(
      rule.actions,
      ws.tags.map((t) => ({ id: t.id, groupId: t.groupId, exclusive: t.groupExclusive })),
    );
    const path =
      spec.departmentId === null
        ? null
        : (await db.prepare('SELECT path FROM departments WHERE id = ?').bind(spec.departmentId).first<{ path: string }>())!.path;
    const graphText = JSON.stringify(graph);
    const [inserted] = await db.batch<{ id: number }>([
      db
        .prepare(
          `INSERT INTO rules (name, description, department_id, status, draft_graph, published_version, created_by, created_at, updated_at)
           VALUES (?, ?, ?, 'published', ?, 1, ?, ?, ?) RETURNING id`,
        )
        .bind(spec.name, spec.description, spec.departmentId, graphText, spec.publishedBy, publishedAt - 3_600_000, publishedAt),
      db
        .prepare(
          `INSERT INTO rule_versions (rule_id, version, graph, logic, trigger, rollout_percent, note, created_by, created_at, published_at)
           VALUES (last_insert_rowid(), 1, ?, ?, 'schedule', 100, ?, ?, ?, ?)`,
        )
        .bind(graphText, JSON.stringify(rule.logic), spec.description, spec.publishedBy, publishedAt, publishedAt),
    ]);
    const ruleId = inserted!.results[0]!.id;
    added++;
    // publishing applies it once; then each scheduled run
    const times = [publishedAt, ...scheduledRuns(rule.trigger.cron, fromDay, now, tz).filter((t) => t > publishedAt)];
    const pending: D1PreparedStatement[] = [];
    for (const at of times) {
      const statements = pastRunStatements(d1, rule, net, {
        ruleId,
        ruleVersion: 1,
        at,
        tzOffsetMinutes: tz,
        departmentPath: path,
        batchId: at === publishedAt ? `publish:${ruleId}:1` : `demo-run:${ruleId}:${at}`,
      });
      if (!statements.ok) fail(`demo rule ${spec.name}: ${JSON.stringify(statements.errors)}`);
      // runs follow each other inside a batch (statements run in order): fewer round trips to workerd
      pending.push(...statements.value);
      if (pending.length >= 200) await d1.batch(pending.splice(0));
      runs++;
    }
    if (pending.length) await d1.batch(pending.splice(0));
  }
  const ledger = (await db.prepare('SELECT count(*) AS n FROM tag_ledger').first<{ n: number }>())!.n - ledgerBefore;
  return { added, runs, ledger };
}

/** Runs `seedRules` and says what it did and how long it took. */
async function reportRules(db: D1, historyDays: number) {
  const t = performance.now();
  const { added, runs, ledger } = await seedRules(db, historyDays);
  console.log(
    added
      ? `seed: ${added} demo rules published from templates, ${runs} runs back-computed (${ledger.toLocaleString()} ledger rows) in ${seconds(performance.now() - t)}`
      : `seed: demo rules already there (checked in ${seconds(performance.now() - t)})`,
  );
}

// Long on purpose: the seed's steps in the order it runs and reports them.
async function main() {
  const args = parse();
  const started = performance.now();
  const d1Persist = path.join(args.persistTo, 'v3', 'd1');
  const mf = new Miniflare({
    modules: true,
    // A tiny loader worker: statements go to it as one JSON body per batch and run inside
    // workerd, which is faster than the D1 proxy that \`getD1Database()\` returns.
    script: LOADER_WORKER,
    d1Persist,
    d1Databases: { DB: databaseId() },
  });
  try {
    const db = await mf.getD1Database('DB');
    const tables = (
      await db
        .prepare(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name <> 'd1_migrations'",
        )
        .all<{ name: string }>()
    ).results.map((r) => r.name);
    if (!tables.includes('contacts'))
      fail(
        `no contacts table in ${d1Persist}: run \`npm run db:migrate\` (or wrangler d1 migrations apply DB --local --persist-to …) first`,
      );

    const existing = (await db.prepare('SELECT count(*) AS n FROM contacts').first<{ n: number }>())?.n ?? 0;
    if (existing > 0 && !args.reset) {
      console.log(`seed: ${existing.toLocaleString()} contacts already in ${d1Persist}; leaving them (use --reset to replace).`);
      await setDemoPasswords(db);
      // names written before migration 0012 (or by a path that does not key) get their search keys
      const keyed = await keyDemoNames(db);
      if (keyed) console.log(`seed: pinyin search keys for ${keyed.toLocaleString()} names already there`);
      await reportRules(db, args.historyDays);
      if (await countCoverage(db)) console.log('seed: today’s tag coverage counted for the home');
      await reportSegments(db, args.historyDays);
      return;
    }
    if (args.reset) {
      const t = performance.now();
      // One transaction with FK checks deferred to commit: no need to know the FK order of
      // tables others add later.
      await db.batch([db.prepare('PRAGMA defer_foreign_keys = on'), ...tables.map((name) => db.prepare(`DELETE FROM "${name}"`))]);
      console.log(`seed: reset ${tables.length} tables in ${seconds(performance.now() - t)}`);
    }

    let indexes: { name: string; sql: string }[] = [];
    if (args.dropIndexes) {
      // Rebuilt from their own definitions, so later migrations' indexes come back exactly.
      indexes = (
        await db
          .prepare(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ('contacts', 'events', 'contact_daily_stats', 'contact_tags', 'tag_ledger')",
          )
          .all<{ name: string; sql: string }>()
      ).results;
      if (indexes.length) await db.batch(indexes.map((i) => db.prepare(`DROP INDEX "${i.name}"`)));
    }

    console.log(
      `seed: ${args.contacts.toLocaleString()} contacts, seed ${args.seed}, ~${args.avgEvents} events each, now ${new Date(args.now).toISOString()} → ${d1Persist}`,
    );
    let generateMs = 0;
    let statements = 0;
    let bytes = 0;
    const loadStarted = performance.now();
    try {
      const source = demoSql({ contacts: args.contacts, seed: args.seed, now: args.now, avgEvents: args.avgEvents })[Symbol.iterator]();
      const nextBatch = (): string[] => {
        const t = performance.now();
        const out: string[] = [];
        while (out.length < STATEMENTS_PER_BATCH) {
          const r = source.next();
          if (r.done) break;
          out.push(r.value);
          bytes += r.value.length;
        }
        generateMs += performance.now() - t;
        return out;
      };
      const send = async (batch: string[]) => {
        const res = await mf.dispatchFetch('http://loader/', { method: 'POST', body: JSON.stringify(batch) });
        const text = await res.text();
        if (!res.ok) throw new Error(`loading failed: ${text.slice(0, 500)}`);
      };
      // Keep one batch in flight: workerd writes while Node generates the next one (2 cores).
      let pending: Promise<unknown> | null = null;
      let lastReport = performance.now();
      for (let batch = nextBatch(); batch.length > 0; batch = nextBatch()) {
        if (pending) await pending;
        pending = send(batch);
        statements += batch.length;
        if (performance.now() - lastReport > 10_000) {
          lastReport = performance.now();
          console.log(
            `seed: … ${statements.toLocaleString()} statements, ${(bytes / 1e6).toFixed(0)} M chars, ${seconds(lastReport - loadStarted)}, node rss ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`,
          );
        }
      }
      if (pending) await pending;
    } finally {
      if (indexes.length) {
        const t = performance.now();
        for (const i of indexes) await db.exec(i.sql.replace(/\s+/g, ' '));
        console.log(`seed: rebuilt ${indexes.length} indexes in ${seconds(performance.now() - t)}`);
      }
    }
    const loadMs = performance.now() - loadStarted;

    await setDemoPasswords(db);
    // every demo name gets its pinyin search keys now, as the cron would a few hundred a minute
    const keyStarted = performance.now();
    const keyed = await keyDemoNames(db);
    console.log(`seed: pinyin search keys for ${keyed.toLocaleString()} names in ${seconds(performance.now() - keyStarted)}`);
    // rules first: their runs change tags, which today's coverage counts
    await reportRules(db, args.historyDays);
    const coverageStarted = performance.now();
    await countCoverage(db);
    console.log(`seed: today’s tag coverage counted for the home in ${seconds(performance.now() - coverageStarted)}`);
    await reportSegments(db, args.historyDays);

    const counts: Record<string, number> = {};
    for (const name of [
      'departments',
      'users',
      'contacts',
      'events',
      'contact_daily_stats',
      'tags',
      'contact_tags',
      'tag_ledger',
      'segments',
      'segment_snapshots',
    ]) {
      counts[name] = (await db.prepare(`SELECT count(*) AS n FROM "${name}"`).first<{ n: number }>())?.n ?? 0;
    }
    console.log(
      `seed: ${statements.toLocaleString()} statements (${(bytes / 1e6).toFixed(1)} M chars); generating ${seconds(generateMs)} (overlapped), loading ${seconds(loadMs)}, total ${seconds(performance.now() - started)}`,
    );
    console.log(
      `seed: rows ${Object.entries(counts)
        .map(([k, v]) => `${k} ${v.toLocaleString()}`)
        .join(', ')}`,
    );
    console.log(`seed: D1 state on disk ${(dirSize(d1Persist) / 1e6).toFixed(0)} MB`);
  } finally {
    await mf.dispose();
  }
}

await main();
