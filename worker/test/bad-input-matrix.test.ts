/**
 * Every route of the app, signed in as a super admin (who passes every rights check, so the
 * input itself is what is judged), sent what an adversarial client sends: text that is not JSON,
 * JSON of the wrong shape (an array, a string, null), an object with a field no route knows, and
 * a body that is not JSON at all. Each must be answered with a 4xx whose body names the problem,
 * never a 500, and none may change anything: every table holds the same rows afterwards.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { app } from '../src/app';
import { apiAs, anonApi, ROOT, seedSmallWorld } from './fixtures';

const db = env.DB;
/** Tables written by merely being signed in or refused (sessions, sign-in throttling, the security log). */
const NOISE = new Set(['sessions', 'security_events', 'sign_in_attempts', 'd1_migrations', '_cf_KV', 'sqlite_sequence']);

async function tableCounts(): Promise<Record<string, number>> {
  const tables = (
    await db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY name")
      .all<{ name: string }>()
  ).results
    .map((r) => r.name)
    .filter((n) => !NOISE.has(n));
  const rows = await db.batch(tables.map((t) => db.prepare(`SELECT COUNT(*) AS n FROM "${t}"`)));
  return Object.fromEntries(tables.map((t, i) => [t, (rows[i]!.results[0] as { n: number }).n]));
}

const BAD_BODIES: [string, string, string][] = [
  ['not JSON', 'application/json', '{"name": '],
  ['a JSON array', 'application/json', '[1, 2]'],
  ['a JSON string', 'application/json', '"hello"'],
  ['JSON null', 'application/json', 'null'],
  ['an unknown field', 'application/json', '{"__unknown_field__": 1}'],
  ['not JSON, said to be text', 'text/plain', 'hello'],
];

const routes = [...new Set(app.routes.filter((r) => r.method !== 'ALL' && r.method !== 'GET').map((r) => `${r.method} ${r.path}`))];

beforeAll(async () => {
  await seedSmallWorld();
  await apiAs(ROOT, '/api/auth/me'); // the session row exists before the counts are taken
});

describe('bad input on every route that takes a body', () => {
  it('is answered 4xx naming the problem, never 500, and changes nothing', async () => {
    expect(routes.length).toBeGreaterThan(50);
    const before = await tableCounts();
    const wrong: string[] = [];
    for (const key of routes) {
      const [method, path] = key.split(' ') as [string, string];
      const url = path.replace(/:[a-zA-Z]+/g, '1');
      for (const [what, type, text] of BAD_BODIES) {
        const init: RequestInit = { method, headers: { 'content-type': type }, body: text };
        const isPublic = url.startsWith('/api/auth/sign-in') || url.startsWith('/webhooks') || url.startsWith('/api/wecom/callback');
        const r = isPublic ? await anonApi(url, init) : await apiAs(ROOT, url, init);
        const message = (r.body as { error?: { message?: unknown } } | null)?.error?.message;
        if (r.status < 400 || r.status >= 500 || typeof message !== 'string' || !message) {
          wrong.push(`${key} with ${what}: ${r.status} ${JSON.stringify(r.body).slice(0, 160)}`);
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(await tableCounts()).toEqual(before);
  });
});
