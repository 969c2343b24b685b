import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { apiCall, gotoPage, openPage } from './browser';
import { d1Query } from './wrangler';

const baseURL = inject('baseURL');
const persistTo = inject('persistTo');

let context: BrowserContext;
let close: () => Promise<void>;
let page: Page;

beforeAll(async () => {
  mkdirSync('e2e/screenshots', { recursive: true });
  ({ context, page, close } = await openPage('zh-CN'));
});
afterAll(async () => close?.());

const tagId = (name: string) => d1Query<{ id: number }>(persistTo, `select id from tags where name = '${name}'`)[0]!.id;
const n = (sql: string) => d1Query<{ n: number }>(persistTo, sql)[0]!.n;

/**
 * trigger → messageCount ≥ 5 → add 待跟进; trigger → purchaseCount ≥ 1 → remove 待跟进: the
 * contacts both reach get one net change, and the canvas says so on both actions.
 */
async function openConflictingRule(): Promise<{ id: number; both: number; tag: number }> {
  const tag = tagId('待跟进');
  const graph = {
    schemaVersion: 1,
    nodes: [
      { id: 't', kind: 'trigger', position: { x: 0, y: 120 }, trigger: { type: 'schedule', cron: '0 3 * * *' } },
      { id: 'c1', kind: 'condition', position: { x: 300, y: 0 }, condition: { field: 'messageCount', op: 'gte', value: 5 } },
      { id: 'c2', kind: 'condition', position: { x: 300, y: 260 }, condition: { field: 'purchaseCount', op: 'gte', value: 1 } },
      { id: 'a1', kind: 'action', position: { x: 620, y: 0 }, action: { type: 'add_tag', tagId: tag } },
      { id: 'a2', kind: 'action', position: { x: 620, y: 260 }, action: { type: 'remove_tag', tagId: tag } },
    ],
    edges: [
      { id: 'e1', source: 't', target: 'c1' },
      { id: 'e2', source: 't', target: 'c2' },
      { id: 'e3', source: 'c1', target: 'a1', sourceHandle: 'yes' },
      { id: 'e4', source: 'c2', target: 'a2', sourceHandle: 'yes' },
    ],
  };
  const { id } = await apiCall<{ id: number }>(context, 'POST', '/rules', { name: `加减同一标签 ${Date.now()}`, graph });
  await gotoPage(page, `${baseURL}/rules/${id}`);
  const both = n('select count(*) as n from contacts where message_count >= 5 and purchase_count >= 1');
  return { id, both, tag };
}

describe('Rule editor: actions that collide', () => {
  it('says on both actions how many contacts both reach and which one wins, and publishes the per-tag net change', async () => {
    const { id, both, tag } = await openConflictingRule();
    expect(both).toBeGreaterThan(0);
    const notes = page.getByTestId('action-conflict');
    await expect.poll(() => notes.count(), { timeout: 20_000 }).toBe(2);
    const text = `${both.toLocaleString('zh-CN')} 人同时命中打上「待跟进」和去掉「待跟进」，以去掉为准`;
    expect(await notes.nth(0).innerText()).toBe(text);
    expect(await notes.nth(1).innerText()).toBe(text);
    await page.getByTestId('auto-layout').click();
    await page.screenshot({ path: 'e2e/screenshots/net-change-canvas-zh.png' });

    // the preview lists the tag once, with its net change, and the conflict
    await page.getByTestId('tab-preview').click();
    const panel = page.getByTestId('preview-panel');
    await expect.poll(() => panel.getByTestId('tag-change').count()).toBe(1);
    const lose = n(
      `select count(*) as n from contacts c where purchase_count >= 1 and exists (select 1 from contact_tags where contact_id = c.id and tag_id = ${tag})`,
    );
    expect(await panel.getByTestId('tag-change-lose').innerText()).toBe(`−${lose.toLocaleString('zh-CN')}`);
    expect(await panel.getByTestId('preview-conflict').innerText()).toBe(text);
    await page.screenshot({ path: 'e2e/screenshots/net-change-preview-zh.png' });

    // the publish dialog confirms the same numbers, and publishing writes them
    const gain = n(
      `select count(*) as n from contacts c where message_count >= 5 and not purchase_count >= 1 and not exists (select 1 from contact_tags where contact_id = c.id and tag_id = ${tag})`,
    );
    const holders = n(`select count(*) as n from contact_tags where tag_id = ${tag}`);
    await page.getByTestId('publish').click();
    const dialog = page.getByTestId('publish-changes');
    await expect.poll(() => dialog.getByTestId('tag-change-gain').innerText()).toBe(`+${gain.toLocaleString('zh-CN')}`);
    expect(await dialog.getByTestId('tag-change-lose').innerText()).toBe(`−${lose.toLocaleString('zh-CN')}`);
    await page.waitForTimeout(400); // the dialog's fade-in, for the screenshot only
    await page.screenshot({ path: 'e2e/screenshots/net-change-publish-zh.png' });
    await page.getByTestId('publish-confirm').click();
    await expect.poll(() => page.getByTestId('rule-status').innerText()).toBe('已发布');
    expect(n(`select count(*) as n from contact_tags where tag_id = ${tag}`)).toBe(holders + gain - lose);
    expect(
      n(
        `select count(*) as n from (select contact_id from tag_ledger where rule_id = ${id} and tag_id = ${tag} group by contact_id having count(*) > 1)`,
      ),
    ).toBe(0);
  });

  it('says the same in English', async () => {
    const { both } = await openConflictingRule();
    await page.getByTestId('language-switch').getByText('EN').click();
    const notes = page.getByTestId('action-conflict');
    await expect.poll(() => notes.count(), { timeout: 20_000 }).toBe(2);
    // the English messages arrive on the first switch (a chunk of their own): wait for the words
    await expect
      .poll(() => notes.nth(0).innerText())
      .toBe(`${both.toLocaleString('en')} contacts reach both “add 待跟进” and “remove 待跟进”: the removal wins`);
    await page.getByTestId('auto-layout').click();
    await page.screenshot({ path: 'e2e/screenshots/net-change-canvas-en.png' });
    await page.getByTestId('publish').click();
    await expect.poll(() => page.getByTestId('publish-changes').getByTestId('tag-change').count()).toBe(1);
    await page.waitForTimeout(400);
    await page.screenshot({ path: 'e2e/screenshots/net-change-publish-en.png' });
    await page.getByTestId('publish-cancel').click();
    await page.getByTestId('language-switch').getByText('中文').click();
  });
});
