/**
 * Segment export at 100k contacts, through `wrangler dev`, with the memory it takes:
 *
 *   npx tsx bench/export.ts [--contacts 100000] [--persist-to /tmp/segflow-bench-export] [--port 8868] [--reps 2]
 *
 * On its own local D1 (migrated and seeded by bench/local.ts `migrateAndSeed`, reused across
 * runs), as the demo super admin (so phone and ID number are decrypted and written, the most
 * work per row), it creates two segments of the same shape — "rollout bucket in 1%" (≈1k
 * contacts: the baseline) and "in 100%" (every contact) — and downloads each through
 * `POST /api/segments/:id/export` as CSV and as XLSX, interleaved, `--reps` times. The client
 * counts the bytes as they arrive and keeps none of them.
 *
 * Memory: while each export runs, the resident set (VmRSS, /proc) of the dev server's workerd
 * processes — the Worker and the local D1 it reads (miniflare runs D1 inside workerd too) — is
 * sampled every 20 ms. Printed: the peak, the rise over the idle RSS just before the request, and
 * the ratios 100k ÷ 1k of the rise and of the time. A Worker that held the whole file would rise
 * by at least the file's size; one that streams rises by about the same for 1k and 100k rows.
 */
import { spawn } from 'node:child_process';
// wrangler's own dependency (through miniflare); undici's WebSocket is refused by the inspector proxy
import { createRequire } from 'node:module';
import { readFileSync, readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEMO_PASSWORD } from '@shared/demo/index';
import { DEV_FIELD_KEY } from '../scripts/dev-field-key';
import { ROOT, WRANGLER_ENV, median, migrateAndSeed } from './local';

const { values } = parseArgs({
  options: {
    contacts: { type: 'string', default: '100000' },
    'persist-to': { type: 'string', default: '/tmp/segflow-bench-export' },
    port: { type: 'string', default: '8868' },
    reps: { type: 'string', default: '2' },
  },
});
const CONTACTS = Number(values.contacts);
const DIR = values['persist-to']!;
const PORT = Number(values.port);
const REPS = Number(values.reps);
const BASE = `http://127.0.0.1:${PORT}`;
const INSPECTOR_PORT = PORT + 1000;
const log = (s: string) => process.stderr.write(`${s}\n`);
const MB = 1024 * 1024;

/** Resident set (bytes) of every workerd process in the dev server's process group. */
function workerdRss(group: number): number {
  let kb = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      if (pgrp !== group || !comm.startsWith('workerd')) continue;
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      /* gone */
    }
  }
  return kb * 1024;
}

/** The little of `ws` used here (no @types/ws in the tree). */
interface Socket {
  on(event: 'open' | 'error' | 'message', cb: (data?: unknown) => void): void;
  send(text: string): void;
  close(): void;
}
const WebSocket = createRequire(import.meta.url)('ws') as new (url: string) => Socket;

/**
 * The Worker isolate's own JS heap, through the DevTools protocol of `wrangler dev`'s inspector
 * (`Runtime.getHeapUsage`, sampled while an export runs). RSS mixes in the local D1 (SQLite's
 * cache, miniflare's D1 object) and memory V8 has not handed back yet; the isolate's used heap
 * is what the export holds, plus garbage not collected yet (workerd does not answer
 * `HeapProfiler.collectGarbage`, so no forced GC before a run).
 */
