/**
 * The WeCom connection end to end against the local WeCom at WeCom's documented limits (issue 16):
 * `npx tsx bench/wecom.ts [--contacts 100000] [--follow-users 50] [--chats 0] [--pushes 10000]
 * [--port 8796] [--sim-port 8795] [--timeout 1800] [--floor] [--keep] [--verbose]`.
 *
 * 1. The simulator (tools/wecom-sim/serve.ts, 基础频率 10,000 calls a minute and 150,000 an hour per
 *    corp and API) with a corp of `--contacts` external contacts over `--follow-users` follow users
 *    (15% of them added by a second member too: more relations than contacts); `wrangler dev`
 *    on a fresh local D1 (migrations and the demo admin) with WECOM_API_BASE at the simulator.
 * 2. Backfill: the corp connected through the API, a backfill started, timed from the start
 *    request until the run is `finished`. Then D1 against the simulator: every relation (member,
 *    customer) and its corp tags, every customer a contact — lost, extra and doubled must be 0.
 * 3. Pushes: a Segflow tag group marked synced and "Segflow owns" (`tag_groups.wecom_sync`,
 *    `wecom_policy`, written straight into D1: no API sets them yet), one tag, a cron tick (its
 *    mirror creates the corp tag); then the tag applied to `--pushes` pulled contacts as a rule's
 *    tag writer would (contact_tags and tag_ledger rows, source `rule`), and cron ticks as the
 *    Cron Trigger would run them (one at once, then one a minute) until the simulator shows every
 *    relation of those contacts holding the corp tag. Exactly one accepted mark_tag per relation
 *    (the simulator counts them), none lost.
 *
 * Each phase's time is set against the lower bound WeCom's limits allow: the calls it needs per
 * API (given page sizes: batch/get_by_user answers 100 relations for up to 100 members a call;
 * mark_tag marks one relation) at that API's sustained rate (10,000 a minute; the hourly 150,000
 * only binds past 150,000 calls), the slowest API deciding. Bursts at calendar-minute edges are
 * not counted, so the bound is not the absolute least; ratio = bound / measured (target ≥ 0.8).
 *
 * `--floor`: after the phases, the rows the backfill left behind written again, nothing else, into
 * a fresh local D1 in the same workerd (see `floor`): what these rows cost this SQLite at least,
 * printed as a row beside the backfill and its bound.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEMO_PASSWORD } from '@shared/demo/index';
import { DEV_FIELD_KEY } from '../scripts/dev-field-key';
import { WECOM_DOCUMENTED_LIMITS } from '../tools/wecom-sim/rate-limit';
import { d1DatabaseId, ROOT, WRANGLER_ENV } from './local';

const { values } = parseArgs({
  options: {
    contacts: { type: 'string', default: '100000' },
    'follow-users': { type: 'string', default: '50' },
    chats: { type: 'string', default: '0' },
    pushes: { type: 'string', default: '10000' },
    port: { type: 'string', default: '8796' },
    'sim-port': { type: 'string', default: '8795' },
    timeout: { type: 'string', default: '1800' },
    keep: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
    floor: { type: 'boolean', default: false },
  },
});
const CONTACTS = Number(values.contacts);
const FOLLOW_USERS = Number(values['follow-users']);
const CHATS = Number(values.chats);
const PUSHES = Number(values.pushes);
const PORT = Number(values.port);
const SIM_PORT = Number(values['sim-port']);
const BASE = `http://127.0.0.1:${PORT}`;
const SIM = `http://127.0.0.1:${SIM_PORT}`;
const CORP = 'wwsegflowbench01';
const TIMEOUT_MS = Number(values.timeout) * 1000;
const dir = mkdtempSync(path.join(tmpdir(), 'segflow-bench-wecom-'));
const log = (s: string) => process.stderr.write(`${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load = () =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');

/**
 * CPU seconds (user + system, all threads) used so far by the workerd processes this bench started
 * (wrangler dev's, Miniflare's): the Worker and the local D1 run there, and unlike wall time on
 * this shared box it does not move with the other sessions' load. Linux /proc; null elsewhere.
 */
