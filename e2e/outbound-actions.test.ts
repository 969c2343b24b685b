import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import type { TaxonomyTag } from '@shared/api/taxonomy';
import { apiCall, gotoPage, openPage, revealNode } from './browser';
import { d1Query } from './wrangler';

/**
 * The call-webhook node on the canvas, as a marketer sees it: the count on the node is the number
 * of contacts publishing would call for (those it reaches whose tags publishing changes), equal to
 * what D1 says; the preview panel and the publish dialog say the same; zh-CN and en screenshots.
 */
const baseURL = inject('baseURL');
const persistTo = inject('persistTo');

let context: BrowserContext;
let page: Page;
let consoleErrors: string[];
let close: () => Promise<void>;
let destinationId = 0;
let notifyId = 0;

beforeAll(async () => {
  ({ context, page, consoleErrors, close } = await openPage('zh-CN'));
  // destinations as a super admin makes them on the data-sources screen
  destinationId = (
    await apiCall<{ destination: { id: number } }>(context, 'POST', '/destinations', {
      name: 'CRM 回调',
      kind: 'webhook',
      url: 'https://crm.example.test/hook',
    })
  ).destination.id;
  notifyId = (
    await apiCall<{ destination: { id: number } }>(context, 'POST', '/destinations', {
      name: '负责人提醒',
      kind: 'notify',
      url: 'https://im.example.test/notify',
    })
  ).destination.id;
});
afterAll(async () => close?.());

const shot = (name: string) => page.screenshot({ path: `e2e/screenshots/${name}.png` });

describe('call-webhook node', () => {
  it('shows how many calls publishing makes, equal to D1, on the node, in the preview and in the publish dialog', async () => {
    const [group] = d1Query<{ id: number }>(persistTo, `select id from tag_groups where name = '运营标记'`);
    const tag = await apiCall<TaxonomyTag>(context, 'POST', '/taxonomy/tags', {
      groupId: group!.id,
      name: `华南重点 ${Date.now()}`,
      allowDuplicate: true,
    });
    const graph = {
      schemaVersion: 1,
      nodes: [
        { id: 't', kind: 'trigger', position: { x: 0, y: 80 }, trigger: { type: 'schedule', cron: '0 3 * * *' } },
        { id: 'c', kind: 'condition', position: { x: 320, y: 80 }, condition: { field: 'region', op: 'eq', value: '广东' } },
        { id: 'a', kind: 'action', position: { x: 660, y: 0 }, action: { type: 'add_tag', tagId: tag.id } },
        { id: 'w', kind: 'action', position: { x: 660, y: 200 }, action: { type: 'call_webhook', destinationId } },
      ],
      edges: [
        { id: 'e1', source: 't', target: 'c' },
        { id: 'e2', source: 'c', target: 'a', sourceHandle: 'yes' },
        { id: 'e3', source: 'c', target: 'w', sourceHandle: 'yes' },
      ],
    };
    const { id } = await apiCall<{ id: number }>(context, 'POST', '/rules', { name: `广东客户同步 CRM ${Date.now()}`, graph });
    // the tag is new, so everyone in 广东 gains it: that is who publishing calls the CRM for
    const expected = d1Query<{ n: number }>(persistTo, "select count(*) as n from contacts where region = '广东'")[0]!.n;
    expect(expected).toBeGreaterThan(0);

    await gotoPage(page, `${baseURL}/rules/${id}`);
    const calls = page
      .locator('[data-testid=node-action]')
      .filter({ has: page.getByTestId('action-destination') })
      .getByTestId('action-calls');
    await expect.poll(() => calls.innerText(), { timeout: 30_000 }).toBe(`发布将调用 ${expected.toLocaleString('zh-CN')} 次`);
    const webhookNode = page.locator('[data-testid=node-action]').filter({ has: page.getByTestId('action-destination') });
    await revealNode(page, webhookNode);
    await webhookNode.click();
    await page.getByTestId('destination-picker').waitFor();
    expect(await page.getByTestId('node-error').count()).toBe(0);
    await shot('outbound-inspector-zh-CN');
    await page.getByTestId('tab-preview').click();
    await expect
      .poll(() => page.getByTestId('preview-calls').innerText())
      .toMatch(new RegExp(`^发布将调用 ${expected.toLocaleString('zh-CN')} 次「(CRM 回调|目的地 #${destinationId})」$`));
    await shot('outbound-call-webhook-zh-CN');

    await page.getByTestId('publish').click();
    const dialog = page.getByTestId('publish-changes');
    await expect.poll(() => dialog.getByTestId('preview-calls').innerText()).toContain(`发布将调用 ${expected.toLocaleString('zh-CN')} 次`);
    await page.waitForTimeout(400); // the dialog's fade-in, so the screenshot shows it settled
    await shot('outbound-publish-dialog-zh-CN');
    await page.keyboard.press('Escape');

    await page.getByTestId('language-switch').getByText('EN').click();
    await expect.poll(() => calls.innerText()).toBe(`Publishing calls ${expected.toLocaleString('en')}×`);
    await shot('outbound-call-webhook-en');
    expect(consoleErrors).toEqual([]);
  });

  it('a notify node: placeholder chips write into the text, and an event rule says it calls once per event', async () => {
    const graph = {
      schemaVersion: 1,
      nodes: [
        { id: 't', kind: 'trigger', position: { x: 0, y: 0 }, trigger: { type: 'event', eventType: 'message', filters: [] } },
        {
          id: 'c',
          kind: 'condition',
          position: { x: 320, y: 0 },
          condition: { field: 'trigger.text', op: 'contains_any', value: ['价格'] },
        },
        { id: 'n', kind: 'action', position: { x: 660, y: 0 }, action: { type: 'notify', destinationId: notifyId, text: '客户询价：' } },
      ],
      edges: [
        { id: 'e1', source: 't', target: 'c' },
        { id: 'e2', source: 'c', target: 'n', sourceHandle: 'yes' },
      ],
    };
    const { id } = await apiCall<{ id: number }>(context, 'POST', '/rules', { name: `询价提醒 ${Date.now()}`, graph });
    page.setDefaultTimeout(15_000);
    await page.getByTestId('language-switch').getByText('中文').click();
    await gotoPage(page, `${baseURL}/rules/${id}`);
    const node = page.locator('[data-testid=node-action]');
    await revealNode(page, node);
    await node.click();
    await page.getByTestId('notify-text').waitFor();
    await page.getByRole('button', { name: '联系人姓名' }).click();
    await page.getByRole('button', { name: '标签变化' }).click();
    await expect.poll(() => page.getByTestId('inspector').locator('textarea').inputValue()).toBe('客户询价：{name}{tags}');
    await expect.poll(() => node.locator('.sf-notify-text').innerText()).toBe('客户询价：{name}{tags}');
    expect(await page.getByTestId('inspector').innerText()).toContain('事件触发的规则：之后每个到达此节点的事件调用一次。');
    // it reads its event: publishing calls nobody now
    await expect.poll(() => node.getByTestId('action-calls').innerText(), { timeout: 30_000 }).toBe('发布将调用 0 次');
    await shot('outbound-notify-zh-CN');
  });
});
