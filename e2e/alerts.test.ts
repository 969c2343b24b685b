/**
 * Alerts in the browser, on a `wrangler dev` of their own (a small demo database), so firing the
 * Cron Trigger here changes nothing other browser tests read. A segment that had 1,000 contacts
 * yesterday is counted afresh by the real scheduled handler (far fewer today), which raises the
 * drop alert; the bell shows it, and acknowledging it on the alerts page clears the bell.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dayNumber } from '@shared/time';
import type { AlertList, AlertRuleItem } from '@shared/api/alerts';
import type { BrowserContext } from 'playwright-core';
import { gotoPage, openPage } from './browser';
import { QUIET_ENV, d1Query, freePort, startDev, stopDev, wrangler } from './wrangler';

const dir = mkdtempSync(join(tmpdir(), 'segflow-e2e-alerts-'));
let dev: ChildProcess | null = null;
let baseURL = '';

beforeAll(async () => {
  wrangler(['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', dir]);
  execFileSync('node_modules/.bin/tsx', ['scripts/seed.ts', '--persist-to', dir, '--contacts', '200', '--seed', '17'], {
    env: QUIET_ENV,
    stdio: 'ignore',
  });
  // the app's config with /__scheduled (wrangler dev --test-scheduled) reaching the worker instead of
  // the SPA fallback, as e2e/archive.test.ts does; written outside the worktree, with absolute paths
  const root = process.cwd();
  const config = join(dir, 'wrangler.toml');
  writeFileSync(
    config,
    readFileSync('wrangler.toml', 'utf8')
      .replace('main = "worker/src/index.ts"', `main = "${root}/worker/src/index.ts"`)
      .replace('directory = "web/dist"', `directory = "${root}/web/dist"`)
      .replace('migrations_dir = "migrations"', `migrations_dir = "${root}/migrations"`)
      .replace('run_worker_first = ["/api/*"]', 'run_worker_first = ["/api/*", "/__scheduled"]'),
  );
  const port = await freePort();
  dev = await startDev(dir, port, ['--test-scheduled', '--config', config]);
  baseURL = `http://127.0.0.1:${port}`;
}, 180_000);

afterAll(() => {
  if (dev) stopDev(dev);
  rmSync(dir, { recursive: true, force: true });
});

/** The API of this test's own server, as the context's signed-in user (browser.ts' apiCall talks to the shared one). */
async function call<T>(context: BrowserContext, method: string, path: string, data?: unknown): Promise<T> {
  const me = await context.request.get(`${baseURL}/api/auth/me`);
  const { csrfToken } = (await me.json()) as { csrfToken: string };
  const res = await context.request.fetch(`${baseURL}/api${path}`, { method, data, headers: { 'x-csrf-token': csrfToken } });
  if (!res.ok()) throw new Error(`${method} ${path} failed: ${res.status()} ${await res.text()}`);
  return (await res.json()) as T;
}

/** One Cron Trigger run through the real scheduled handler (wrangler dev --test-scheduled). */
async function fireCron(): Promise<void> {
  const res = await fetch(`${baseURL}/__scheduled?cron=*+*+*+*+*`);
  expect(await res.text()).toBe('Ran scheduled event');
}

describe('alerts', () => {
  it('the bell shows the alert the cron raised, and acknowledging it on the alerts page clears it', async () => {
    const { context, page, consoleErrors, close } = await openPage('zh-CN', undefined, baseURL);
    try {
      // a segment (广东 contacts: a few dozen of 200) that had 1,000 yesterday
      const segment = await call<{ id: number }>(context, 'POST', '/segments', {
        name: '广东客户',
        graph: {
          schemaVersion: 1,
          nodes: [
            { id: 'start', kind: 'trigger', trigger: { type: 'schedule', cron: 'segment' } },
            { id: 'gd', kind: 'condition', condition: { field: 'region', op: 'eq', value: '广东' } },
            { id: 'end', kind: 'logic', op: 'or' },
          ],
          edges: [
            { id: 'e1', source: 'start', target: 'gd' },
            { id: 'e2', source: 'gd', target: 'end', sourceHandle: 'yes' },
          ],
        },
      });
      const yesterday = dayNumber(Date.now(), 480) - 1;
      wrangler([
        'd1',
        'execute',
        'DB',
        '--local',
        '--persist-to',
        dir,
        '--command',
        `INSERT INTO segment_snapshots (segment_id, day, size) VALUES (${segment.id}, ${yesterday}, 1000)`,
      ]);
      const rule = await call<AlertRuleItem>(context, 'POST', '/alerts/rules', {
        name: '广东客户骤降',
        kind: 'segment_drop',
        segmentId: segment.id,
        threshold: 30,
      });

      await gotoPage(page, `${baseURL}/contacts`);
      const bell = page.getByTestId('alert-bell');
      await expect.poll(() => page.getByTestId('alert-bell-count').locator('sup').isVisible()).toBe(false);

      await fireCron();
      const [today] = d1Query<{ size: number }>(
        dir,
        `SELECT size FROM segment_snapshots WHERE segment_id = ${segment.id} AND day = ${yesterday + 1}`,
      );
      expect(today!.size).toBeLessThan(700);
      const raised = await call<AlertList>(context, 'GET', `/alerts?state=open&alertRuleId=${rule.id}`);
      expect(raised.total).toBe(1);
      // a second tick raises nothing more
      await fireCron();
      expect((await call<AlertList>(context, 'GET', `/alerts?state=open&alertRuleId=${rule.id}`)).total).toBe(1);

      // the bell polls once a minute: a reload shows it at once
      await gotoPage(page, `${baseURL}/contacts`);
      await expect.poll(() => page.getByTestId('alert-bell-count').locator('sup').textContent()).toBe('1');
      await bell.click();
      const item = page.getByTestId('alert-bell-item');
      await expect.poll(() => item.count()).toBe(1);
      expect(await item.textContent()).toContain('广东客户骤降');
      expect(await item.textContent()).toContain('1,000 →');
      await page.getByTestId('alert-bell-all').click();
      await page.waitForURL(/\/alerts$/);

      const row = page.getByTestId('alerts-table').locator('.el-table__row', { hasText: '广东客户骤降' });
      await expect.poll(() => row.count()).toBe(1);
      expect(await row.getByTestId('alert-measured').textContent()).toMatch(/日环比下降 \d+(\.\d)?%：1,000 → \d+/);
      await row.getByTestId('alert-ack').click();
      await expect.poll(() => page.getByTestId('alert-bell-count').locator('sup').isVisible()).toBe(false);
      await expect.poll(() => row.count()).toBe(0);
      expect((await call<AlertList>(context, 'GET', `/alerts?state=acknowledged&alertRuleId=${rule.id}`)).total).toBe(1);
      const audit = d1Query<{ n: number }>(dir, `SELECT COUNT(*) AS n FROM audit_log WHERE action = 'alert.acknowledge'`);
      expect(audit[0]!.n).toBe(1);
      expect(consoleErrors).toEqual([]);
    } finally {
      await close();
    }
  }, 120_000);
});
