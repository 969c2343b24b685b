import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { apiCall, openPage, gotoPage } from './browser';
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

/** A rule of its own: trigger → an action with no tag yet, opened in the editor with the action inspected. */
async function ruleWithEmptyAction(name: string) {
  const { id } = await apiCall<{ id: number }>(context, 'POST', '/rules', {
    name,
    graph: {
      schemaVersion: 1,
      nodes: [
        { id: 't', kind: 'trigger', position: { x: 0, y: 0 }, trigger: { type: 'schedule', cron: '0 3 * * *' } },
        { id: 'a', kind: 'action', position: { x: 320, y: 0 }, action: { type: 'add_tag', tagId: 0 } },
      ],
      edges: [{ id: 'e', source: 't', target: 'a' }],
    },
  });
  await gotoPage(page, `${baseURL}/rules/${id}`);
  await page.getByTestId('node-action').click();
}

async function typeInPicker(text: string) {
  await page.getByTestId('tag-picker').click();
  await page.keyboard.type(text);
}

describe('Canvas tag picker: create a tag where it is needed', () => {
  it('warns of a near-duplicate before creating, and can take the existing tag instead', async () => {
    await ruleWithEmptyAction(`选标签-近似 ${Date.now()}`);
    await typeInPicker('高价值用户');
    // no tag has this name: the picker offers to create it
    await page.getByTestId('tag-picker-create').click();
    const warning = page.getByTestId('duplicate-warning');
    await warning.waitFor();
    expect(await warning.innerText()).toContain('高价值客户');
    expect(await page.getByTestId('tag-editor-save').isDisabled()).toBe(true);
    await warning.getByRole('button', { name: '用这个' }).first().click();
    await expect.poll(() => page.getByTestId('node-action').innerText()).toContain('高价值客户');
    expect(d1Query<{ n: number }>(persistTo, `select count(*) as n from tags where name = '高价值用户'`)[0]!.n).toBe(0);
  });

  it('creates a new tag in the chosen group and puts it on the action', async () => {
    await ruleWithEmptyAction(`选标签-新建 ${Date.now()}`);
    const name = `露营装备_${Date.now().toString(36).slice(-4)}`;
    await typeInPicker(name);
    await page.getByTestId('tag-picker-create').click();
    await page.getByTestId('tag-editor').waitFor();
    expect(await page.getByTestId('tag-editor-name').inputValue()).toBe(name);
    await page.getByTestId('tag-editor-group').click();
    await page.locator('.el-select-dropdown__item:visible', { hasText: '兴趣偏好' }).click();
    // the name check runs while the dialog is open; a near-duplicate would need an explicit tick
    await expect.poll(() => page.getByTestId('tag-editor').innerText()).not.toContain('正在检查重名');
    if (await page.getByTestId('allow-duplicate').count()) await page.getByTestId('allow-duplicate').click();
    await page.getByTestId('tag-editor-save').click();
    await expect.poll(() => page.getByTestId('node-action').innerText()).toContain(name);

    const rows = d1Query<{ group_name: string; status: string }>(
      persistTo,
      `select g.name as group_name, t.status from tags t join tag_groups g on g.id = t.group_id where t.name = '${name}'`,
    );
    expect(rows).toEqual([{ group_name: '兴趣偏好', status: 'active' }]);
    // the picker now lists it like any other tag
    await page.getByTestId('tag-picker').click();
    await page.keyboard.type(name);
    expect(await page.locator('.el-select-dropdown__item:visible', { hasText: name }).count()).toBe(1);
    expect(await page.getByTestId('tag-picker-create').count()).toBe(0);
    expect(consoleErrors).toEqual([]);
  });
});
