import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import { openPage, gotoPage, pickOption as pickIn } from './browser';
import { d1Query } from './wrangler';

const baseURL = inject('baseURL');
const persistTo = inject('persistTo');
let close: () => Promise<void>;
let page: Page;
let consoleErrors: string[];

beforeAll(async () => {
  ({ page, consoleErrors, close } = await openPage('zh-CN'));
});
afterAll(async () => close?.());

async function connect(from: Locator, to: Locator) {
  const a = (await from.boundingBox())!;
  const b = (await to.boundingBox())!;
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 12 });
  await page.mouse.up();
}
const pickOption = (trigger: Locator, typed: string, option: string) => pickIn(page, trigger, typed, option);

describe('Segments, as a marketer', () => {
  it('builds "total spend ≥ ¥500", sees the size D1 counts independently, saves it and finds it in the list', async () => {
    // independently of the rule language: one column of contacts (fen)
    const expected = d1Query<{ n: number }>(persistTo, `select count(*) as n from contacts where total_spend >= 50000`)[0]!.n;
    expect(expected).toBeGreaterThan(0);
    const name = `消费满500 ${Date.now()}`;

    await gotoPage(page, `${baseURL}/segments`);
    await page.getByTestId('create-segment').click();
    await page.locator('.el-message-box input').fill(name);
    await page.locator('.el-message-box .el-button--primary').click();
    await page.waitForURL(/\/segments\/\d+\/edit$/);
    await page.getByTestId('node-trigger').waitFor();
    // a new segment is Start and End; the audience is whoever reaches End
    expect(await page.getByTestId('node-logic').count()).toBe(1);

    await page.getByTestId('palette-condition').dragTo(page.getByTestId('canvas'), { targetPosition: { x: 300, y: 520 } });
    await page.getByTestId('node-condition').waitFor();
    await connect(
      page.locator('[data-testid=node-trigger] .vue-flow__handle.source').first(),
      page.locator('[data-testid=node-condition] .vue-flow__handle.target').first(),
    );
    await connect(
      page.locator('[data-testid=node-condition] [data-testid=handle-yes]'),
      page.locator('[data-testid=node-logic] .vue-flow__handle.target').first(),
    );
    await expect.poll(() => page.locator('.vue-flow__edge').count()).toBe(2);

    await page.getByTestId('node-condition').click();
    await pickOption(page.getByTestId('field-picker'), '累计消费', '累计消费');
    await pickOption(page.getByTestId('op-picker'), '', '≥');
    await page.getByTestId('value-input').locator('input').fill('500');
    await expect.poll(() => page.getByTestId('node-condition').innerText()).toContain('¥500');

    const shown = expected.toLocaleString('zh-CN');
    await expect.poll(() => page.getByTestId('segment-size-now').innerText(), { timeout: 20_000 }).toContain(shown);
    expect(await page.locator('[data-testid=node-logic] [data-testid=node-count]').innerText()).toBe(shown);
    expect(await page.getByTestId('node-error').count()).toBe(0);

    await page.getByTestId('save-segment').click();
    await expect.poll(() => page.getByTestId('save-segment').isDisabled()).toBe(true);
    const [saved] = d1Query<{ id: number; graph: string }>(persistTo, `select id, graph from segments where name = '${name}'`);
    expect(JSON.parse(saved!.graph).nodes).toHaveLength(3);

    await gotoPage(page, `${baseURL}/segments`);
    const row = page.locator('.seg-row', { hasText: name });
    await row.waitFor();
    expect(await row.getByTestId('segment-size').innerText()).toBe(shown);
    expect(consoleErrors).toEqual([]);
  }, 120_000);
});
