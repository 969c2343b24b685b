/**
 * Outbound deliveries end to end (issue 15): `npx tsx bench/outbound.ts [--deliveries 10000]
 * [--fail 0.1] [--seed 1] [--backoff 1] [--concurrency 50] [--port 8799] [--timeout 900]`.
 *
 * On a fresh local D1 (its own persist directory): a sink HTTP server in this process answers
 * 500 to a seeded-random `--fail` share of requests (every request draws again, so a retried
 * delivery may fail again) and 200 to the others; `wrangler dev` runs the worker with the
 * deliveries queue and its consumer as configured, with `DELIVERY_BACKOFF_BASE_SECONDS` set to
 * `--backoff` (the retries' waits: base × 2^(attempt−1), jittered) and
 * `ALLOW_BULK_TEST_DELIVERIES=true`, so the test-delivery endpoint enqueues `--deliveries`
 * synthetic deliveries in one request. It waits until the delivery log holds every id as
 * delivered (or `--timeout` seconds pass) and prints: ids that reached the sink with a 200
 * (missing must be 0), copies the sink received beyond the first success (allowed: at least
 * once), the log's count by status, the most requests in flight at the sink, and deliveries/s.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEMO_PASSWORD } from '@shared/demo/index';
import type { CreatedDestination, TestDeliveryResult } from '@shared/api/destinations';
import { DEV_FIELD_KEY } from '../scripts/dev-field-key';
import { ROOT, WRANGLER_ENV } from './local';

const { values } = parseArgs({
  options: {
    deliveries: { type: 'string', default: '10000' },
    fail: { type: 'string', default: '0.1' },
    seed: { type: 'string', default: '1' },
    backoff: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '50' },
    port: { type: 'string', default: '8799' },
    timeout: { type: 'string', default: '900' },
    keep: { type: 'boolean', default: false },
  },
});
const N = Number(values.deliveries);
const FAIL = Number(values.fail);
const PORT = Number(values.port);
const BASE = `http://127.0.0.1:${PORT}`;
const dir = mkdtempSync(path.join(tmpdir(), 'segflow-bench-outbound-'));
const log = (s: string) => process.stderr.write(`${s}\n`);

/** mulberry32: a small seeded generator, so a run's failures can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const wrangler = (...args: string[]) =>
  execFileSync('npx', ['wrangler', ...args], { cwd: ROOT, env: WRANGLER_ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** A SELECT on the local D1 while wrangler dev writes it: a busy database is asked again. */
async function query<T>(sql: string): Promise<T[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (
        JSON.parse(wrangler('d1', 'execute', 'DB', '--local', '--persist-to', dir, '--json', '--command', sql)) as { results: T[] }[]
      )[0]!.results;
    } catch (e) {
      if (attempt >= 8 || !/SQLITE_BUSY|locked/.test(String(e))) throw e;
      await new Promise((r) => setTimeout(r, 300 * attempt));
    }
  }
}

// ---- the sink ----
const draw = rng(Number(values.seed));
const sink = {
  requests: 0,
  failed: 0,
  badSignature: 0,
  inFlight: 0,
  maxInFlight: 0,
  /** id → 200s answered for it */
  delivered: new Map<string, number>(),
  lastSuccessAt: 0,
};
let secret = '';

const server = createServer((req, res) => {
  sink.requests++;
  sink.inFlight++;
  sink.maxInFlight = Math.max(sink.maxInFlight, sink.inFlight);
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const id = String(req.headers['x-segflow-delivery']);
    const ts = String(req.headers['x-segflow-timestamp']);
    const expected = 'sha256=' + createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex');
    if (req.headers['x-segflow-signature'] !== expected) sink.badSignature++;
    sink.inFlight--;
    if (draw() < FAIL) {
      sink.failed++;
      res.writeHead(500).end('injected failure');
      return;
    }
    sink.delivered.set(id, (sink.delivered.get(id) ?? 0) + 1);
    sink.lastSuccessAt = Date.now();
    res.writeHead(200).end('ok');
  });
});

