/**
 * Alerts in the browser, on a `wrangler dev` of their own (a small demo database), so firing the
 * Cron Trigger here changes nothing other browser tests read. A segment that had 1,000 contacts
 * yesterday is counted afresh by the real scheduled handler (far fewer today), which raises the
 * drop alert; the bell shows it, and acknowledging it on the alerts page clears the bell.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dayNumber } from '@shared/time';
import type { AlertList, AlertRuleItem } from '@shared/api/alerts';
import type { BrowserContext } from 'playwright-core';
import { gotoPage, openPage } from './browser';
import { d1Query, wrangler } from './wrangler';
import { apiAt, fireCron as fireCronAt, startOwnServer, type OwnServer } from './own-server';

let server: OwnServer;
let dir = '';
let baseURL = '';

beforeAll(async () => {
  server = await startOwnServer('alerts', { scheduled: true });
  ({ dir, baseURL } = server);
}, 180_000);
afterAll(() => server?.stop());

const call = <T>(context: BrowserContext, method: string, path: string, data?: unknown) => apiAt<T>(baseURL, context, method, path, data);
const fireCron = () => fireCronAt(baseURL);

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
