import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { DEV_FIELD_KEY } from '../scripts/dev-field-key';

/** Environment that keeps wrangler/miniflare from reaching for the network. */
export const QUIET_ENV = {
  ...process.env,
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_HIDE_BANNER: 'true',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  NO_COLOR: '1',
};

const bin = (name: string) => `node_modules/.bin/${name}`;

/** Runs `wrangler …` to completion and returns its stdout. */
export function wrangler(args: string[]): string {
  return execFileSync(bin('wrangler'), args, { env: QUIET_ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Rows of a SELECT run directly on a local D1 state directory, bypassing the worker. The running
 * `wrangler dev` writes the same SQLite file, so a read can meet its write lock (SQLITE_BUSY): a
 * read changes nothing, so it is tried again after a pause, up to five times.
 */
export function d1Query<T>(persistTo: string, sql: string): T[] {
  for (let attempt = 1; ; attempt++) {
    try {
      const out = wrangler(['d1', 'execute', 'DB', '--local', '--persist-to', persistTo, '--json', '--command', sql]);
      return (JSON.parse(out) as { results: T[] }[])[0]!.results;
    } catch (e) {
      const busy = e instanceof Error && /SQLITE_BUSY|database is locked/.test(e.message);
      if (!busy || attempt === 5) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250 * attempt);
    }
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts `wrangler dev` on a port and state directory of its own, with its DevTools inspector on a
 * free port too (the default 9229 would keep two test runs from sharing a machine); resolves once
 * /api/health answers. Everything wrangler prints is also appended to `${persistTo}/wrangler-dev.log`,
 * so a request it left unanswered can be traced afterwards.
 */
export async function startDev(persistTo: string, port: number, extraArgs: readonly string[] = []): Promise<ChildProcess> {
  const inspectorPort = await freePort();
  const child = spawn(
    bin('wrangler'),
    [
      'dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--inspector-port',
      String(inspectorPort),
      '--persist-to',
      persistTo,
      '--var',
      `FIELD_KEY:${DEV_FIELD_KEY}`,
      // outbound deliveries retry at once: a dead letter (five failed attempts) appears within seconds
      '--var',
      'DELIVERY_BACKOFF_BASE_SECONDS:0',
      ...extraArgs,
    ],
    {
      env: QUIET_ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  let log = '';
  const logFile = createWriteStream(devLogPath(persistTo), { flags: 'a' });
  const record = (d: Buffer) => {
    if (log.length < 1 << 20) log += d;
    logFile.write(`${new Date().toISOString()} ${d}`);
  };
  child.stdout!.on('data', record);
  child.stderr!.on('data', record);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited early:\n${log}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/api/health`);
      if (res.ok) return child;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  stopDev(child);
  throw new Error(`wrangler dev did not answer within 60 s:\n${log}`);
}

/** Where startDev appends what wrangler dev prints. */
export const devLogPath = (persistTo: string) => join(persistTo, 'wrangler-dev.log');

export function stopDev(child: ChildProcess) {
  try {
    process.kill(-child.pid!, 'SIGTERM');
  } catch {
    // already gone
  }
}
