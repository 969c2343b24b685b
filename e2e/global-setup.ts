import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { QUIET_ENV, freePort, startDev, stopDev, wrangler } from './wrangler';

declare module 'vitest' {
  export interface ProvidedContext {
    baseURL: string;
    persistTo: string;
  }
}

/** Contacts seeded for browser tests: enough for paging and filters, quick to load. */
const E2E_CONTACTS = '2000';

/**
 * Serves the built app from `wrangler dev` on a fresh local D1 (migrated and seeded with the
 * demo generator), on a free port, so browser tests never touch the developer's data.
 */
export default async function setup(project: TestProject) {
  if (!existsSync('web/dist/index.html')) throw new Error('web/dist is missing: run `npm run build` first (npm test does).');
  const persistTo = mkdtempSync(join(tmpdir(), 'segflow-e2e-'));
  wrangler(['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persistTo]);
  execFileSync('node_modules/.bin/tsx', ['scripts/seed.ts', '--persist-to', persistTo, '--contacts', E2E_CONTACTS], {
    env: QUIET_ENV,
    stdio: 'inherit',
  });
  const port = await freePort();
  const dev = await startDev(persistTo, port);
  project.provide('baseURL', `http://127.0.0.1:${port}`);
  project.provide('persistTo', persistTo);
  return () => {
    stopDev(dev);
    rmSync(persistTo, { recursive: true, force: true });
  };
}
