/**
 * A marketer's first hour (issue 17), end to end in the browser on a server of its own: a
 * department admin signs in and lands on the home, whose charts have data → 新建规则 → the
 * gallery's RFM template → the editor with the preview counted → 定时发布 → the request waits
 * for approval (the department's policy) → a super admin approves it on 发布审批 → the real
 * Cron Trigger publishes it at its minute → a segment of the tag the rule writes gains its point
 * for today, equal to the holders D1 has.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext } from 'playwright-core';
import { msToLocalTime, type PlanList } from '@shared/api/publishing';
import type { SegmentHistoryResponse } from '@shared/api/segments';
import { SHANGHAI_OFFSET_MINUTES, dayNumber } from '@shared/time';
import { gotoPage, openPage } from './browser';
import { d1Query } from './wrangler';
import { apiAt, fireCron as fireCronAt, startOwnServer, type OwnServer } from './own-server';

let server: OwnServer;
let dir = '';
let baseURL = '';

beforeAll(async () => {
  server = await startOwnServer('first-hour', { scheduled: true, seed: 29 });
  ({ dir, baseURL } = server);
}, 180_000);
afterAll(() => server?.stop());

const call = <T>(context: BrowserContext, method: string, path: string, data?: unknown) => apiAt<T>(baseURL, context, method, path, data);
const fireCron = () => fireCronAt(baseURL);
const versionsOf = (ruleId: number) =>
  d1Query<{ n: number }>(dir, `SELECT COUNT(*) AS n FROM rule_versions WHERE rule_id = ${ruleId}`)[0]!.n;

describe('the first hour', () => {
  it('home → RFM template → preview → scheduled publish → approval → the cron publishes → the segment gains a point', async () => {
    const [dept] = d1Query<{ id: number }>(dir, 'SELECT id FROM departments WHERE parent_id = 1 ORDER BY id LIMIT 1');
    const admin = await openPage('zh-CN', `dept${dept!.id}.admin@segflow.demo`, baseURL);
    const root = await openPage('zh-CN', undefined, baseURL);
    try {
      await call(root.context, 'PUT', `/publishing/policies/${dept!.id}`, { requireApproval: true });
      const page = admin.page;

      // 1. the home: segment sizes and rule activity with data, scoped to the department
      await gotoPage(page, `${baseURL}/`);
      await page.getByTestId('segments-chart').waitFor();
      await page.getByTestId('rules-chart').waitFor();
      expect(await page.getByTestId('home-segments').innerText()).toMatch(/\d/);
      await page.screenshot({ path: 'e2e/screenshots/first-hour-home-zh-CN.png' });

      // 2. 新建规则 → the gallery → RFM: a draft whose preview counts on its own
      await page.getByTestId('nav').getByText('标签规则').click();
      await page.getByTestId('create-rule').click();
      await page.getByTestId('template-card-rfm').click();
      await page.getByTestId('template-use').click();
      await page.waitForURL(/\/rules\/\d+\?template=rfm$/);
      const ruleId = Number(/\/rules\/(\d+)/.exec(page.url())![1]);
      await expect.poll(() => page.getByTestId('bar-matched').innerText(), { timeout: 30_000 }).toMatch(/\d/);

      // 3. 定时发布 at a minute soon: a request, since the department's publishes need approval
      await page.getByTestId('publish').click();
      const dialog = page.getByTestId('publish-dialog');
      await dialog.getByTestId('publish-mode').getByText('定时发布').click();
      const atInput = dialog.getByTestId('plan-steps').locator('input').first();
      await expect.poll(() => atInput.inputValue()).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:00$/);
      const soon = Math.ceil((Date.now() + 25_000) / 60_000) * 60_000;
      await atInput.fill(msToLocalTime(soon, SHANGHAI_OFFSET_MINUTES).replace('T', ' '));
      await atInput.press('Enter');
      const confirm = dialog.getByTestId('publish-confirm');
      await expect.poll(() => confirm.isEnabled()).toBe(true);
      expect(await confirm.innerText()).toBe('提交审批');
      await confirm.click();
      await expect.poll(() => page.getByTestId('plan-banner').getAttribute('data-state')).toBe('awaiting_approval');
      expect(versionsOf(ruleId)).toBe(0);
      // the rules list says so under the rule's status
      await gotoPage(page, `${baseURL}/rules`);
      const listed = page.locator('.el-table__row', { hasText: 'RFM' }).getByTestId('rule-plan');
      await expect.poll(() => listed.first().innerText()).toContain('待审批');

      // 4. the super admin approves it on 发布审批
      const p2 = root.page;
      await gotoPage(p2, `${baseURL}/publishing`);
      const row = p2.getByTestId('plans').locator('.el-table__row', { hasText: 'RFM' });
      await expect.poll(() => row.count()).toBe(1);
      await row.getByTestId('plan-view').click();
      await p2.getByTestId('plan-detail').getByTestId('plan-approve').click();
      await p2
        .locator('.el-message-box')
        .getByRole('button', { name: /确定|OK/ })
        .click();
      await expect
        .poll(async () => (await call<PlanList>(root.context, 'GET', `/publishing/plans?ruleId=${ruleId}&state=all`)).items[0]?.state)
        .toBe('scheduled');

      // 5. the cron publishes it at its minute, not before
      await fireCron();
      expect(versionsOf(ruleId)).toBe(0);
      await new Promise((r) => setTimeout(r, Math.max(0, soon - Date.now() + 1_000)));
      await fireCron();
      expect(versionsOf(ruleId)).toBe(1);
      await gotoPage(page, `${baseURL}/rules/${ruleId}`);
      await expect.poll(() => page.getByTestId('rule-status').innerText()).toBe('已发布');

      // 6. a segment of the tag the rule writes: the next tick gives it today's point, equal to D1
      const graph = JSON.parse(
        d1Query<{ draft_graph: string }>(dir, `SELECT draft_graph FROM rules WHERE id = ${ruleId}`)[0]!.draft_graph,
      ) as {
        nodes: { id: string; kind: string; action?: { tagId: number } }[];
      };
      // the tier the rule gave most of the department's contacts
      const holdersOf = (tagId: number) =>
        d1Query<{ n: number }>(
          dir,
          `SELECT COUNT(*) AS n FROM contact_tags ct JOIN contacts c ON c.id = ct.contact_id JOIN departments d ON d.id = c.department_id
           WHERE ct.tag_id = ${tagId} AND d.path LIKE (SELECT path FROM departments WHERE id = ${dept!.id}) || '%'`,
        )[0]!.n;
      const tiers = graph.nodes.filter((n) => n.kind === 'action').map((n) => ({ tagId: n.action!.tagId, n: holdersOf(n.action!.tagId) }));
      const tier = tiers.sort((x, y) => y.n - x.n)[0]!;
      expect(tier.n).toBeGreaterThan(0);
      const high = tier.tagId;
      const segment = await call<{ id: number }>(admin.context, 'POST', '/segments', {
        name: 'RFM 分层（本部门）',
        graph: {
          schemaVersion: 1,
          nodes: [
            { id: 'start', kind: 'trigger', trigger: { type: 'schedule', cron: 'segment' } },
            { id: 'c', kind: 'condition', condition: { field: 'tags', op: 'has', value: high } },
            { id: 'end', kind: 'logic', op: 'or' },
          ],
          edges: [
            { id: 'e1', source: 'start', target: 'c' },
            { id: 'e2', source: 'c', target: 'end', sourceHandle: 'yes' },
          ],
        },
      });
      const before = await call<SegmentHistoryResponse>(admin.context, 'GET', `/segments/${segment.id}/history`);
      expect(before.sizes.filter((s) => s !== null)).toEqual([]);
      await fireCron();
      const after = await call<SegmentHistoryResponse>(admin.context, 'GET', `/segments/${segment.id}/history`);
      const today = dayNumber(Date.now(), after.tzOffsetMinutes);
      expect(after.days.at(-1)).toBe(today);
      const holders = holdersOf(high);
      expect(after.sizes.at(-1)).toBe(holders);
      await gotoPage(page, `${baseURL}/segments/${segment.id}`);
      await page.getByTestId('segment-history').waitFor();
      expect(await page.getByTestId('segment-history').innerText()).toContain(holders.toLocaleString('zh-CN'));
      await page.screenshot({ path: 'e2e/screenshots/first-hour-segment-zh-CN.png' });
      expect(admin.consoleErrors).toEqual([]);
      expect(root.consoleErrors).toEqual([]);
    } finally {
      await admin.close();
      await root.close();
    }
  }, 300_000);
});
