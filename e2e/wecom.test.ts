/**
 * WeCom both ways in the browser, as a super admin does it on the data-sources screen › 企业微信:
 * connect a corp of the local WeCom simulator (tools/wecom-sim, WeCom's documented frequency
 * limits), watch the backfill finish, turn "sync to WeCom" on for a tag group, publish a rule on
 * it, push now, and see the simulator's customers carry the corp tag the app created. On a
 * `wrangler dev` of its own (WECOM_API_BASE pointed at the simulator) and a small demo database.
 */
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext } from 'playwright-core';
import { expectedOf, type RulePreviewResponse } from '@shared/api/rules';
import { createWecomSim } from '../tools/wecom-sim/app';
import { WECOM_DOCUMENTED_LIMITS } from '../tools/wecom-sim/rate-limit';
import { gotoPage, openPage } from './browser';
import { apiAt, startOwnServer, type OwnServer } from './own-server';

const sim = createWecomSim({ delivery: 'push', limits: WECOM_DOCUMENTED_LIMITS });
const corp = sim.seed({ corpid: 'wwe2ewecom0001', seed: 'e2e-wecom', followUsers: 3, contacts: 24, chats: 2 });
let simServer: ServerType | null = null;
let server: OwnServer | null = null;
let baseURL = '';
let simURL = '';

beforeAll(async () => {
  simServer = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: sim.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  simURL = `http://127.0.0.1:${(simServer.address() as AddressInfo).port}`;
  server = await startOwnServer('wecom', { seed: 23, args: ['--var', `WECOM_API_BASE:${simURL}`] });
  baseURL = server.baseURL;
}, 180_000);

afterAll(() => {
  server?.stop();
  simServer?.close();
});

const call = <T>(context: BrowserContext, method: string, path: string, data?: unknown) => apiAt<T>(baseURL, context, method, path, data);

/** The simulator's customers: external_userid → the corp tag ids of each follow-user relation. */
async function simCustomers(): Promise<Map<string, string[][]>> {
  const res = await fetch(`${simURL}/__sim/corps/${corp.corpid}/contacts?limit=1000`);
  const { items } = (await res.json()) as { items: { external_userid: string; follow_users: { tagIds: string[] }[] }[] };
  return new Map(items.map((c) => [c.external_userid, c.follow_users.map((f) => f.tagIds)]));
}

