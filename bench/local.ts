/**
 * What the benchmarks share about running this checkout locally: its root, the environment
 * wrangler runs quietly in, and the id local D1 files are kept under.
 */
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
