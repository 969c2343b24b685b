import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { BrowserContext } from 'playwright-core';
import { QUIET_ENV, freePort, startDev, stopDev, wrangler } from './wrangler';

/**
 * A `wrangler dev` of a test file's own, on a small demo database (migrated and seeded), for tests
 * that change what other browser tests read (the Cron Trigger, a WeCom simulator, policies).
 * `scheduled`: `/__scheduled` fires the Cron Trigger (wrangler dev --test-scheduled; wrangler.toml
 * lets it reach the worker before the SPA fallback).
 */
export interface OwnServer {
  dir: string;
  baseURL: string;
  stop: () => void;
}

export async function startOwnServer(
  name: string,
  opts: { contacts?: number; seed?: number; scheduled?: boolean; args?: readonly string[] } = {},
): Promise<OwnServer> {
  const dir = mkdtempSync(join(tmpdir(), `segflow-e2e-${name}-`));
  wrangler(['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', dir]);
  execFileSync(
    'node_modules/.bin/tsx',
    ['scripts/seed.ts', '--persist-to', dir, '--contacts', String(opts.contacts ?? 200), '--seed', String(opts.seed ?? 17)],
    { env: QUIET_ENV, stdio: 'ignore' },
  );
  const args = [...(opts.args ?? []), ...(opts.scheduled ? ['--test-scheduled'] : [])];
  const port = await freePort();
  const dev: ChildProcess = await startDev(dir, port, args);
  return {
    dir,
    baseURL: `http://127.0.0.1:${port}`,
    stop: () => {
      stopDev(dev);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The API of an own server, as the context's signed-in user (browser.ts' apiCall talks to the shared one). */
export async function apiAt<T>(baseURL: string, context: BrowserContext, method: string, path: string, data?: unknown): Promise<T> {
  const me = await context.request.get(`${baseURL}/api/auth/me`);
  const { csrfToken } = (await me.json()) as { csrfToken: string };
  const res = await context.request.fetch(`${baseURL}/api${path}`, { method, data, headers: { 'x-csrf-token': csrfToken } });
  if (!res.ok()) throw new Error(`${method} ${path} failed: ${res.status()} ${await res.text()}`);
  return (await res.json()) as T;
}

/** One Cron Trigger run through the real scheduled handler, now (wrangler dev takes no other time). */
export async function fireCron(baseURL: string): Promise<void> {
  const res = await fetch(`${baseURL}/__scheduled?cron=*+*+*+*+*`);
  expect(await res.text()).toBe('Ran scheduled event');
}