describe('WeCom both ways', () => {
  it('connects the demo corp, backfills it, syncs a group, publishes a rule on it and the customers carry the corp tag', async () => {
    const { context, page, consoleErrors, close } = await openPage('zh-CN', undefined, baseURL);
    try {
      await gotoPage(page, `${baseURL}/sources?tab=wecom`);
      await page.getByTestId('wecom-connect').click();
      await page.getByTestId('wecom-corp-id').fill(corp.corpid);
      await page.getByTestId('wecom-contact-secret').fill(sim.summary(corp).contactSecret);
      await page.getByTestId('wecom-save').click();
      await expect.poll(() => page.getByTestId('wecom-connection').count()).toBe(1);

      // the backfill, watched to the end on the screen
      await page.getByTestId('wecom-sync-start').click();
      await expect.poll(() => page.getByTestId('wecom-sync-status').textContent(), { timeout: 60_000 }).toBe('已完成');
      const customers = await simCustomers();
      await expect.poll(() => page.getByTestId('wecom-sync-last').textContent()).toContain(`${customers.size} 位客户`);

      // a Segflow group of our own, synced from the push panel (Segflow owns by default)
      const group = await call<{ id: number }>(context, 'POST', '/taxonomy/groups', { name: '企微运营' });
      const tag = await call<{ id: number }>(context, 'POST', '/taxonomy/tags', {
        groupId: group.id,
        name: '重点跟进',
        allowDuplicate: true,
      });
      await page.reload();
      await page.getByTestId(`wecom-sync-switch-${group.id}`).click();
      await expect.poll(() => page.getByTestId(`wecom-policy-${group.id}`).textContent()).toContain('Segflow 决定');

      // a rule on the synced group: every contact with any spend at all gets 重点跟进
      const graph = {
        schemaVersion: 1,
        nodes: [
          { id: 't', kind: 'trigger', position: { x: 0, y: 0 }, trigger: { type: 'schedule', cron: '0 3 * * *' } },
          { id: 'c', kind: 'condition', position: { x: 300, y: 0 }, condition: { field: 'totalSpend', op: 'gte', value: 0 } },
          { id: 'a', kind: 'action', position: { x: 600, y: 0 }, action: { type: 'add_tag', tagId: tag.id } },
        ],
        edges: [
          { id: 'e1', source: 't', target: 'c' },
          { id: 'e2', source: 'c', target: 'a', sourceHandle: 'yes' },
        ],
      };
      const rule = await call<{ id: number }>(context, 'POST', '/rules', { name: '企微重点跟进', graph });
      const preview = await call<RulePreviewResponse>(context, 'POST', '/rules/preview', {
        graph,
        ruleId: rule.id,
        rolloutPercent: 100,
        sampleSize: 0,
      });
      if (!preview.ok) throw new Error(JSON.stringify(preview.errors));
      await call(context, 'POST', `/rules/${rule.id}/publish`, {
        rolloutPercent: 100,
        graphHash: preview.graphHash,
        expected: expectedOf(preview.counts),
        confirm: true,
      });

      // push now: the corp tag is created by the app and marked on every relation of every customer
      await page.getByTestId('wecom-push-now').click();
      const lib = async () =>
        (
          (await (await fetch(`${simURL}/__sim/corps/${corp.corpid}/tags`)).json()) as {
            tags: { id: string; group_id: string; name: string; deleted?: boolean }[];
          }
        ).tags;
      await expect.poll(async () => (await lib()).filter((t) => t.name === '重点跟进' && !t.deleted).length).toBe(1);
      const corpTag = (await lib()).find((t) => t.name === '重点跟进')!.id;
      await expect
        .poll(async () => [...(await simCustomers()).values()].every((rels) => rels.every((tags) => tags.includes(corpTag))), {
          timeout: 60_000,
        })
        .toBe(true);
      await page.reload();
      await expect.poll(() => page.getByTestId('wecom-push-stats').textContent()).toContain(`已推送客户${customers.size}`);
      await page.getByTestId('wecom-push').scrollIntoViewIfNeeded();
      await page.screenshot({ path: 'e2e/screenshots/wecom-push-zh.png', fullPage: true });

      // someone removes the corp tag by hand in WeCom (no callback configured): the next backfill
      // finds it, lists it on the screen and the push takes WeCom back to the rule's result
      const edited = [...(await simCustomers()).keys()][0]!;
      const rel = (
        (await (await fetch(`${simURL}/__sim/corps/${corp.corpid}/contacts?limit=1000`)).json()) as {
          items: { external_userid: string; follow_users: { userid: string }[] }[];
        }
      ).items.find((c) => c.external_userid === edited)!;
      const edit = await fetch(`${simURL}/__sim/corps/${corp.corpid}/changes/mark-tag`, {
        method: 'POST',
        body: JSON.stringify({ userid: rel.follow_users[0]!.userid, external_userid: edited, remove_tag: [corpTag] }),
      });
      expect(edit.status).toBe(200);
      await page.getByTestId('wecom-sync-start').click();
      await expect.poll(() => page.getByTestId('wecom-sync-status').textContent(), { timeout: 60_000 }).toBe('已完成');
      await expect
        .poll(async () => (await simCustomers()).get(edited)!.every((tags) => tags.includes(corpTag)), { timeout: 60_000 })
        .toBe(true);
      await page.getByTestId('wecom-overrides-refresh').click();
      const table = page.getByTestId('wecom-overrides-table');
      await expect.poll(() => table.textContent(), { timeout: 30_000 }).toContain('被移除');
      await expect.poll(() => table.textContent()).toContain('重点跟进');
      await expect.poll(() => table.textContent()).toContain(rel.follow_users[0]!.userid);
      await expect
        .poll(
          async () => {
            await page.getByTestId('wecom-overrides-refresh').click();
            return page.locator('[data-testid^="wecom-override-reverted-"]').count();
          },
          { timeout: 30_000 },
        )
        .toBe(1);
      const contactLink = page.locator('[data-testid^="wecom-override-contact-"]').first();
      const contactHref = await contactLink.getAttribute('href');
      expect(contactHref).toMatch(/^\/contacts\/\d+$/);

      // renaming the mirrored tag renames the corp tag in WeCom (edit_corp_tag), shown as done
      await call(context, 'PATCH', `/taxonomy/tags/${tag.id}`, { name: '重点跟进客户' });
      await expect.poll(async () => (await lib()).find((t) => t.id === corpTag)?.name, { timeout: 30_000 }).toBe('重点跟进客户');
      await page.reload();
      await expect.poll(() => page.getByTestId(`wecom-tag-op-${tag.id}`).textContent()).toContain('已完成');
      await expect.poll(() => page.getByTestId(`wecom-tag-op-${tag.id}`).textContent()).toContain('改名为「重点跟进客户」');
      await page.setViewportSize({ width: 1440, height: 900 });
      await page.getByTestId('wecom-overrides').scrollIntoViewIfNeeded();
      await page.screenshot({ path: 'e2e/screenshots/wecom-sync-zh.png' });

      // an admin adds 「重点客户」 to the group in WeCom's console: renaming ours to it is refused by
      // WeCom (40071), shown failed with a retry; once the admin renames theirs, the retry goes through
      const clash = await fetch(`${simURL}/__sim/corps/${corp.corpid}/changes/create-tag`, {
        method: 'POST',
        body: JSON.stringify({ group_id: (await lib()).find((t) => t.id === corpTag)!.group_id, tag: [{ name: '重点客户' }] }),
      });
      expect(clash.status).toBe(200);
      await call(context, 'PATCH', `/taxonomy/tags/${tag.id}`, { name: '重点客户', allowDuplicate: true });
      await page.reload();
      const retry = page.getByTestId('wecom-push-retry');
      await expect.poll(() => page.getByTestId(`wecom-tag-op-${tag.id}`).textContent(), { timeout: 30_000 }).toContain('40071');
      await expect.poll(() => retry.textContent()).toContain('重试失败项（1）');
      await page.getByTestId('wecom-tag-ops').scrollIntoViewIfNeeded();
      await page.screenshot({ path: 'e2e/screenshots/wecom-tag-op-failed-zh.png' });
      const theirs = (await lib()).find((t) => t.name === '重点客户' && t.id !== corpTag)!;
      await fetch(`${simURL}/__sim/corps/${corp.corpid}/changes/edit-tag`, {
        method: 'POST',
        body: JSON.stringify({ id: theirs.id, name: '重点客户（旧）' }),
      });
      await page.getByTestId('wecom-tag-ops-retry').click(); // beside the failed op (the panel's toolbar has the same)
      await expect.poll(async () => (await lib()).find((t) => t.id === corpTag)?.name, { timeout: 30_000 }).toBe('重点客户');
      await page.reload();
      await expect.poll(() => page.getByTestId(`wecom-tag-op-${tag.id}`).textContent(), { timeout: 30_000 }).toContain('已完成');
      await expect.poll(() => retry.count()).toBe(0);
      await call(context, 'PATCH', `/taxonomy/tags/${tag.id}`, { name: '重点跟进客户' });
      await expect.poll(async () => (await lib()).find((t) => t.id === corpTag)?.name, { timeout: 30_000 }).toBe('重点跟进客户');

      await contactLink.click();
      await expect.poll(() => page.url()).toContain(contactHref!);

      // the retire dialog says what retiring the mirrored tag does in WeCom, with the customer count
      await gotoPage(page, `${baseURL}/tags`);
      const row = page.getByTestId('tag-row').filter({ hasText: '重点跟进客户' });
      await row.hover();
      await row.getByTestId('tag-actions').click();
      await page.locator('[data-testid="tag-action-retire"]:visible').click();
      const impact = page.getByTestId('retire-dialog').locator('[data-testid^="retire-wecom-"]');
      await expect.poll(() => impact.textContent()).toContain(`从 ${customers.size} 位客户`);
      await expect.poll(() => impact.textContent()).toContain(corp.corpid);
      await page.waitForTimeout(500); // Element Plus fades the dialog in
      await page.screenshot({ path: 'e2e/screenshots/wecom-retire-zh.png' });
      await page.keyboard.press('Escape');
      expect(consoleErrors).toEqual([]);
    } finally {
      await close();
    }
  });

  it('shows the push panel in English', async () => {
    const { page, consoleErrors, close } = await openPage('en', undefined, baseURL);
    try {
      await gotoPage(page, `${baseURL}/sources?tab=wecom`);
      await expect.poll(() => page.getByTestId('wecom-push').textContent()).toContain('Push to WeCom');
      await expect.poll(() => page.getByTestId('wecom-push-groups').textContent()).toContain('Segflow owns');
      await page.screenshot({ path: 'e2e/screenshots/wecom-push-en.png', fullPage: true });
      await expect.poll(() => page.getByTestId('wecom-overrides').textContent()).toContain('WeCom edits reverted');
      await expect.poll(() => page.getByTestId('wecom-overrides-table').textContent()).toContain('removed');
      await page.setViewportSize({ width: 1440, height: 900 });
      await page.getByTestId('wecom-overrides').scrollIntoViewIfNeeded();
      await page.screenshot({ path: 'e2e/screenshots/wecom-sync-en.png' });
      await gotoPage(page, `${baseURL}/tags`);
      const row = page.getByTestId('tag-row').filter({ hasText: '重点跟进客户' });
      await row.hover();
      await row.getByTestId('tag-actions').click();
      await page.locator('[data-testid="tag-action-retire"]:visible').click();
      await expect
        .poll(() => page.getByTestId('retire-dialog').locator('[data-testid^="retire-wecom-"]').textContent())
        .toMatch(/leaves \d+ customers/);
      await page.waitForTimeout(500); // Element Plus fades the dialog in
      await page.screenshot({ path: 'e2e/screenshots/wecom-retire-en.png' });
      expect(consoleErrors).toEqual([]);
    } finally {
      await close();
    }
  });
});
