import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { apiCall, openPage, publishViaApi, gotoPage } from './browser';
import { d1Query } from './wrangler';

const baseURL = inject('baseURL');
const persistTo = inject('persistTo');

let context: BrowserContext;
let close: () => Promise<void>;
let page: Page;
let consoleErrors: string[];

beforeAll(async () => {
  ({ context, page, consoleErrors, close } = await openPage('zh-CN'));
});
afterAll(async () => close?.());

/**
 * A published rule of this test's own: a schedule rule that adds a fresh tag to nobody (spend
 * above any demo contact's), published through the API with the counts its preview confirmed.
 */
async function publishedRule(name: string): Promise<number> {
  const [group] = d1Query<{ id: number }>(persistTo, `select id from tag_groups where exclusive = 0 order by id limit 1`);
  const { id: tagId } = await apiCall<{ id: number }>(context, 'POST', '/taxonomy/tags', {
    groupId: group!.id,
    name: `生命周期测试_${Date.now().toString(36)}`,
    allowDuplicate: true,
  });
  const graph = {
    schemaVersion: 1,
    nodes: [
      { id: 't', kind: 'trigger', position: { x: 0, y: 0 }, trigger: { type: 'schedule', cron: '0 3 * * *' } },
      { id: 'c', kind: 'condition', position: { x: 320, y: 0 }, condition: { field: 'totalSpend', op: 'gte', value: 10_000_000_000 } },
      { id: 'a', kind: 'action', position: { x: 640, y: 0 }, action: { type: 'add_tag', tagId } },
    ],
    edges: [
      { id: 'e1', source: 't', target: 'c' },
      { id: 'e2', source: 'c', target: 'a', sourceHandle: 'yes' },
    ],
  };
  const created = await apiCall<{ id: number }>(context, 'POST', '/rules', { name, graph });
  await publishViaApi(context, created.id, graph);
  return created.id;
}

const statusOf = (id: number) => d1Query<{ status: string }>(persistTo, `select status from rules where id = ${id}`)[0]!.status;

/** The list filtered down to one rule by its (unique) name. */
async function findInList(name: string) {
  await gotoPage(page, `${baseURL}/rules`);
  await page.getByTestId('rules-search').fill(name);
  const row = page.locator('.rule-row', { hasText: name });
  await expect.poll(() => page.locator('.rule-row').count()).toBe(1);
  return row;
}

async function act(row: ReturnType<Page['locator']>, action: 'pause' | 'resume' | 'archive') {
  await row.getByTestId('rule-more').click();
  await page.locator(`.el-dropdown-menu:visible [data-testid=rule-action-${action}]`).click();
}

describe('Rules list: pause and archive', () => {
  it('pauses a published rule, resumes it, and archives it, each from the row menu', async () => {
    const name = `暂停归档 ${Date.now()}`;
    const id = await publishedRule(name);
    expect(statusOf(id)).toBe('published');
    let row = await findInList(name);
    expect(await row.innerText()).toContain('已发布');

    await act(row, 'pause');
    await expect.poll(() => row.innerText()).toContain('已暂停');
    expect(statusOf(id)).toBe('paused');
    // a paused rule offers resume, not pause
    await row.getByTestId('rule-more').click();
    expect(await page.locator('.el-dropdown-menu:visible [data-testid=rule-action-pause]').count()).toBe(0);
    await page.locator('.el-dropdown-menu:visible [data-testid=rule-action-resume]').click();
    await expect.poll(() => row.innerText()).toContain('已发布');
    expect(statusOf(id)).toBe('published');

    await act(row, 'archive');
    // archiving asks first
    await page.locator('.el-message-box .el-button--primary').click();
    await expect.poll(() => statusOf(id)).toBe('archived');
    // archived rules leave the default list and show under their own filter
    await expect.poll(() => page.locator('.rule-row', { hasText: name }).count()).toBe(0);
    await page.locator('.el-segmented__item', { hasText: '已归档' }).click();
    row = page.locator('.rule-row', { hasText: name });
    await expect.poll(() => row.count()).toBe(1);
    await row.getByTestId('rule-more').click();
    expect(await page.locator('.el-dropdown-menu:visible [data-testid=rule-action-archive]').count()).toBe(0);
    expect(consoleErrors).toEqual([]);
  }, 120_000);

  it('archives a draft that was never published', async () => {
    const name = `草稿归档 ${Date.now()}`;
    const { id } = await apiCall<{ id: number }>(context, 'POST', '/rules', { name });
    const row = await findInList(name);
    expect(await row.innerText()).toContain('草稿');
    await row.getByTestId('rule-more').click();
    expect(await page.locator('.el-dropdown-menu:visible [data-testid=rule-action-pause]').count()).toBe(0);
    await page.locator('.el-dropdown-menu:visible [data-testid=rule-action-archive]').click();
    await page.locator('.el-message-box .el-button--primary').click();
    await expect.poll(() => statusOf(id)).toBe('archived');
  });
});
