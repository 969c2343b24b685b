/**
 * Contact import benchmark: `npx tsx bench/import.ts [--rows 100000] [--contacts 2000] [--port 8798] [--keep]`
 *
 * On a fresh local D1 (its own persist directory): migrations and `--contacts` demo contacts
 * (their taxonomy gives the tags). Then `wrangler dev`, and one import of `--rows` rows the way
 * the browser sends it: 2,000-row chunks of external id, name, phone, region, city, company,
 * gender and tags (10% of the rows update seeded contacts, 3% are rejected: bad phone or
 * unknown tag, 60% carry one or two tags). Timed, in the same run:
 *   0. baseline: the same chunks POSTed to the rows route of an import that does not exist
 *      (transfer, JSON parse and zod validation of every body, one D1 read, a 404);
 *   1. staging (every chunk), 2. dry run, 3. apply (the one batch), 4. rollback;
 * each printed in seconds and as a ratio to the baseline, then D1's contact count is checked: it
 * grows by what the dry run called new on apply, and is back where it was after rollback.
 * Needs web/dist (npm run build). Run it from a worktree nobody else edits (wrangler dev reloads
 * on source changes).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEV_FIELD_KEY } from '../scripts/dev-field-key';
import { IMPORT_CHUNK_ROWS, type DryRunReport, type ImportApplyResult, type ImportSummary } from '@shared/api/imports';
import { CSRF_HEADER } from '@shared/api/auth';
import { DEMO_PASSWORD } from '@shared/demo/index';
import { ROOT, WRANGLER_ENV } from './local';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000' },
    contacts: { type: 'string', default: '2000' },
    port: { type: 'string', default: '8798' },
    keep: { type: 'boolean', default: false },
    /** File for wrangler dev's output (default: discarded). */
    'dev-log': { type: 'string' },
  },
});
const ROWS = Number(values.rows);
const CONTACTS = Number(values.contacts);
const PORT = Number(values.port);
const BASE = `http://127.0.0.1:${PORT}`;
const dir = mkdtempSync(path.join(tmpdir(), 'segflow-bench-import-'));

const wrangler = (...args: string[]) =>
  execFileSync('npx', ['wrangler', ...args], {
    cwd: ROOT,
    env: WRANGLER_ENV,
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 << 20,
  }).toString();
function query<T>(sql: string): T[] {
  const out = wrangler('d1', 'execute', 'DB', '--local', '--persist-to', dir, '--json', '--command', sql);
  return (JSON.parse(out) as { results: T[] }[])[0]?.results ?? [];
}
const log = (s: string) => process.stderr.write(`${s}\n`);