class Inspector {
  private seq = 0;
  private readonly pending = new Map<number, (r: unknown) => void>();
  private constructor(private readonly ws: Socket) {
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as { id?: number; result?: unknown };
      if (msg.id === undefined) return;
      this.pending.get(msg.id)?.(msg.result);
      this.pending.delete(msg.id);
    });
  }
  static async open(port: number): Promise<Inspector> {
    for (let i = 0; ; i++) {
      try {
        const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as { webSocketDebuggerUrl: string }[];
        const url = targets[0]?.webSocketDebuggerUrl;
        if (!url) throw new Error('no inspector target');
        const ws = new WebSocket(url);
        await new Promise((ok, fail) => {
          ws.on('open', ok);
          ws.on('error', fail);
        });
        const inspector = new Inspector(ws);
        // the proxy turns on Network for DevTools: every D1 answer would be copied to us
        await inspector.send('Network.disable');
        return inspector;
      } catch (e) {
        if (i > 40) throw e;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }
  send<T>(method: string, params: object = {}): Promise<T> {
    const id = ++this.seq;
    return new Promise<T>((ok) => {
      this.pending.set(id, ok as (r: unknown) => void);
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }
  async heapUsed(): Promise<number> {
    return (await this.send<{ usedSize: number }>('Runtime.getHeapUsage')).usedSize;
  }
  close() {
    this.ws.close();
  }
}

let cookie = '';
let csrf = '';
async function call(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${BASE}${path}`, {
    method,
    headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrf },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function signIn(): Promise<void> {
  const res = await fetch(`${BASE}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'admin@segflow.demo', password: DEMO_PASSWORD }),
  });
  if (!res.ok) throw new Error(`sign-in failed: ${res.status} ${await res.text()}`);
  cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
  csrf = ((await res.json()) as { csrfToken: string }).csrfToken;
}

/** A segment "rollout bucket in `percent`%": the same predicate shape at every size. */
async function bucketSegment(percent: number): Promise<{ id: number; size: number }> {
  const name = `bench-export-${percent}%`;
  const graph = {
    schemaVersion: 1,
    nodes: [
      { id: 's', kind: 'trigger', trigger: { type: 'schedule', cron: 'segment' } },
      { id: 'c', kind: 'condition', condition: { field: 'bucket', op: 'in_rollout', value: { percent, salt: 0 } } },
      { id: 'end', kind: 'logic', op: 'or' },
    ],
    edges: [
      { id: 'e1', source: 's', target: 'c' },
      { id: 'e2', source: 'c', target: 'end', sourceHandle: 'yes' },
    ],
  };
  // reused across runs on the same directory, as the seeded contacts are
  const found = (await (await call('GET', `/api/segments?pageSize=100&q=${encodeURIComponent(name)}`)).json()) as {
    items: { id: number; name: string; size: number }[];
  };
  const existing = found.items.find((s) => s.name === name);
  if (existing) return { id: existing.id, size: existing.size };
  const res = await call('POST', '/api/segments', { name, graph });
  if (res.status !== 201) throw new Error(`segment: ${res.status} ${await res.text()}`);
  const s = (await res.json()) as { id: number; size: number };
  return { id: s.id, size: s.size };
}

interface Run {
  rows: number;
  bytes: number;
  seconds: number;
  /** workerd processes' RSS before and at most during the export */
  idle: number;
  peak: number;
  /** the Worker isolate's used JS heap before the export, and at most during it */
  heapBase: number;
  heapPeak: number;
}