async function main() {
  const sinkPort = await new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)));
  log(`state: ${dir}; sink on ${sinkPort}`);
  wrangler('d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', dir);
  execFileSync('npx', ['tsx', 'scripts/seed.ts', '--contacts', '10', '--persist-to', dir], {
    cwd: ROOT,
    env: WRANGLER_ENV,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const vars = [`FIELD_KEY:${DEV_FIELD_KEY}`, `DELIVERY_BACKOFF_BASE_SECONDS:${values.backoff}`, 'ALLOW_BULK_TEST_DELIVERIES:true'];
  const dev = spawn(
    'npx',
    [
      'wrangler',
      'dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(PORT),
      '--persist-to',
      dir,
      '--log-level',
      'warn',
      ...vars.flatMap((v) => ['--var', v]),
    ],
    { cwd: ROOT, env: WRANGLER_ENV, stdio: ['ignore', 'ignore', 'inherit'], detached: true },
  );
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${BASE}/api/health`)).ok) break;
      } catch {
        /* not up yet */
      }
      if (i > 120) throw new Error('wrangler dev did not start');
      await new Promise((r) => setTimeout(r, 500));
    }
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
    const post = async <T>(p: string, body: unknown): Promise<T> => {
      const res = await fetch(`${BASE}${p}`, { method: 'POST', headers, body: JSON.stringify(body) });
      if (!res.ok) throw new Error(`${p}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    };
    const created = await post<CreatedDestination>('/api/destinations', {
      name: 'bench sink',
      kind: 'webhook',
      url: `http://127.0.0.1:${sinkPort}/deliveries`,
      concurrency: Number(values.concurrency),
    });
    secret = created.secret;
    const destinationId = created.destination.id;

    log(`enqueueing ${N} deliveries (backoff base ${values.backoff} s, ${FAIL * 100}% failures, seed ${values.seed})…`);
    const started = Date.now();
    const { deliveryIds } = await post<TestDeliveryResult>(`/api/destinations/${destinationId}/test`, { count: N });
    const enqueuedMs = Date.now() - started;
    const deadline = started + Number(values.timeout) * 1000;
    let logged: { status: string; n: number }[] = [];
    for (;;) {
      await new Promise((r) => setTimeout(r, 2000));
      const arrived = deliveryIds.filter((id) => sink.delivered.has(id)).length;
      if (arrived === N || Date.now() > deadline) {
        logged = await query<{ status: string; n: number }>(
          `SELECT status, COUNT(*) AS n FROM deliveries WHERE destination_id = ${destinationId} GROUP BY status`,
        );
        const deliveredInLog = logged.find((r) => r.status === 'delivered')?.n ?? 0;
        if (deliveredInLog === N || Date.now() > deadline) break;
      }
      log(
        `  ${arrived} / ${N} arrived after ${((Date.now() - started) / 1000).toFixed(0)} s (sink: ${sink.requests} requests, ${sink.failed} failed)`,
      );
    }
    const seconds = (sink.lastSuccessAt - started) / 1000;
    const arrived = deliveryIds.filter((id) => sink.delivered.has(id)).length;
    const copies = [...sink.delivered.values()].reduce((a, n) => a + n - 1, 0);
    const attempts = await query<{ total: number; most: number }>(
      `SELECT SUM(attempts) AS total, MAX(attempts) AS most FROM deliveries WHERE destination_id = ${destinationId}`,
    );
    console.log(
      [
        `outbound deliveries: ${N} enqueued in ${(enqueuedMs / 1000).toFixed(1)} s (one test-delivery request)`,
        `settings: DELIVERY_BACKOFF_BASE_SECONDS=${values.backoff}, destination concurrency ${values.concurrency}, failure share ${FAIL}, seed ${values.seed}`,
        `arrived (a 200 at the sink): ${arrived} / ${N}, missing ${N - arrived}`,
        `sink: ${sink.requests} requests, ${sink.failed} answered 500 (injected), ${copies} duplicate successes, ${sink.badSignature} bad signatures, at most ${sink.maxInFlight} in flight`,
        `delivery log: ${logged.map((r) => `${r.status} ${r.n}`).join(', ')}; ${attempts[0]?.total} attempts, at most ${attempts[0]?.most} for one id`,
        `throughput: ${(arrived / seconds).toFixed(0)} deliveries/s (${seconds.toFixed(1)} s from the enqueue request to the last success)`,
      ].join('\n'),
    );
    if (arrived !== N) process.exitCode = 1;
  } finally {
    try {
      process.kill(-dev.pid!, 'SIGTERM');
    } catch {
      /* gone */
    }
    server.close();
    if (!values.keep) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
