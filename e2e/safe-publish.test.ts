/**
 * Safe publishing in the browser, on a `wrangler dev` of its own (a small demo database, the Cron
 * Trigger reachable), so firing the cron here changes nothing other browser tests read. A
 * department whose publishes need approval: its department admin schedules a draft rule's publish
 * from the publish dialog → the request waits → the super admin approves it on the approvals
 * screen, seeing the preview as requested and the diff → the real scheduled handler, run at the
 * scheduled time, publishes it → the rule page shows it published.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext } from 'playwright-core';
import { msToLocalTime, type PlanList } from '@shared/api/publishing';
import { SHANGHAI_OFFSET_MINUTES } from '@shared/time';
import type { RuleDetail } from '@shared/api/rules';
import { gotoPage, openPage } from './browser';
import { d1Query } from './wrangler';
import { apiAt, fireCron as fireCronAt, startOwnServer, type OwnServer } from './own-server';

let server: OwnServer;
let dir = '';
let baseURL = '';

beforeAll(async () => {
  server = await startOwnServer('publish', { scheduled: true });
  ({ dir, baseURL } = server);
}, 180_000);
afterAll(() => server?.stop());

const call = <T>(context: BrowserContext, method: string, path: string, data?: unknown) => apiAt<T>(baseURL, context, method, path, data);
const fireCron = () => fireCronAt(baseURL);

describe('safe publishing', () => {
  it('a department admin schedules a publish, it waits for approval, a super admin approves, the cron publishes it', async () => {
    const [dept] = d1Query<{ id: number }>(dir, 'SELECT id FROM departments WHERE parent_id = 1 ORDER BY id LIMIT 1');
    // a tag of a company-wide group anyone may apply, not one WeCom owns
    const [tag] = d1Query<{ id: number }>(
      dir,
      `SELECT t.id FROM tags t JOIN tag_groups g ON g.id = t.group_id
       WHERE g.department_id IS NULL AND g.apply_role = 'staff' AND g.exclusive = 0 AND t.status = 'active' ORDER BY t.id LIMIT 1`,
    );
    const admin = await openPage('zh-CN', `dept${dept!.id}.admin@segflow.demo`, baseURL);
    const root = await openPage('zh-CN', undefined, baseURL);
    try {
      await call(root.context, 'PUT', `/publishing/policies/${dept!.id}`, { requireApproval: true });
      // the existing draft: spend over ¥100 → the tag
      const rule = await call<RuleDetail>(admin.context, 'POST', '/rules', {
        name: '定时发布验收',
        graph: {
          schemaVersion: 1,
          nodes: [
            { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 1 1 *' } },
            { id: 'c', kind: 'condition', condition: { field: 'totalSpend', op: 'gte', value: 10_000 } },
            { id: 'a', kind: 'action', action: { type: 'add_tag', tagId: tag!.id } },
          ],
          edges: [
            { id: 'e1', source: 't', target: 'c' },
            { id: 'e2', source: 'c', target: 'a', sourceHandle: 'yes' },
          ],
        },
      });
      expect(rule.status).toBe('draft');

      // 1. the department admin schedules it from the publish dialog: it becomes a request
      const page = admin.page;
      await gotoPage(page, `${baseURL}/rules/${rule.id}`);
      await page.getByTestId('publish').click();
      const dialog = page.getByTestId('publish-dialog');
      await dialog.getByTestId('publish-mode').getByText('定时发布').click();
      await expect.poll(() => dialog.getByTestId('publish-approval-notice').isVisible()).toBe(true);
      const atInput = dialog.getByTestId('plan-steps').locator('input').first();
      // the default is the next full hour; the test picks a minute soon enough to wait for (local times are to the minute)
      await expect.poll(() => atInput.inputValue()).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:00$/);
      const soon = Math.ceil((Date.now() + 25_000) / 60_000) * 60_000; // 25–85 s ahead: in the future when the request arrives
      await atInput.fill(msToLocalTime(soon, SHANGHAI_OFFSET_MINUTES).replace('T', ' '));
      await atInput.press('Enter');
      const confirm = dialog.getByTestId('publish-confirm');
      await expect.poll(() => confirm.isEnabled()).toBe(true);
      expect(await confirm.innerText()).toBe('提交审批');
      await confirm.click();
      const banner = page.getByTestId('plan-banner');
      await expect.poll(() => banner.getAttribute('data-state')).toBe('awaiting_approval');
      expect(await banner.innerText()).toContain('待审批');
      const [plan] = (await call<PlanList>(admin.context, 'GET', `/publishing/plans?ruleId=${rule.id}&state=all`)).items;
      expect(plan).toMatchObject({ state: 'awaiting_approval', steps: [{ percent: 100, version: null }] });
      const at = plan!.steps[0]!.at!;
      expect(at).toBe(soon);
      expect(d1Query<{ n: number }>(dir, `SELECT COUNT(*) AS n FROM rule_versions WHERE rule_id = ${rule.id}`)[0]!.n).toBe(0);

      // 2. the super admin finds it under 发布审批, looks at the preview and the diff, approves
      const p2 = root.page;
      await gotoPage(p2, `${baseURL}/`);
      await p2.getByTestId('nav').getByText('发布审批').click();
      await p2.waitForURL(/\/publishing$/);
      const row = p2.getByTestId('plans').locator('.el-table__row', { hasText: '定时发布验收' });
      await expect.poll(() => row.count()).toBe(1);
      await row.getByTestId('plan-view').click();
      const detail = p2.getByTestId('plan-detail');
      await expect.poll(() => detail.getByTestId('plan-preview').isVisible()).toBe(true);
      expect(await detail.getByTestId('plan-preview').innerText()).toContain(`${plan!.preview.matched}`);
      expect(await detail.getByTestId('plan-diff').innerText()).toContain('新增');
      await detail.getByTestId('plan-approve').click();
      await p2
        .locator('.el-message-box')
        .getByRole('button', { name: /确定|OK/ })
        .click();
      await expect.poll(() => row.count()).toBe(0); // no longer awaiting
      const approved = (await call<PlanList>(root.context, 'GET', `/publishing/plans?ruleId=${rule.id}&state=all`)).items[0]!;
      expect(approved.state).toBe('scheduled');
      expect(d1Query<{ n: number }>(dir, `SELECT COUNT(*) AS n FROM rule_versions WHERE rule_id = ${rule.id}`)[0]!.n).toBe(0);

      // 3. the cron: before the time nothing, once it has come it publishes (as the requester)
      expect(Date.now()).toBeLessThan(at);
      await fireCron();
      expect(d1Query<{ n: number }>(dir, `SELECT COUNT(*) AS n FROM rule_versions WHERE rule_id = ${rule.id}`)[0]!.n).toBe(0);
      await new Promise((r) => setTimeout(r, Math.max(0, at - Date.now() + 1_000)));
      await fireCron();
      const versions = d1Query<{ version: number; created_by: number; rollout_percent: number }>(
        dir,
        `SELECT version, created_by, rollout_percent FROM rule_versions WHERE rule_id = ${rule.id}`,
      );
      const [requester] = d1Query<{ id: number }>(dir, `SELECT id FROM users WHERE email = 'dept${dept!.id}.admin@segflow.demo'`);
      expect(versions).toEqual([{ version: 1, created_by: requester!.id, rollout_percent: 100 }]);

      // 4. the rule shows published, and its plan is done (no banner)
      await gotoPage(page, `${baseURL}/rules/${rule.id}`);
      await expect.poll(() => page.getByTestId('rule-status').innerText()).toBe('已发布');
      expect(await page.getByTestId('plan-banner').count()).toBe(0);
      expect((await call<PlanList>(admin.context, 'GET', `/publishing/plans?ruleId=${rule.id}&state=all`)).items[0]!.state).toBe('done');
      expect(admin.consoleErrors).toEqual([]);
      expect(root.consoleErrors).toEqual([]);
    } finally {
      await admin.close();
      await root.close();
    }
  }, 240_000);
});