/** One export, read to the end chunk by chunk (nothing kept), with workerd's RSS sampled meanwhile. */
async function exportOnce(group: number, inspector: Inspector, segmentId: number, format: 'csv' | 'xlsx'): Promise<Run> {
  const heapBase = await inspector.heapUsed();
  let heapPeak = heapBase;
  let sampling = true;
  const heapSampler = (async () => {
    while (sampling) {
      heapPeak = Math.max(heapPeak, await inspector.heapUsed());
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const idle = workerdRss(group);
  let peak = idle;
  const timer = setInterval(() => (peak = Math.max(peak, workerdRss(group))), 20);
  const started = performance.now();
  try {
    const res = await call('POST', `/api/segments/${segmentId}/export`, { format });
    if (!res.ok || !res.body) throw new Error(`export: ${res.status} ${await res.text()}`);
    let bytes = 0;
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.length;
    }
    const seconds = (performance.now() - started) / 1000;
    peak = Math.max(peak, workerdRss(group));
    sampling = false;
    await heapSampler;
    return { rows: Number(res.headers.get('x-export-rows')), bytes, seconds, idle, peak, heapBase, heapPeak };
  } finally {
    sampling = false;
    clearInterval(timer);
  }
}

async function main() {
  migrateAndSeed(DIR, CONTACTS, log);
  const stale = await fetch(`${BASE}/api/health`).then(
    () => true,
    () => false,
  );
  if (stale) throw new Error(`port ${PORT} already answers (a server left from another run?): stop it or pass --port`);
  log('starting wrangler dev…');
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
      DIR,
      '--log-level',
      'warn',
      '--inspector-port',
      String(INSPECTOR_PORT),
      '--var',
      `FIELD_KEY:${DEV_FIELD_KEY}`,
    ],
    { cwd: ROOT, env: WRANGLER_ENV, stdio: ['ignore', 'ignore', 'inherit'], detached: true },
  );
  const group = dev.pid!;
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
    await signIn();
    const inspector = await Inspector.open(INSPECTOR_PORT);
    const small = await bucketSegment(1);
    const large = await bucketSegment(100);
    log(`segments: ${small.size.toLocaleString()} and ${large.size.toLocaleString()} contacts`);
    // warm-up: the isolate compiled, the paths JIT-ed, the D1 file in the page cache
    await exportOnce(group, inspector, small.id, 'csv');
    await exportOnce(group, inspector, large.id, 'xlsx');

    const runs: Record<string, Run[]> = {};
    for (let rep = 0; rep < REPS; rep++) {
      for (const format of ['csv', 'xlsx'] as const) {
        for (const [label, seg] of [
          ['1k', small],
          ['100k', large],
        ] as const) {
          const r = await exportOnce(group, inspector, seg.id, format);
          if (r.rows !== seg.size) throw new Error(`${label} ${format}: ${r.rows} rows exported, segment has ${seg.size}`);
          (runs[`${format} ${label}`] ??= []).push(r);
          log(
            `${format} ${label}: ${r.rows} rows, ${(r.bytes / MB).toFixed(1)} MB in ${r.seconds.toFixed(2)} s; Worker heap ${(r.heapBase / MB).toFixed(1)} → peak ${(r.heapPeak / MB).toFixed(1)} MB; workerd RSS ${(r.idle / MB).toFixed(0)} → peak ${(r.peak / MB).toFixed(0)} MB`,
          );
        }
      }
    }

    const row = (k: string) => {
      const rs = runs[k]!;
      return {
        rows: rs[0]!.rows,
        mb: rs[0]!.bytes / MB,
        s: median(rs.map((r) => r.seconds)),
        peak: Math.max(...rs.map((r) => r.peak)) / MB,
        rise: Math.max(...rs.map((r) => r.peak - r.idle)) / MB,
        heap: Math.max(...rs.map((r) => r.heapPeak)) / MB,
        heapRise: Math.max(...rs.map((r) => r.heapPeak - r.heapBase)) / MB,
      };
    };
    console.log(`\nExport of a segment through wrangler dev, ${CONTACTS.toLocaleString()} contacts, ${REPS} reps (median time, max RSS)\n`);
    console.log('| export | rows | file MB | seconds | rows/s | Worker heap peak MB | heap rise MB | workerd peak RSS MB | RSS rise MB |');
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const k of Object.keys(runs)) {
      const r = row(k);
      console.log(
        `| ${k} | ${r.rows.toLocaleString()} | ${r.mb.toFixed(1)} | ${r.s.toFixed(2)} | ${Math.round(r.rows / r.s).toLocaleString()} | ${r.heap.toFixed(1)} | ${r.heapRise.toFixed(1)} | ${r.peak.toFixed(0)} | ${r.rise.toFixed(1)} |`,
      );
    }
    console.log('');
    for (const format of ['csv', 'xlsx']) {
      const a = row(`${format} 1k`);
      const b = row(`${format} 100k`);
      console.log(
        `${format}: 100k ÷ 1k — rows ×${(b.rows / a.rows).toFixed(0)}, time ×${(b.s / a.s).toFixed(1)}, ` +
          `Worker heap peak ×${(b.heap / a.heap).toFixed(2)} (rise ${a.heapRise.toFixed(1)} → ${b.heapRise.toFixed(1)} MB), ` +
          `workerd RSS rise ×${(b.rise / Math.max(a.rise, 0.1)).toFixed(1)} (${a.rise.toFixed(1)} → ${b.rise.toFixed(1)} MB); the 100k file is ${b.mb.toFixed(1)} MB`,
      );
    }
    inspector.close();
  } finally {
    try {
      process.kill(-group, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
