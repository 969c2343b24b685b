/**
 * What the benchmarks share about running this checkout locally: its root, the environment
 * wrangler runs quietly in, and the id local D1 files are kept under.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '..');

/** wrangler without metrics, banner or network lookups. */
export const WRANGLER_ENV = {
  ...process.env,
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_HIDE_BANNER: 'true',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
};

/**
 * A local D1 in `dir` with every migration it lacks applied and `contacts` demo contacts seeded
 * (scripts/seed.ts leaves an already seeded database alone, so a directory is reused across runs).
 */
export function migrateAndSeed(dir: string, contacts: number, log: (s: string) => void): void {
  log(`migrations → ${dir}`);
  execFileSync('npx', ['wrangler', 'd1', 'migrations', 'apply', 'DB', '--local', '--persist-to', dir], {
    cwd: ROOT,
    env: WRANGLER_ENV,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  log(`seed ${contacts.toLocaleString()} contacts → ${dir} (reused when already seeded)`);
  execFileSync('npx', ['tsx', 'scripts/seed.ts', '--persist-to', dir, '--contacts', String(contacts)], {
    cwd: ROOT,
    env: WRANGLER_ENV,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

/** The id wrangler stores the local `DB` database under (Miniflare opens the same file with it). */
export function d1DatabaseId(): string {
  const toml = readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8');
  for (const block of toml.split(/^\[\[d1_databases\]\]\s*$/m).slice(1)) {
    const body = block.split(/^\[/m)[0] ?? '';
    const field = (k: string) => new RegExp(`^\\s*${k}\\s*=\\s*"([^"]*)"`, 'm').exec(body)?.[1];
    if (field('binding') === 'DB') return field('preview_database_id') ?? field('database_id') ?? 'DB';
  }
  throw new Error('wrangler.toml has no D1 binding DB');
}

/** The median of a list of timings (the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** One statement timed inside workerd: wall ms around the D1 call, D1's meta, the first rows. */
export interface TimedResult {
  ms: number;
  meta: { duration?: number; rows_read?: number; rows_written?: number };
  results: Record<string, unknown>[];
}

/** A tiny worker that runs one statement on `env.DB` and times it where the app would (workerd, not Node's SQLite). */
const TIMING_WORKER = `export default {
  async fetch(request, env) {
    const { sql, params } = await request.json();
    try {
      const t0 = Date.now();
      const res = await env.DB.prepare(sql).bind(...params).all();
      return Response.json({ ms: Date.now() - t0, meta: res.meta, results: (res.results ?? []).slice(0, 50) });
    } catch (e) {
      return Response.json({ error: String(e && e.message || e) }, { status: 500 });
    }
  },
};`;

/** The local D1 under wrangler state directory `dir`, opened once in Miniflare, with `q` running a timed statement. */
export async function openTimedD1(
  dir: string,
): Promise<{ q: (sql: string, params?: unknown[]) => Promise<TimedResult>; close: () => Promise<void> }> {
  const { Miniflare } = await import('miniflare');
  const mf = new Miniflare({
    modules: true,
    script: TIMING_WORKER,
    d1Persist: path.join(dir, 'v3', 'd1'),
    d1Databases: { DB: d1DatabaseId() },
  });
  return {
    q: async (sql, params = []) => {
      const res = await mf.dispatchFetch('http://bench/', { method: 'POST', body: JSON.stringify({ sql, params }) });
      const body = (await res.json()) as TimedResult & { error?: string };
      if (!res.ok || body.error) throw new Error(`${body.error}\n${sql.slice(0, 400)}`);
      return body;
    },
    close: () => mf.dispose(),
  };
}