function workerdCpuSeconds(): number | null {
  try {
    const stats = new Map<number, { ppid: number; comm: string; ticks: number }>();
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const raw = readFileSync(`/proc/${d}/stat`, 'utf8');
        const comm = raw.slice(raw.indexOf('(') + 1, raw.lastIndexOf(')'));
        const f = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
        // after the command: state, ppid, … utime is field 14, stime 15 (1-based, whole line)
        stats.set(Number(d), { ppid: Number(f[1]), comm, ticks: Number(f[11]) + Number(f[12]) });
      } catch {
        /* gone meanwhile */
      }
    }
    const mine = (pid: number): boolean => {
      for (let p = pid, hops = 0; p > 1 && hops < 20; hops++) {
        if (p === process.pid) return true;
        p = stats.get(p)?.ppid ?? 0;
      }
      return false;
    };
    let ticks = 0;
    for (const [pid, s] of stats) if (s.comm === 'workerd' && mine(pid)) ticks += s.ticks;
    return ticks / 100; // USER_HZ
  } catch {
    return null;
  }
}
const cpuSince = (from: number | null) => {
  const now = workerdCpuSeconds();
  return from === null || now === null ? null : now - from;
};

/** The least time (s) `calls` calls of one API take at the documented limits, sustained. */
function boundSeconds(calls: number): number {
  const { perMinute = Infinity, perHour = Infinity } = WECOM_DOCUMENTED_LIMITS.perApi ?? {};
  const byMinute = (calls / perMinute) * 60;
  // past one hour's allowance the rest waits for the next hours
  const byHour = calls > perHour ? Math.floor(calls / perHour) * 3600 + ((calls % perHour) / perMinute) * 60 : 0;
  return Math.max(byMinute, byHour);
}

const wrangler = (...args: string[]) =>
  execFileSync('npx', ['wrangler', ...args], {
    cwd: ROOT,
    env: WRANGLER_ENV,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 512 * 1024 * 1024,
  });

/** A statement on the local D1 while wrangler dev writes it (a busy database is asked again). */
async function query<T>(sql: string): Promise<T[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (
        JSON.parse(wrangler('d1', 'execute', 'DB', '--local', '--persist-to', dir, '--json', '--command', sql)) as { results: T[] }[]
      ).at(-1)!.results;
    } catch (e) {
      // wrangler dev's workerd holds the same SQLite file: asked again for up to ~40 s
      if (attempt >= 20 || !/SQLITE_BUSY|locked/.test(String(e))) throw e;
      await sleep(Math.min(300 * attempt, 3000));
    }
  }
}

/** fetch, asked again once when a kept-alive socket was closed by the server meanwhile (wrangler dev closes idle ones). */
async function fetchOnce(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (e) {
    if (!(e instanceof TypeError) || !/other side closed|ECONNRESET/.test(String((e as { cause?: unknown }).cause))) throw e;
    return fetch(url, init);
  }
}

async function json<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetchOnce(url, init);
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function waitFor(url: string, what: string) {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not up yet */
    }
    if (i > 240) throw new Error(`${what} did not start`);
    await sleep(500);
  }
}

type SimRelation = [userid: string, ext: string, tagIds: string[], marks: number];
const simRelations = () => json<{ contacts: number; count: number; relations: SimRelation[] }>(`${SIM}/__sim/corps/${CORP}/relations`);
const simCalls = () => json<Record<string, number>>(`${SIM}/__sim/corps/${CORP}/calls`);
const diffCalls = (after: Record<string, number>, before: Record<string, number>) =>
  Object.fromEntries(Object.entries(after).flatMap(([k, v]) => (v - (before[k] ?? 0) ? [[k, v - (before[k] ?? 0)]] : [])));

interface Row {
  phase: string;
  size: string;
  seconds: number;
  /** CPU seconds of the bench's workerd processes over the phase (wrangler dev also serves the API polls) */
  cpu?: number | null;
  calls: string;
  bound: number;
  /** null: not a transfer (the floor) */
  lost: number | null;
  doubled: number | null;
}

/**
 * A fresh local D1 in `stateDir`: migrations and the demo (10 contacts, the admin). The seed is
 * tried again on a clean directory if it fails: on this busy box Miniflare's synchronous proxy
 * sometimes fails an assertion (`message?.id === id` in its SynchronousFetcher) mid-seed.
 */
