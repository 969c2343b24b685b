import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { apiCall, gotoPage, openPage, pickOption, revealNode } from './browser';
import { d1Query } from './wrangler';

const baseURL = inject('baseURL');
const persistTo = inject('persistTo');

let context: BrowserContext;
let close: () => Promise<void>;
let page: Page;
let consoleErrors: string[];

beforeAll(async () => {
  mkdirSync('e2e/screenshots', { recursive: true });
  ({ context, page, consoleErrors, close } = await openPage('zh-CN'));
});
afterAll(async () => close?.());

async function shot(name: string) {
  await page.mouse.move(5, 895);
  await page.waitForTimeout(250);
  await page.screenshot({ path: `e2e/screenshots/condition-pickers-${name}.png` });
}

/** trigger → three placeholder conditions (yes → yes) → add a tag: each condition is then set in the inspector. */
async function ruleWithThreeConditions(name: string): Promise<number> {
  const cond = (id: string, x: number) => ({
    id,
    kind: 'condition',
    position: { x, y: 0 },
    condition: { field: 'totalSpend', op: 'gte', value: 0 },
  });
  const { id } = await apiCall<{ id: number }>(context, 'POST', '/rules', {
    name,
    graph: {
      schemaVersion: 1,
      nodes: [
        { id: 't', kind: 'trigger', position: { x: 0, y: 0 }, trigger: { type: 'schedule', cron: '0 3 * * *' } },
        cond('c1', 300),
        cond('c2', 600),
        cond('c3', 900),
        { id: 'a', kind: 'action', position: { x: 1200, y: 0 }, action: { type: 'add_tag', tagId: 1 } },
      ],
      edges: [
        { id: 'e1', source: 't', target: 'c1' },
        { id: 'e2', source: 'c1', target: 'c2', sourceHandle: 'yes' },
        { id: 'e3', source: 'c2', target: 'c3', sourceHandle: 'yes' },
        { id: 'e4', source: 'c3', target: 'a', sourceHandle: 'yes' },
      ],
    },
  });
  return id;
}

const summaries = () => page.locator('[data-testid=node-condition] [data-testid=node-summary]').allInnerTexts();