/** The demo super admin's session (imports are super-admin only): cookie and CSRF token. */
const auth: Record<string, string> = {};
async function signIn() {
  const res = await fetch(`${BASE}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'admin@segflow.demo', password: DEMO_PASSWORD }),
  });
  if (!res.ok) throw new Error(`sign-in: ${res.status} ${await res.text()}`);
  const me = (await res.json()) as { csrfToken: string };
  auth.cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  auth[CSRF_HEADER] = me.csrfToken;
}

async function post<T = unknown>(p: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${BASE}${p}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as T };
  } catch {
    return { status: res.status, body: text.slice(0, 500) as unknown as T }; // an error page: only printed
  }
}

async function timed<T>(label: string, f: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const t0 = performance.now();
  const value = await f();
  const seconds = (performance.now() - t0) / 1000;
  log(`${label}: ${seconds.toFixed(2)} s`);
  return { value, seconds };
}

// Long on purpose: a script's steps in the order it prints them (setup, timed passes, tables).
async function main() {
  log('migrations…');
  wrangler('d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', dir);
  log(`seeding ${CONTACTS} demo contacts…`);
  execFileSync('npx', ['tsx', 'scripts/seed.ts', '--contacts', String(CONTACTS), '--persist-to', dir], {
    cwd: ROOT,
    env: WRANGLER_ENV,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const existing = query<{ external_id: string }>(`SELECT external_id FROM contacts ORDER BY id LIMIT ${Math.floor(ROWS / 10)}`).map(
    (r) => r.external_id,
  );
  const tags = query<{ g: string; t: string }>(
    `SELECT g.name AS g, t.name AS t FROM tags t JOIN tag_groups g ON g.id = t.group_id WHERE t.status = 'active' AND g.exclusive = 0 ORDER BY t.id LIMIT 20`,
  );

  const headers = ['外部ID', '姓名', '手机号', '省份', '城市', '公司', '性别', '标签'];
  const mapping = ['externalId', 'name', 'phone', 'region', 'city', 'company', 'gender', 'tags'];
  const rows: { row: number; cells: string[] }[] = [];
  for (let i = 0; i < ROWS; i++) {
    const update = i % 10 === 0 && i / 10 < existing.length;
    const ext = update ? existing[i / 10]! : `bench_${i}`;
    const bad = i % 33 === 7;
    const tag = (k: number) => `${tags[k % tags.length]!.g}/${tags[k % tags.length]!.t}`;
    rows.push({
      row: i + 2,
      cells: [
        ext,
        `导入客户${i}`,
        bad && i % 2 ? '12345' : `1${3 + (i % 7)}${String(100_000_000 + i).slice(-9)}`,
        ['浙江', '江苏', '广东', '上海'][i % 4]!,
        ['杭州', '苏州', '深圳', '上海'][i % 4]!,
        `公司${i % 500}`,
        ['男', '女', ''][i % 3]!,
        bad && !(i % 2) ? '不存在的标签' : i % 5 < 3 ? [tag(i), i % 2 ? tag(i + 3) : ''].filter(Boolean).join('，') : '',
      ],
    });
  }
  const chunks: (typeof rows)[] = [];
  for (let i = 0; i < rows.length; i += IMPORT_CHUNK_ROWS) chunks.push(rows.slice(i, i + IMPORT_CHUNK_ROWS));

  log('wrangler dev…');
  const dev = spawn(
    'npx',
    ['wrangler', 'dev', '--ip', '127.0.0.1', '--port', String(PORT), '--persist-to', dir, '--var', `FIELD_KEY:${DEV_FIELD_KEY}`],
    {
      cwd: ROOT,
      env: WRANGLER_ENV,
      stdio: values['dev-log'] ? ['ignore', openSync(values['dev-log'], 'w'), openSync(values['dev-log'], 'a')] : 'ignore',
      detached: true,
    },
  );
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${BASE}/api/health`)).ok) break;
      } catch {
        // not yet
      }
      if (i > 240) throw new Error('wrangler dev did not start');
      await new Promise((r) => setTimeout(r, 250));
    }
    await signIn();
    // D1 is read through the running worker (/api/health counts contacts): a second process on
    // the same local state (wrangler d1 execute) makes wrangler dev restart the worker mid-run
    const contactCount = async () => ((await (await fetch(`${BASE}/api/health`)).json()) as { contacts: number }).contacts;
    const before = await contactCount();
    const load = loadavg()[0]!.toFixed(2);

    const baseline = await timed('baseline (same chunks, unknown import: 404)', async () => {
      for (const c of chunks) {
        const r = await post('/api/imports/00000000-0000-4000-8000-000000000000/rows', { rows: c });
        if (r.status !== 404) throw new Error(`baseline: ${r.status} ${JSON.stringify(r.body)}`);
      }
    });
    const created = await post<ImportSummary>('/api/imports', { fileName: 'bench.csv', headers, mapping });
    if (created.status !== 201) throw new Error(JSON.stringify(created.body));
    const id = created.body.id;
    const stage = await timed(`staging ${ROWS} rows in ${chunks.length} chunks`, async () => {
      for (const c of chunks) {
        const r = await post(`/api/imports/${id}/rows`, { rows: c });
        if (r.status !== 200) throw new Error(`rows: ${r.status} ${JSON.stringify(r.body)}`);
      }
    });
    const dry = await timed('dry run', async () => {
      const r = await post<DryRunReport>(`/api/imports/${id}/dry-run`, {});
      if (r.status !== 200) throw new Error(`dry run: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    });
    log(`  counts ${JSON.stringify(dry.value.counts)}, ${dry.value.tagCount} tags`);
    const apply = await timed('apply (one batch)', async () => {
      const r = await post<ImportApplyResult>(`/api/imports/${id}/apply`);
      if (r.status !== 200) throw new Error(`apply: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    });
    const afterApply = (await contactCount()) - before;
    const rollback = await timed('rollback (one batch)', async () => {
      const r = await post(`/api/imports/${id}/rollback`);
      if (r.status !== 200) throw new Error(`rollback: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    });
    const afterRollback = (await contactCount()) - before;

    const total = stage.seconds + dry.seconds + apply.seconds;
    const ratio = (s: number) => (s / baseline.seconds).toFixed(2);
    console.log(`\nImport of ${ROWS} rows onto ${CONTACTS} contacts (load average ${load} at start)`);
    console.log(`| step | seconds | × baseline |`);
    console.log(`| --- | ---: | ---: |`);
    console.log(`| baseline: chunks to an unknown import (404) | ${baseline.seconds.toFixed(2)} | 1.00 |`);
    console.log(`| staging | ${stage.seconds.toFixed(2)} | ${ratio(stage.seconds)} |`);
    console.log(`| dry run | ${dry.seconds.toFixed(2)} | ${ratio(dry.seconds)} |`);
    console.log(`| apply | ${apply.seconds.toFixed(2)} | ${ratio(apply.seconds)} |`);
    console.log(`| staging + dry run + apply | ${total.toFixed(2)} | ${ratio(total)} |`);
    console.log(`| rollback | ${rollback.seconds.toFixed(2)} | ${ratio(rollback.seconds)} |`);
    console.log(`\ncounts ${JSON.stringify(apply.value.counts)}; tag additions ${apply.value.tagsAdded}`);
    console.log(
      `check: contacts added in D1 after apply ${afterApply} (dry run said ${dry.value.counts.new}), after rollback ${afterRollback} more than before`,
    );
    if (afterApply !== dry.value.counts.new || afterRollback !== 0) process.exitCode = 1;
  } finally {
    try {
      process.kill(-dev.pid!, 'SIGTERM');
    } catch {
      // gone
    }
    if (!values.keep) rmSync(dir, { recursive: true, force: true });
    else log(`kept ${dir}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
