import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { apiCall, gotoPage, openPage } from './browser';

/**
 * Room on the canvas (issue 18) at 1440×900: a 10-node rule opens at a readable zoom (≥ 80%) from
 * its trigger; quick add ("/", type a field, Enter) puts a condition on that field where it
 * overlaps no node; the palette and side panel fold away and stay folded after a reload; full
 * screen covers the app's navigation and Esc leaves it.
 */
const baseURL = inject('baseURL');
let context: BrowserContext;
let page: Page;
let consoleErrors: string[];
let close: () => Promise<void>;

/** A rule of ten nodes in a row: trigger → five conditions → four actions. */
async function tenNodeRule(): Promise<number> {
  const groups = await apiCall<{ tags: { id: number; status: string }[] }[]>(context, 'GET', '/tag-groups');
  const tags = groups.flatMap((g) => g.tags.filter((t) => t.status === 'active')).slice(0, 4);
  const nodes: unknown[] = [{ id: 't', kind: 'trigger', position: { x: 0, y: 150 }, trigger: { type: 'schedule', cron: '0 3 * * *' } }];
  const edges: unknown[] = [];
  const conditions = [
    ['region', 'eq', '广东'],
    ['totalSpend', 'gte', 100000],
    ['messageCount', 'gte', 10],
    ['gender', 'eq', 'female'],
    ['city', 'eq', '深圳'],
  ] as const;
  let prev = 't';
  conditions.forEach(([field, op, value], i) => {
    nodes.push({ id: `c${i}`, kind: 'condition', position: { x: 300 * (i + 1), y: 150 }, condition: { field, op, value } });
    edges.push({ id: `e${i}`, source: prev, target: `c${i}`, ...(prev === 't' ? {} : { sourceHandle: 'yes' }) });
    prev = `c${i}`;
  });
  tags.forEach((tag, i) => {
    nodes.push({ id: `a${i}`, kind: 'action', position: { x: 1800, y: i * 260 }, action: { type: 'add_tag', tagId: tag.id } });
    edges.push({ id: `ea${i}`, source: prev, target: `a${i}`, sourceHandle: 'yes' });
  });
  const rule = await apiCall<{ id: number }>(context, 'POST', '/rules', {
    name: `十节点 ${Date.now()}`,
    graph: { schemaVersion: 1, nodes, edges },
  });
  return rule.id;
}

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}
const boxes = () =>
  page.locator('.vue-flow__node').evaluateAll((els) =>
    els.map((e) => {
      const r = e.getBoundingClientRect();
      return { x: r.x, y: r.y, width: r.width, height: r.height };
    }),
  );
const overlap = (a: Box, b: Box) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

beforeAll(async () => {
  ({ context, page, consoleErrors, close } = await openPage('zh-CN'));
});
afterAll(async () => close?.());

describe('room on the canvas', () => {
  it('opens a 10-node rule at a readable zoom, from its trigger', async () => {
    const id = await tenNodeRule();
    await gotoPage(page, `${baseURL}/rules/${id}`);
    await page.getByTestId('node-trigger').waitFor();
    await expect.poll(async () => (await boxes()).length).toBe(10);
    const zoom = Number((await page.getByTestId('zoom-reset').textContent())!.replace('%', ''));
    expect(zoom).toBeGreaterThanOrEqual(80);
    const canvas = (await page.getByTestId('canvas').boundingBox())!;
    const trigger = (await page.getByTestId('node-trigger').boundingBox())!;
    expect(trigger.x).toBeGreaterThanOrEqual(canvas.x);
    expect(trigger.x + trigger.width).toBeLessThanOrEqual(canvas.x + canvas.width);
    await page.screenshot({ path: 'e2e/screenshots/canvas-10-nodes-zh-CN.png' });

    // quick add: "/" → 地区 → Enter: a condition on 地区, placed over no other node
    await page.getByTestId('canvas').click({ position: { x: 300, y: 700 } });
    await page.keyboard.press('/');
    await page.getByTestId('quick-add-input').fill('地区');
    await expect.poll(() => page.getByTestId('quick-add-field:region').count()).toBe(1);
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await boxes()).length).toBe(11);
    const all = await boxes();
    const added = all.at(-1)!;
    for (const [i, other] of all.slice(0, -1).entries()) expect(overlap(added, other), `the new node overlaps node ${i}`).toBe(false);
    await expect.poll(() => page.getByTestId('builder-side').textContent()).toContain('地区');

    // fold the palette and the side panel: remembered across a reload
    await page.getByTestId('toggle-palette').click();
    await page.getByTestId('toggle-side').click();
    await expect.poll(() => page.getByTestId('palette').count()).toBe(0);
    await page.reload();
    await page.getByTestId('node-trigger').waitFor();
    expect(await page.getByTestId('palette').count()).toBe(0);
    expect(await page.getByTestId('builder-side').count()).toBe(0);
    const wider = (await page.getByTestId('canvas').boundingBox())!;
    expect(wider.width).toBeGreaterThan(canvas.width + 500);

    // full screen covers the navigation; Esc leaves it
    await page.getByTestId('toggle-fullscreen').click();
    const full = (await page.getByTestId('builder-screen').boundingBox())!;
    expect(full).toMatchObject({ x: 0, y: 0, width: 1440, height: 900 });
    await page.keyboard.press('Escape');
    await expect.poll(async () => (await page.getByTestId('builder-screen').boundingBox())!.x).toBeGreaterThan(100);

    await page.getByTestId('toggle-palette').click();
    await page.getByTestId('toggle-side').click();
    expect(await page.getByTestId('palette').count()).toBe(1);
    expect(consoleErrors).toEqual([]);
  });
});