describe('Condition pickers: names and suggested values, not ids', () => {
  it('sets 所属部门 from the tree, 负责人 by name and 地区 from a suggested value with its count; the canvas reads names and the preview counts them', async () => {
    // the demo's largest (department, owner, region) group, so the three conditions together match someone
    const [pick] = d1Query<{ dept: number; deptName: string; owner: number; ownerName: string; region: string; n: number }>(
      persistTo,
      `select c.department_id as dept, d.name as deptName, c.owner_user_id as owner, u.name as ownerName, c.region as region, count(*) as n
       from contacts c join departments d on d.id = c.department_id join users u on u.id = c.owner_user_id
       where c.region is not null and c.region <> '' and u.disabled = 0
       group by 1, 3, 5 order by n desc limit 1`,
    );
    expect(pick).toBeDefined();
    const regionCount = d1Query<{ n: number }>(persistTo, `select count(*) as n from contacts where region = '${pick!.region}'`)[0]!.n;

    const id = await ruleWithThreeConditions(`选择器 ${Date.now()}`);
    await gotoPage(page, `${baseURL}/rules/${id}`);
    const nodes = page.getByTestId('node-condition');

    // 1. 所属部门 等于 <department>, picked from the tree by name
    await revealNode(page, nodes.nth(0));
    await nodes.nth(0).click();
    await pickOption(page, page.getByTestId('field-picker'), '所属部门', '所属部门');
    await pickOption(page, page.getByTestId('op-picker'), '', '等于');
    await page.locator('.el-select[data-testid=department-picker]').click();
    await page.keyboard.type(pick!.deptName);
    await shot('department-zh');
    await page.locator('.el-tree-node__content:visible', { hasText: pick!.deptName }).first().click();
    await expect.poll(async () => (await summaries())[0]).toBe(`所属部门 等于 ${pick!.deptName}`);

    // 2. 负责人 等于 <name>, found by typing the name
    await revealNode(page, nodes.nth(1));
    await nodes.nth(1).click();
    await pickOption(page, page.getByTestId('field-picker'), '负责人', '负责人');
    await pickOption(page, page.getByTestId('op-picker'), '', '等于');
    await page.getByTestId('owner-picker').click();
    await page.keyboard.type(pick!.ownerName);
    await page.locator('[data-testid=owner-option]:visible', { hasText: pick!.ownerName }).first().click();
    await expect.poll(async () => (await summaries())[1]).toBe(`负责人 等于 ${pick!.ownerName}`);

    // 3. 地区 等于 <region>: the suggestion shows how many contacts hold it
    await revealNode(page, nodes.nth(2));
    await nodes.nth(2).click();
    await pickOption(page, page.getByTestId('field-picker'), '地区', '地区');
    await pickOption(page, page.getByTestId('op-picker'), '', '等于');
    await page.getByTestId('value-suggest').click();
    const option = page.locator('[data-testid=value-option]:visible', { hasText: pick!.region }).first();
    await option.waitFor();
    expect(await option.innerText()).toContain(`${regionCount.toLocaleString('zh-CN')} 人`);
    await shot('region-zh');
    await option.click();
    await expect.poll(async () => (await summaries())[2]).toBe(`地区 等于 ${pick!.region}`);

    // the canvas shows names, no ids
    expect((await summaries()).join(' ')).not.toMatch(/#\d|等于 \d/);
    await shot('canvas-zh');

    // the preview counts what D1 holds for the three conditions together
    await page.getByTestId('tab-preview').click();
    await expect.poll(() => page.getByTestId('preview-matched').innerText(), { timeout: 15_000 }).toBe(pick!.n.toLocaleString('zh-CN'));

    // the why-dialog of a sample contact says the names too
    await page.getByTestId('sample-contact').first().click();
    await expect.poll(() => page.getByTestId('explain').innerText()).toContain(`负责人 = ${pick!.ownerName}`);
    expect(await page.getByTestId('explain').innerText()).toContain(`所属部门 = ${pick!.deptName}`);
    await shot('why-zh');
    await page.keyboard.press('Escape');

    // tags show where they sit: 抗老 under 美妆 › 护肤, and the chosen one reads as its whole path
    await page.getByTestId('tab-inspector').click();
    await revealNode(page, nodes.nth(0));
    await nodes.nth(0).click();
    await pickOption(page, page.getByTestId('field-picker'), '标签', '标签');
    await pickOption(page, page.getByTestId('op-picker'), '', '拥有标签');
    await page.getByTestId('tag-picker').click();
    await page.keyboard.type('抗老');
    const tagOption = page.locator('.el-select-dropdown__item:visible', { hasText: '抗老' }).first();
    expect(await tagOption.innerText()).toMatch(/^美妆 › 护肤 › 抗老/);
    await tagOption.click();
    await expect.poll(() => page.getByTestId('tag-picker').innerText()).toContain('兴趣偏好 › 美妆 › 护肤 › 抗老');

    // any day window, typed: 45 days
    await pickOption(page, page.getByTestId('field-picker'), '事件次数', '事件次数');
    await page.getByTestId('window-picker').click();
    await page.keyboard.type('45');
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await summaries())[0]).toMatch(/^近 45 天/);
    expect(await page.getByTestId('window-picker').innerText()).toContain('近 45 天');
    expect(consoleErrors).toEqual([]);
  });

  it('reads the same in English, and offers date operators as whole phrases', async () => {
    const en = await openPage('en');
    try {
      const id = await ruleWithThreeConditions(`pickers-en ${Date.now()}`);
      await gotoPage(en.page, `${baseURL}/rules/${id}`);
      await en.page.getByTestId('node-condition').first().click();
      await pickOption(en.page, en.page.getByTestId('field-picker'), 'Last active', 'Last active');
      await en.page.getByTestId('op-picker').click();
      // (the field list may still be fading out: wait for the operator list)
      await expect
        .poll(() => en.page.locator('.el-select-dropdown__item:visible').allInnerTexts())
        .toEqual(['before a date', 'after a date', 'within the last N days', 'more than N days ago', 'is empty', 'is not empty']);
      await en.page.keyboard.press('Escape');
      await pickOption(en.page, en.page.getByTestId('field-picker'), 'City', 'City');
      await pickOption(en.page, en.page.getByTestId('op-picker'), '', 'is one of');
      await en.page.getByTestId('value-suggest').click();
      await en.page.locator('[data-testid=value-option]:visible').first().waitFor();
      expect(await en.page.locator('[data-testid=value-option]:visible').first().innerText()).toMatch(/\d contacts$/);
      await en.page.mouse.move(5, 895);
      await en.page.screenshot({ path: 'e2e/screenshots/condition-pickers-city-en.png' });
      // 所属部门 in English: the tree, then the node's text by name
      await en.page.keyboard.press('Escape');
      await pickOption(en.page, en.page.getByTestId('field-picker'), 'Department', 'Department');
      await pickOption(en.page, en.page.getByTestId('op-picker'), '', 'is one of');
      await en.page.locator('.el-select[data-testid=department-picker]').click();
      await en.page.locator('.el-tree-node__content:visible').first().waitFor();
      await en.page.screenshot({ path: 'e2e/screenshots/condition-pickers-department-en.png' });
      const first = (await en.page.locator('.el-tree-node__content:visible').first().innerText()).trim();
      await en.page.locator('.el-tree-node__content:visible').first().click();
      await expect
        .poll(() => en.page.locator('[data-testid=node-condition] [data-testid=node-summary]').first().innerText())
        .toBe(`Department is one of ${first}`);
      expect(en.consoleErrors).toEqual([]);
    } finally {
      await en.close();
    }
  });
});