function freshD1(stateDir: string): void {
  for (let attempt = 1; ; attempt++) {
    try {
      wrangler('d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', stateDir);
      execFileSync('npx', ['tsx', 'scripts/seed.ts', '--contacts', '10', '--persist-to', stateDir], {
        cwd: ROOT,
        env: WRANGLER_ENV,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      return;
    } catch (e) {
      if (attempt >= 3) throw e;
      log(`the demo seed of ${stateDir} failed (${String(e).split('\n')[0]}); again on a clean directory`);
      rmSync(path.join(stateDir, 'v3'), { recursive: true, force: true });
    }
  }
}

/** One run of the Cron handler, as the Cron Trigger would start it (wrangler dev --test-scheduled). */
async function tick(): Promise<void> {
  const res = await fetchOnce(`${BASE}/__scheduled?cron=${encodeURIComponent('* * * * *')}`);
  if (!res.ok) throw new Error(`the cron tick answered ${res.status}: ${await res.text()}`);
}

/**
 * The floor (`--floor`): the rows the backfill left behind, written again into a fresh local D1
 * (migrations, the same demo seed, the backfill's tag library copied in untimed) through the same
 * workerd and local D1 the app runs on (Miniflare): per 1,000 relations, in the order the backfill
 * wrote them, ONE `DB.batch` of set-based statements over JSON built beforehand in Node — the new
 * contacts of those relations (the ids the backfill gave them; their insert trigger queues them
 * for keying), their search keys, the queue rows taken off again, the relations, the contacts'
 * tags and their `wecom` ledger rows. No reads, no pinyin, no diff, every migration's index and
 * trigger: what a backfill of exactly these rows in 1,000-relation pages costs this SQLite at least.
 */
const FLOOR_WORKER = `export default {
  async fetch(request, env) {
    const { batch } = await request.json();
    try {
      const t0 = Date.now();
      const all = await env.DB.batch(batch.map((s) => env.DB.prepare(s.sql).bind(...s.params)));
      return Response.json({ ms: Date.now() - t0, results: all.map((r) => r.results ?? []) });
    } catch (e) {
      return Response.json({ error: String((e && e.message) || e) }, { status: 500 });
    }
  },
};`;

interface Stmt {
  sql: string;
  params: unknown[];
}

/** The local D1 of wrangler state `stateDir` in Miniflare: a timed batch, and a read as column names + arrays. */
async function openD1(stateDir: string) {
  const { Miniflare } = await import('miniflare');
  const mf = new Miniflare({
    modules: true,
    script: FLOOR_WORKER,
    d1Persist: path.join(stateDir, 'v3', 'd1'),
    d1Databases: { DB: d1DatabaseId() },
  });
  const batch = async (stmts: Stmt[]) => {
    const res = await mf.dispatchFetch('http://bench/', { method: 'POST', body: JSON.stringify({ batch: stmts }) });
    const body = (await res.json()) as { ms: number; results: Record<string, unknown>[][]; error?: string };
    if (!res.ok || body.error) throw new Error(`${body.error}\n${stmts.map((s) => s.sql.slice(0, 300)).join('\n')}`);
    return body;
  };
  const read = async (sql: string, params: unknown[] = []) => {
    const r = (await batch([{ sql, params }])).results[0]!;
    const cols = r.length ? Object.keys(r[0]!) : [];
    return { cols, rows: r.map((o) => cols.map((c) => o[c])) };
  };
  return { batch, read, close: () => mf.dispose() };
}

/** One INSERT of any number of rows given as arrays in `cols` order (a JSON parameter). */
function insertRows(table: string, cols: string[], rows: unknown[][], conflict = ''): Stmt {
  return {
    sql: `INSERT ${conflict} INTO ${table} (${cols.join(', ')})
          SELECT ${cols.map((_, i) => `json_extract(value, '$[${i}]')`).join(', ')} FROM json_each(?)`,
    params: [JSON.stringify(rows)],
  };
}

async function floor(
  stateDir: string,
  floorDir: string,
  connectionId: number,
): Promise<{ seconds: number; cpu: number | null; d1Seconds: number; pages: number; counts: string }> {
  const src = await openD1(stateDir);
  const keys: unknown[][] = [];
  let contacts, relations, tagRows, ledger, groups, tags;
  try {
    // the customers this connection's relations name (not a demo contact of the same kind)
    contacts = await src.read(
      `SELECT * FROM contacts WHERE kind = 'wecom_customer'
       AND external_id IN (SELECT external_userid FROM wecom_relations WHERE connection_id = ?) ORDER BY id`,
      [connectionId],
    );
    relations = await src.read(`SELECT * FROM wecom_relations WHERE connection_id = ? ORDER BY rowid`, [connectionId]);
    tagRows = await src.read(`SELECT * FROM contact_tags WHERE source = 'wecom' ORDER BY contact_id, tag_id`);
    ledger = await src.read(`SELECT * FROM tag_ledger WHERE source = 'wecom' ORDER BY id`);
    groups = await src.read(`SELECT * FROM tag_groups ORDER BY id`);
    tags = await src.read(`SELECT * FROM tags ORDER BY id`);
    const ids = contacts.rows.map((r) => r[contacts!.cols.indexOf('id')] as number);
    for (let i = 0; i < ids.length; i += 10_000) {
      const slice = ids.slice(i, i + 10_000);
      const k = await src.read(
        `SELECT key, ref_id FROM search_keys WHERE kind = 'contact' AND ref_id BETWEEN ? AND ? ORDER BY ref_id, key`,
        [slice[0], slice.at(-1)],
      );
      const wanted = new Set(slice);
      keys.push(...k.rows.filter((r) => wanted.has(r[1] as number)));
    }
  } finally {
    await src.close();
  }

  const db = await openD1(floorDir);
  try {
    // the backfill's tag library (its corp tags as Segflow tags), untimed: the contacts' tags refer to it
    await db.batch([
      insertRows('tag_groups', groups.cols, groups.rows, 'OR IGNORE'),
      insertRows('tags', tags.cols, tags.rows, 'OR IGNORE'),
    ]);
    const col = (t: { cols: string[] }, c: string) => t.cols.indexOf(c);
    const byExt = new Map(contacts.rows.map((r) => [r[col(contacts, 'external_id')] as string, r]));
    const group = <T>(rows: unknown[][], at: number) => {
      const m = new Map<T, unknown[][]>();
      for (const r of rows) (m.get(r[at] as T) ?? m.set(r[at] as T, []).get(r[at] as T)!).push(r);
      return m;
    };
    const keysOf = group<number>(keys, 1);
    const tagsOf = group<number>(tagRows.rows, col(tagRows, 'contact_id'));
    const ledgerCols = ledger.cols.filter((c) => c !== 'id');
    const ledgerOf = group<number>(
      ledger.rows.map((r) => ledgerCols.map((c) => r[col(ledger!, c)])),
      ledgerCols.indexOf('contact_id'),
    );
    const written = new Set<string>();
    const pages: Stmt[][] = [];
    for (let i = 0; i < relations.rows.length; i += 1000) {
      const rels = relations.rows.slice(i, i + 1000);
      const fresh: unknown[][] = [];
      for (const r of rels) {
        const ext = r[col(relations, 'external_userid')] as string;
        if (written.has(ext) || !byExt.has(ext)) continue;
        written.add(ext);
        fresh.push(byExt.get(ext)!);
      }
      const ids = fresh.map((c) => c[col(contacts, 'id')] as number);
      pages.push([
        insertRows('contacts', contacts.cols, fresh),
        insertRows(
          'search_keys',
          ['kind', 'key', 'ref_id'],
          ids.flatMap((id) => (keysOf.get(id) ?? []).map((k) => ['contact', ...k])),
        ),
        {
          sql: `DELETE FROM search_key_queue WHERE kind = 'contact' AND ref_id IN (SELECT value FROM json_each(?))`,
          params: [JSON.stringify(ids)],
        },
        insertRows('wecom_relations', relations.cols, rels),
        insertRows(
          'contact_tags',
          tagRows.cols,
          ids.flatMap((id) => tagsOf.get(id) ?? []),
        ),
        insertRows(
          'tag_ledger',
          ledgerCols,
          ids.flatMap((id) => ledgerOf.get(id) ?? []),
        ),
      ]);
    }
    log(
      `floor: ${pages.length} pages of ${contacts.rows.length} contacts, ${relations.rows.length} relations, ${keys.length} search keys, ${tagRows.rows.length} contact tags, ${ledger.rows.length} ledger rows (load average ${load()})…`,
    );
    const cpu0 = workerdCpuSeconds();
    const t0 = Date.now();
    let d1Ms = 0;
    // the split: every 16th page one statement a batch, each timed (the others one batch a page)
    const names = ['contacts', 'search keys', 'queue delete', 'relations', 'contact tags', 'ledger'];
    const split = names.map(() => [] as number[]);
    for (const [i, p] of pages.entries()) {
      if (i % 16 !== 8) d1Ms += (await db.batch(p)).ms;
      else
        for (const [k, st] of p.entries()) {
          const ms = (await db.batch([st])).ms;
          split[k]!.push(ms);
          d1Ms += ms;
        }
    }
    const seconds = (Date.now() - t0) / 1000;
    const cpu = cpuSince(cpu0);
    // the same rows as the backfill left: the floor wrote everything it should
    const [check] = (
      await db.batch([
        {
          sql: `SELECT (SELECT count(*) FROM contacts WHERE kind = 'wecom_customer') AS contacts,
                  (SELECT count(*) FROM search_keys WHERE kind = 'contact') AS keys,
                  (SELECT count(*) FROM search_key_queue WHERE kind = 'contact' AND ref_id IN (SELECT id FROM contacts WHERE kind = 'wecom_customer')) AS queued,
                  (SELECT count(*) FROM tag_ledger WHERE source = 'wecom') AS ledger`,
          params: [],
        },
      ])
    ).results[0]!;
    log(`floor check: ${JSON.stringify(check)}`);
    log(
      `floor split, ms per page (mean of ${split[0]!.length} pages): ` +
        names.map((n, k) => `${n} ${(split[k]!.reduce((a, b) => a + b, 0) / Math.max(1, split[k]!.length)).toFixed(0)}`).join(', '),
    );
    return {
      seconds,
      cpu,
      d1Seconds: d1Ms / 1000,
      pages: pages.length,
      counts: `${keys.length.toLocaleString()} search keys, ${tagRows.rows.length.toLocaleString()} contact tags, ${ledger.rows.length.toLocaleString()} ledger rows`,
    };
  } finally {
    await db.close();
  }
}

async function main() {
  const children: ChildProcess[] = [];
  let floorDir: string | undefined;
  const rows: Row[] = [];
  try {
    log(`state ${dir}; load average ${load()}`);
    freshD1(dir);
    // the floor's fresh database, made now while the box is quiet of this bench (its seed is a Miniflare too)
    if (values.floor) freshD1((floorDir = mkdtempSync(path.join(tmpdir(), 'segflow-bench-wecom-floor-'))));
    // the simulator at WeCom's documented limits (serve.ts's default), its demo corp left empty
    children.push(
      spawn('node_modules/.bin/tsx', ['tools/wecom-sim/serve.ts', String(SIM_PORT)], {
        cwd: ROOT,
        env: { ...process.env, WECOM_SIM_CONTACTS: '0', WECOM_SIM_CHATS: '0', WECOM_SIM_FOLLOW_USERS: '1' },
        stdio: ['ignore', 'ignore', 'inherit'],
        detached: true,
      }),
    );
    // wrangler dev on a copy of wrangler.toml without [assets]: behind the assets router, wrangler 4.86's
    // trigger of the Cron handler fails ("Could not serialize object of type ScheduledController")
    const config = path.join(dir, 'wrangler.toml');
    writeFileSync(
      config,
      readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8')
        .replace(/^\[assets\][\s\S]*?\n\n/m, '')
        .replace(/^main = "(.*)"$/m, (_, p: string) => `main = "${path.join(ROOT, p)}"`)
        .replace(/^migrations_dir = "(.*)"$/m, (_, p: string) => `migrations_dir = "${path.join(ROOT, p)}"`),
    );
    const vars = [`FIELD_KEY:${DEV_FIELD_KEY}`, `WECOM_API_BASE:${SIM}`];
    children.push(
      spawn(
        'npx',
        [
          'wrangler',
          'dev',
          '--config',
          config,
          '--ip',
          '127.0.0.1',
          '--port',
          String(PORT),
          '--persist-to',
          dir,
          '--test-scheduled',
          '--log-level',
          values.verbose ? 'info' : 'warn',
          ...vars.flatMap((v) => ['--var', v]),
        ],
        { cwd: ROOT, env: WRANGLER_ENV, stdio: ['ignore', values.verbose ? 'inherit' : 'ignore', 'inherit'], detached: true },
      ),
    );
    await waitFor(`${SIM}/__sim`, 'the simulator');
    const t0 = Date.now();
    const seeded = await json<{ counts: { contacts: number; relations: number; followUsers: number } }>(`${SIM}/__sim/seed`, {
      method: 'POST',
      body: JSON.stringify({ corpid: CORP, seed: 'bench', contacts: CONTACTS, followUsers: FOLLOW_USERS, chats: CHATS }),
    });
    log(
      `simulator: ${seeded.counts.contacts} contacts, ${seeded.counts.relations} relations, ${seeded.counts.followUsers} follow users in ${Date.now() - t0} ms; limits ${JSON.stringify(WECOM_DOCUMENTED_LIMITS)}`,
    );
    await waitFor(`${BASE}/api/health`, 'wrangler dev');

    const login = await fetch(`${BASE}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'admin@segflow.demo', password: DEMO_PASSWORD }),
    });
    const { csrfToken } = (await login.json()) as { csrfToken: string };
    const headers = {
      'content-type': 'application/json',
      cookie: login.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .join('; '),
      'x-csrf-token': csrfToken,
    };
    const api = <T>(p: string, body?: unknown) =>
      json<T>(`${BASE}${p}`, body === undefined ? { headers } : { method: 'POST', headers, body: JSON.stringify(body) });

    // ---- backfill ----
    const conn = await api<{ id: number }>('/api/wecom/connections', { corpId: CORP, contactSecret: `${CORP}-contact-secret` });
    const callsBefore = await simCalls();
    log(`backfill of ${CONTACTS} contacts over ${FOLLOW_USERS} follow users (load average ${load()})…`);
    const cpu0 = workerdCpuSeconds();
    const started = Date.now();
    await api(`/api/wecom/connections/${conn.id}/sync`, {});
    type Run = { status: string; phase: string; pages: number; counts: Record<string, number>; rateLimitWaits: number; errors: unknown[] };
    let run: Run;
    for (let i = 0; ; i++) {
      await sleep(250);
      run = (await api<{ latest: Run }>(`/api/wecom/connections/${conn.id}/sync`)).latest;
      if (run.status !== 'running') break;
      if (Date.now() - started > TIMEOUT_MS) throw new Error(`the backfill did not finish in ${values.timeout} s`);
      if (i % 20 === 0)
        log(`  ${run.phase}: ${run.counts.relations} relations after ${((Date.now() - started) / 1000).toFixed(0)} s (load ${load()})`);
    }
    const pullSeconds = (Date.now() - started) / 1000;
    const pullCpu = cpuSince(cpu0);
    const pullCalls = diffCalls(await simCalls(), callsBefore);
    log(
      `backfill ${run.status} in ${pullSeconds.toFixed(1)} s (workerd CPU ${pullCpu?.toFixed(1)} s): ${JSON.stringify(run.counts)}, rate-limit waits ${run.rateLimitWaits}`,
    );
    if (run.status !== 'finished') throw new Error(`the backfill ended ${run.status}: ${JSON.stringify(run.errors)}`);

    // D1 against the simulator
    const sim = await simRelations();
    const d1Rels = await query<{ k: string; tags: string }>(
      `SELECT userid || char(10) || external_userid AS k, tag_ids AS tags FROM wecom_relations WHERE connection_id = ${conn.id} AND deleted_at IS NULL`,
    );
    const d1Contacts = await query<{ external_id: string }>(`SELECT external_id FROM contacts WHERE kind = 'wecom_customer'`);
    const want = new Map(sim.relations.map(([u, x, tags]) => [`${u}\n${x}`, JSON.stringify(tags)]));
    const seen = new Map<string, number>();
    let tagDiffs = 0;
    for (const r of d1Rels) {
      seen.set(r.k, (seen.get(r.k) ?? 0) + 1);
      if (want.has(r.k) && want.get(r.k) !== r.tags) tagDiffs++;
    }
    const lostRels = [...want.keys()].filter((k) => !seen.has(k)).length;
    const extraRels = [...seen.keys()].filter((k) => !want.has(k)).length;
    const doubledRels = [...seen.values()].reduce((n, c) => n + c - 1, 0);
    const simExts = new Set(sim.relations.map((r) => r[1]));
    const contactCount = new Map<string, number>();
    for (const c of d1Contacts) contactCount.set(c.external_id, (contactCount.get(c.external_id) ?? 0) + 1);
    const lostContacts = [...simExts].filter((x) => !contactCount.has(x)).length;
    const pulledContacts = [...simExts].filter((x) => contactCount.has(x)).length;
    const doubledContacts = [...contactCount.values()].reduce((n, c) => n + c - 1, 0);
    log(
      `check: relations ${d1Rels.length} in D1 / ${sim.count} in WeCom (lost ${lostRels}, extra ${extraRels}, doubled ${doubledRels}, tags differing ${tagDiffs}); ` +
        `customers ${pulledContacts} contacts in D1 / ${simExts.size} in WeCom (lost ${lostContacts}, doubled ${doubledContacts})`,
    );
    const pullBound = Math.max(...Object.entries(pullCalls).map(([, n]) => boundSeconds(n)));
    // calls needed, not made: the pages the limits' page sizes require (refused and repeated calls are the client's cost)
    const neededPages = Math.ceil(sim.count / 100) * Math.ceil(FOLLOW_USERS / 100);
    const pullNeededBound = boundSeconds(neededPages);
    rows.push({
      phase: 'backfill',
      size: `${sim.contacts.toLocaleString()} contacts, ${sim.count.toLocaleString()} relations, ${FOLLOW_USERS} follow users`,
      seconds: pullSeconds,
      cpu: pullCpu,
      calls: Object.entries(pullCalls)
        .map(([k, v]) => `${k.replace('externalcontact/', '')} ${v}`)
        .join(', '),
      bound: Math.max(pullNeededBound, 0),
      lost: lostRels + lostContacts + tagDiffs,
      doubled: doubledRels + doubledContacts + extraRels,
    });
    log(`  bound from calls made ${pullBound.toFixed(1)} s, from pages needed (${neededPages}) ${pullNeededBound.toFixed(1)} s`);

    // ---- pushes ----
    if (PUSHES > 0) {
      const [g] = await query<{ id: number }>(
        `INSERT INTO tag_groups (name, wecom_sync, wecom_policy) VALUES ('基准同步', 1, 'segflow') RETURNING id`,
      );
      const [tag] = await query<{ id: number }>(`INSERT INTO tags (group_id, level, name) VALUES (${g!.id}, 1, '基准推送') RETURNING id`);
      // the first tick mirrors the group: the corp tag is created by the app and mapped
      let t = Date.now();
      await tick();
      const [mapped] = await query<{ wecom_id: string }>(
        `SELECT wecom_id FROM wecom_tag_map WHERE connection_id = ${conn.id} AND kind = 'tag' AND segflow_id = ${tag!.id} AND deleted_at IS NULL`,
      );
      if (!mapped) throw new Error('the cron tick did not mirror the synced group');
      log(`mirror tick ${((Date.now() - t) / 1000).toFixed(1)} s: tag ${tag!.id} → corp tag ${mapped.wecom_id}`);

      // the tag on PUSHES pulled contacts, as a rule's tag writer writes it
      const chosen = `SELECT c.id FROM contacts c WHERE c.kind = 'wecom_customer' ORDER BY c.id LIMIT ${PUSHES}`;
      const now = Date.now();
      await query(
        `INSERT INTO contact_tags (contact_id, tag_id, source, added_at) SELECT id, ${tag!.id}, 'rule', ${now} FROM (${chosen});
         INSERT INTO tag_ledger (contact_id, tag_id, op, source, batch_id, at) SELECT id, ${tag!.id}, 'add', 'rule', 'bench-wecom', ${now} FROM (${chosen})`,
      );
      const expected = await query<{ k: string }>(
        `SELECT r.userid || char(10) || r.external_userid AS k FROM contact_tags ct JOIN contacts c ON c.id = ct.contact_id
         JOIN wecom_relations r ON r.external_userid = c.external_id AND r.connection_id = ${conn.id} AND r.deleted_at IS NULL
         WHERE ct.tag_id = ${tag!.id}`,
      );
      const expectedSet = new Set(expected.map((e) => e.k));
      const before = await simCalls();
      log(`pushing the tag of ${PUSHES} contacts: ${expectedSet.size} relations to mark (load average ${load()})…`);
      t = Date.now();
      let ticks = 0;
      let nextTick = t;
      let holders = 0;
      for (;;) {
        if (Date.now() >= nextTick) {
          ticks++;
          nextTick += 60_000;
          void tick().catch((e) => log(`  cron tick failed: ${String(e)}`));
        }
        await sleep(1000);
        holders = (await json<{ count: number }>(`${SIM}/__sim/corps/${CORP}/tags/${mapped.wecom_id}/holders?limit=0`)).count;
        if (holders >= expectedSet.size) break;
        if (Date.now() - t > TIMEOUT_MS) throw new Error(`the pushes did not finish in ${values.timeout} s (${holders} marked)`);
        if ((Date.now() - t) % 10_000 < 1000)
          log(`  ${holders} / ${expectedSet.size} relations marked after ${((Date.now() - t) / 1000).toFixed(0)} s`);
      }
      const pushSeconds = (Date.now() - t) / 1000;
      await sleep(2000); // anything still in flight lands before the count
      const pushCalls = diffCalls(await simCalls(), before);
      const after = await simRelations();
      let lost = 0;
      let doubled = 0;
      let marks = 0;
      for (const [u, x, tags, m] of after.relations) {
        const k = `${u}\n${x}`;
        if (expectedSet.has(k)) {
          if (!tags.includes(mapped.wecom_id)) lost++;
          if (m > 1) doubled += m - 1;
          if (m === 0) lost++;
        } else if (m > 0 || tags.includes(mapped.wecom_id)) doubled += Math.max(1, m);
        marks += m;
      }
      log(
        `pushes done in ${pushSeconds.toFixed(1)} s over ${ticks} cron tick(s): ${marks} mark_tag accepted for ${expectedSet.size} relations, lost ${lost}, doubled ${doubled}`,
      );
      rows.push({
        phase: 'push',
        size: `${PUSHES.toLocaleString()} contacts, ${expectedSet.size.toLocaleString()} relations`,
        seconds: pushSeconds,
        calls: Object.entries(pushCalls)
          .map(([k, v]) => `${k.replace('externalcontact/', '')} ${v}`)
          .join(', '),
        bound: boundSeconds(expectedSet.size),
        lost,
        doubled,
      });
    }

    if (values.floor) {
      // wrangler dev holds the database: stopped before the floor reads it
      await Promise.all(
        children.map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.exitCode !== null || c.signalCode !== null) return resolve();
              c.once('exit', () => resolve());
              try {
                process.kill(-c.pid!, 'SIGTERM');
              } catch {
                resolve();
              }
            }),
        ),
      );
      const f = await floor(dir, floorDir!, conn.id);
      log(
        `floor: ${f.pages} batches in ${f.seconds.toFixed(1)} s (${f.d1Seconds.toFixed(1)} s inside DB.batch, workerd CPU ${f.cpu?.toFixed(1)} s)`,
      );
      rows.push({
        phase: "floor: the backfill's rows only, 1,000 relations a batch",
        size: `${rows[0]!.size}; ${f.counts}`,
        seconds: f.seconds,
        cpu: f.cpu,
        calls: 'none',
        bound: rows[0]!.bound,
        lost: null,
        doubled: null,
      });
    }

    console.log(`\nWeCom bench (load average now ${load()}; limits: 10,000 calls/min and 150,000/h per corp and API)\n`);
    console.log(
      '| phase | size | seconds | workerd CPU s | lower bound s | ratio (bound / time) | lost | doubled | WeCom calls (incl. refused) |',
    );
    console.log('|---|---|---:|---:|---:|---:|---:|---:|---|');
    for (const r of rows)
      console.log(
        `| ${r.phase} | ${r.size} | ${r.seconds.toFixed(1)} | ${r.cpu == null ? '–' : r.cpu.toFixed(1)} | ${r.bound.toFixed(1)} | ${(r.bound / r.seconds).toFixed(2)} | ${r.lost ?? '–'} | ${r.doubled ?? '–'} | ${r.calls} |`,
      );
    if (rows.some((r) => r.lost || r.doubled)) process.exitCode = 1;
  } finally {
    for (const c of children) {
      try {
        process.kill(-c.pid!, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
    if (!values.keep) rmSync(dir, { recursive: true, force: true });
    if (floorDir) rmSync(floorDir, { recursive: true, force: true });
  }
}

await main();
