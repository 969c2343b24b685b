/**
 * A schedule trigger as people read it: presets, a cron of one's own checked as it is typed, and
 * the next five runs in the zone the cron runs in (wrangler.toml's TIMEZONE, Asia/Shanghai).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { apiCall, gotoPage, openPage, pickOption } from './browser';
import { d1Query } from './wrangler';

const baseURL = inject('baseURL');
const persistTo = inject('persistTo');

let context: BrowserContext;
let close: () => Promise<void>;
let page: Page;

beforeAll(async () => {
  ({ context, page, close } = await openPage('zh-CN'));
});
afterAll(async () => close?.());

async function openScheduledRule(cron: string) {
  const [tag] = d1Query<{ id: number }>(persistTo, `select id from tags where status = 'active' order by id limit 1`);
  const graph = {
    schemaVersion: 1,
    nodes: [
      { id: 't', kind: 'trigger', position: { x: 0, y: 0 }, trigger: { type: 'schedule', cron } },
      { id: 'a', kind: 'action', position: { x: 320, y: 0 }, action: { type: 'add_tag', tagId: tag!.id } },
    ],
    edges: [{ id: 'e1', source: 't', target: 'a' }],
  };
  const { id } = await apiCall<{ id: number }>(context, 'POST', '/rules', { name: `定时 ${Date.now()}`, graph });
  await gotoPage(page, `${baseURL}/rules/${id}`);
  await page.getByTestId('node-trigger').click();
  await page.getByTestId('schedule-editor').waitFor();
  return id;
}

const runs = () => page.getByTestId('schedule-next').locator('li').allInnerTexts();

describe('Schedule trigger', () => {
  it('shows a preset’s next five runs in Shanghai time, and a weekday cron typed by hand', async () => {
    await openScheduledRule('0 3 * * *');
    expect(await page.getByTestId('schedule-preset').innerText()).toContain('每天 03:00');
    const daily = await runs();
    expect(daily).toHaveLength(5);
    expect(daily.every((r) => r.endsWith('03:00'))).toBe(true);
    // the first run is within a day: today or tomorrow in Shanghai
    expect(daily[0]).toMatch(/^(今天|明天) 03:00$/);

    await pickOption(page, page.getByTestId('schedule-preset'), '', '自定义计划');
    const input = page.getByTestId('schedule-cron');
    await input.fill('30 9 * * 1-5');
    await expect.poll(() => runs()).toHaveLength(5);
    const weekdays = await runs();
    expect(weekdays.every((r) => r.endsWith('09:30'))).toBe(true);
    expect(weekdays.some((r) => /周六|周日/.test(r))).toBe(false);
    expect(await page.locator('[data-testid=node-trigger] [data-testid=node-error]').count()).toBe(0);
  });

  it('names what is wrong with a cron the cron cannot run, on the field and on the trigger', async () => {
    await openScheduledRule('0 3 * * *');
    await pickOption(page, page.getByTestId('schedule-preset'), '', '自定义计划');
    await page.getByTestId('schedule-cron').fill('0 25 * * *');
    // a cron that parses but never comes says so instead of an empty list
    await page.getByTestId('schedule-cron').fill('0 0 31 2 *');
    await expect.poll(() => page.getByTestId('schedule-never').innerText()).toContain('永远不会到来');
    await page.getByTestId('schedule-cron').fill('0 25 * * *');
    await expect.poll(() => page.getByTestId('schedule-problem').innerText()).toContain('无法识别这个计划');
    expect(await page.getByTestId('schedule-next').count()).toBe(0);
    await expect.poll(() => page.locator('[data-testid=node-trigger] [data-testid=node-error]').count()).toBeGreaterThan(0);
    await page.getByTestId('schedule-editor').screenshot({ path: 'e2e/screenshots/schedule-invalid-zh.png' });
  });
});
