/**
 * A schedule trigger as people read it: presets, a cron of one's own checked as it is typed, and
 * the next five runs in the zone the cron runs in (wrangler.toml's TIMEZONE, Asia/Shanghai).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { apiCall, gotoPage, openPage, pickOption, publishViaApi } from './browser';
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
    await expect.poll(() => page.getByTestId('schedule-problem').innerText()).toBe('无法识别这个计划：小时不能是 25（可用 0–23）');
    expect(await page.getByTestId('schedule-next').count()).toBe(0);
    await expect.poll(() => page.locator('[data-testid=node-trigger] [data-testid=node-error]').count()).toBeGreaterThan(0);
    await page.getByTestId('schedule-editor').screenshot({ path: 'e2e/screenshots/schedule-invalid-zh.png' });
  });

  it('says on the rules list when the cron runs a published schedule rule next, in Shanghai time', async () => {
    const [tag] = d1Query<{ id: number }>(persistTo, `select id from tags where status = 'active' order by id limit 1`);
    const graph = {
      schemaVersion: 1,
      nodes: [
        { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } },
        // nobody lives there: publishing changes no contact the other tests count
        { id: 'c', kind: 'condition', condition: { field: 'region', op: 'eq', value: '无此地区' } },
        { id: 'a', kind: 'action', action: { type: 'add_tag', tagId: tag!.id } },
      ],
      edges: [
        { id: 'e1', source: 't', target: 'c' },
        { id: 'e2', source: 'c', target: 'a', sourceHandle: 'yes' },
      ],
    };
    const name = `每天三点 ${Date.now()}`;
    const { id } = await apiCall<{ id: number }>(context, 'POST', '/rules', { name, graph });
    await publishViaApi(context, id, graph);
    await gotoPage(page, `${baseURL}/rules`);
    await page.getByTestId('rules-search').fill(name);
    // 03:00 in Shanghai (UTC+8) is today until it has passed, then tomorrow
    const shanghaiHour = new Date(Date.now() + 8 * 3_600_000).getUTCHours();
    // the demo's published rules run on schedules too: read this rule's row
    await expect
      .poll(() => page.locator('.rule-row', { hasText: name }).getByTestId('rule-next-run').innerText())
      .toBe(`下次运行：${shanghaiHour < 3 ? '今天' : '明天'} 03:00`);
    await page.screenshot({ path: 'e2e/screenshots/rules-next-run-zh.png' });
  });
});
