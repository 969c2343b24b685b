import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { apiCall, openPage, gotoPage, pickOption as pickIn } from './browser';
import { d1Query } from './wrangler';
import { dayNumber } from '@shared/time';

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
  await page.mouse.move(5, 895); // no hover tooltip in the picture
  await page.waitForTimeout(250);
  await page.screenshot({ path: `e2e/screenshots/rules-${name}.png` });
}

/** Creates a rule from the list page, as a marketer would, and lands in its editor. */
async function newRule(name: string) {
  await gotoPage(page, `${baseURL}/rules`);
  await page.getByTestId('create-rule').click();
  // 新建规则 opens the template gallery: its blank canvas (selected first) asks for a name
  await page.getByTestId('template-gallery').waitFor();
  await page.getByTestId('template-use').click();
  const input = page.locator('.el-message-box input');
  await input.fill(name);
  await page.locator('.el-message-box .el-button--primary').click();
  await page.waitForURL(/\/rules\/\d+$/);
  await page.getByTestId('node-trigger').waitFor();
}

/** Drags a palette item onto the canvas at a point inside it. */
async function drop(kind: string, x: number, y: number) {
  await page.getByTestId(`palette-${kind}`).dragTo(page.getByTestId('canvas'), { targetPosition: { x, y } });
  await page.getByTestId(`node-${kind}`).last().waitFor();
}

/** Drags a connection from one handle to another with the mouse. */
async function connect(from: Locator, to: Locator) {
  const a = (await from.boundingBox())!;
  const b = (await to.boundingBox())!;
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 12 });
  await page.mouse.up();
}
const sourceOf = (kind: string) => page.locator(`[data-testid=node-${kind}] .vue-flow__handle.source`).first();
const targetOf = (kind: string) => page.locator(`[data-testid=node-${kind}] .vue-flow__handle.target`).first();

const pickOption = (trigger: Locator, typed: string, option: string) => pickIn(page, trigger, typed, option);

const countOf = (kind: string) => page.locator(`[data-testid=node-${kind}] [data-testid=node-count]`).innerText();

describe('Rule builder, as a marketer', () => {
  it('draws trigger → "spend in the last 30 days ≥ ¥1,000" → add 高价值客户, sees the exact count, publishes, and the contacts carry the tag', async () => {
    const [tag] = d1Query<{ id: number; holders: number }>(
      persistTo,
      `select t.id, (select count(*) from contact_tags ct where ct.tag_id = t.id) as holders from tags t where t.name = '高价值客户'`,
    );
    expect(tag).toBeDefined();
    // the demo's published RFM rule (a template) already gave some contacts the tag
    const before = tag!.holders;
    // independently of the rule language: purchase amounts over the last 30 Shanghai days, today included
    const today = dayNumber(Date.now(), 480);
    const spenders = `select contact_id from contact_daily_stats where type = 'purchase' and day between ${today - 29} and ${today}
       group by contact_id having sum(amount) >= 100000`;
    const expected = d1Query<{ n: number }>(persistTo, `select count(*) as n from (${spenders})`)[0]!.n;
    expect(expected).toBeGreaterThan(0);
    // who gains it: the spenders who do not hold it yet
    const gain = d1Query<{ n: number }>(
      persistTo,
      `select count(*) as n from (${spenders}) s where not exists (select 1 from contact_tags ct where ct.contact_id = s.contact_id and ct.tag_id = ${tag!.id})`,
    )[0]!.n;
    expect(gain).toBeGreaterThan(0);

    await newRule('高价值客户识别');
    await drop('condition', 140, 520);
    await drop('action', 480, 680);
    await connect(sourceOf('trigger'), targetOf('condition'));
    await connect(page.locator('[data-testid=node-condition] [data-testid=handle-yes]'), targetOf('action'));
    await expect.poll(() => page.locator('.vue-flow__edge').count()).toBe(2);

    // a connection that makes no sense is refused with the reason
    await connect(sourceOf('trigger'), targetOf('condition'));
    await expect.poll(() => page.locator('.el-message').innerText()).toContain('已经连过');
    expect(await page.locator('.vue-flow__edge').count()).toBe(2);

    await page.getByTestId('node-condition').click();
    await pickOption(page.getByTestId('field-picker'), '金额合计', '事件金额合计');
    await expect.poll(() => page.getByTestId('event-type-picker').innerText()).toContain('购买');
    await expect.poll(() => page.getByTestId('window-picker').innerText()).toContain('30');
    await pickOption(page.getByTestId('op-picker'), '', '≥');
    await page.getByTestId('value-input').locator('input').fill('1000');
    await page.getByTestId('node-action').click();
    await pickOption(page.getByTestId('tag-picker'), '高价值', '高价值客户');
    await page.getByTestId('auto-layout').click();

    await expect
      .poll(() => page.locator('[data-testid=node-condition] [data-testid=node-summary]').innerText())
      .toBe('近 30 天购买金额 ≥ ¥1,000');
    await expect.poll(() => countOf('action'), { timeout: 10_000 }).toBe(expected.toLocaleString('zh-CN'));
    // every contact reaches the trigger: as many as D1 holds now (another test file's webhook may have added one)
    const contacts = d1Query<{ n: number }>(persistTo, 'select count(*) as n from contacts')[0]!.n;
    expect(await countOf('trigger')).toBe(contacts.toLocaleString('zh-CN'));
    expect(await page.getByTestId('node-error').count()).toBe(0);
    await shot('canvas-zh');
    await page.getByTestId('tab-preview').click();
    await expect.poll(() => page.getByTestId('preview-matched').innerText()).toBe(expected.toLocaleString('zh-CN'));
    expect(await page.getByTestId('preview-panel').getByTestId('tag-change-gain').first().innerText()).toBe(
      `+${gain.toLocaleString('zh-CN')}`,
    );
    expect(await page.getByTestId('sample-contact').count()).toBe(Math.min(20, expected));
    await page.getByTestId('sample-contact').first().click();
    await expect.poll(() => page.getByTestId('explain').innerText()).toMatch(/≥/);
    await page.keyboard.press('Escape');
    await shot('preview-zh');

    // the same screens in English
    await page.getByTestId('language-switch').getByText('EN').click();
    await expect.poll(() => page.getByTestId('tab-preview').innerText()).toBe('Preview');
    await shot('preview-en');
    await page.getByTestId('tab-inspector').click();
    await page.getByTestId('node-condition').click();
    await shot('canvas-en');
    await page.getByTestId('publish').click();
    await expect
      .poll(() => page.getByTestId('publish-changes').getByTestId('tag-change-gain').first().innerText())
      .toBe(`+${gain.toLocaleString('en')}`);
    await shot('publish-en');
    await page.getByTestId('publish-cancel').click();
    await page.getByTestId('language-switch').getByText('中文').click();

    await page.getByTestId('publish').click();
    await expect.poll(() => page.getByTestId('share-value').innerText()).toBe('100%');
    await expect
      .poll(() => page.getByTestId('publish-changes').getByTestId('tag-change-gain').first().innerText())
      .toBe(`+${gain.toLocaleString('zh-CN')}`);
    await shot('publish-zh');
    await page.getByTestId('publish-confirm').click();
    await expect.poll(() => page.getByTestId('rule-status').innerText()).toBe('已发布');

    const holders = d1Query<{ n: number }>(persistTo, `select count(*) as n from contact_tags where tag_id = ${tag!.id}`)[0]!.n;
    expect(holders).toBe(before + gain);
    await gotoPage(page, `${baseURL}/contacts?tagId=${tag!.id}`);
    await expect.poll(async () => Number((await page.getByTestId('contacts-total').innerText()).replace(/[^\d]/g, ''))).toBe(holders);
    const rows = page.locator('.contacts-table tbody tr');
    expect(await rows.count()).toBe(Math.min(20, holders));
    for (let i = 0; i < (await rows.count()); i++) expect(await rows.nth(i).locator(`[data-tag-id="${tag!.id}"]`).count()).toBe(1);

    await gotoPage(page, `${baseURL}/rules`);
    await expect.poll(() => page.getByTestId('rule-row-name').first().innerText()).toBe('高价值客户识别');
    expect(await page.getByTestId('rules-table').innerText()).toContain(expected.toLocaleString('zh-CN'));
    await shot('list-zh');
  }, 300_000);

  it('shows an invalid graph’s error on the node it belongs to and refuses to publish until it is fixed', async () => {
    await newRule('缺少数值的规则');
    await drop('condition', 140, 520);
    await drop('action', 480, 680);
    await connect(sourceOf('trigger'), targetOf('condition'));
    await connect(page.locator('[data-testid=node-condition] [data-testid=handle-yes]'), targetOf('action'));
    await page.getByTestId('node-action').click();
    await pickOption(page.getByTestId('tag-picker'), '高价值', '高价值客户');
    await page.getByTestId('node-condition').click();
    await pickOption(page.getByTestId('field-picker'), '累计消费', '累计消费');
    await pickOption(page.getByTestId('op-picker'), '', '≥');

    // the value is missing: the error sits on the condition, nowhere else
    await expect.poll(() => page.locator('[data-testid=node-condition] [data-testid=node-error]').innerText()).toContain('请填写比较的值');
    expect(await page.locator('[data-testid=node-trigger] [data-testid=node-error]').count()).toBe(0);
    expect(await page.locator('[data-testid=node-action] [data-testid=node-error]').count()).toBe(0);
    expect(await page.getByTestId('publish').isDisabled()).toBe(true);
    await shot('invalid-zh');

    // keyboard: copy/paste, delete, undo
    await page.getByTestId('node-action').click({ position: { x: 60, y: 14 } });
    await page.keyboard.press('Control+c');
    await page.keyboard.press('Control+v');
    await expect.poll(() => page.getByTestId('node-action').count()).toBe(2);
    await page.keyboard.press('Delete');
    await expect.poll(() => page.getByTestId('node-action').count()).toBe(1);
    await page.keyboard.press('Control+z');
    await expect.poll(() => page.getByTestId('node-action').count()).toBe(2);
    await page.getByTestId('undo').click();
    await expect.poll(() => page.getByTestId('node-action').count()).toBe(1);

    await page.getByTestId('node-condition').click();
    await page.getByTestId('value-input').locator('input').fill('500');
    await expect.poll(() => page.getByTestId('node-error').count()).toBe(0);
    await expect.poll(() => page.getByTestId('publish').isDisabled()).toBe(false);
    expect(consoleErrors).toEqual([]);
  }, 240_000);

  it('keeps a 300-node rule responsive while a node is dragged', async () => {
    const [tag] = d1Query<{ id: number }>(persistTo, `select id from tags where status = 'active' order by id limit 1`);
    const nodes: unknown[] = [{ id: 't', kind: 'trigger', position: { x: 0, y: 0 }, trigger: { type: 'schedule', cron: '0 3 * * *' } }];
    const edges: unknown[] = [];
    // ten chains of 28 conditions (yes → next) ending in an action, and 9 "or" nodes joining "no" outputs
    for (let r = 0; r < 10; r++) {
      for (let c = 0; c < 28; c++) {
        nodes.push({
          id: `c${r}_${c}`,
          kind: 'condition',
          position: { x: 300 * (c + 1), y: 200 * r },
          condition: { field: 'totalSpend', op: 'gte', value: (r * 28 + c) * 100 },
        });
        edges.push({ id: `e${r}_${c}`, source: c ? `c${r}_${c - 1}` : 't', target: `c${r}_${c}`, ...(c ? { sourceHandle: 'yes' } : {}) });
      }
      nodes.push({ id: `a${r}`, kind: 'action', position: { x: 300 * 29, y: 200 * r }, action: { type: 'add_tag', tagId: tag!.id } });
      edges.push({ id: `ea${r}`, source: `c${r}_27`, target: `a${r}`, sourceHandle: 'yes' });
      if (r < 9) {
        nodes.push({ id: `o${r}`, kind: 'logic', position: { x: 300 * 29, y: 200 * r + 100 }, op: 'or' });
        edges.push({ id: `eo${r}`, source: `c${r}_27`, target: `o${r}`, sourceHandle: 'no' });
      }
    }
    expect(nodes).toHaveLength(300);
    const created = await apiCall<{ id: number }>(context, 'POST', '/rules', {
      name: '300 节点',
      graph: { schemaVersion: 1, nodes, edges },
    });
    await gotoPage(page, `${baseURL}/rules/${created.id}`);
    await page.getByTestId('node-trigger').waitFor({ timeout: 120_000 });
    // fitted, all 300 nodes are on screen and rendered: the worst case for a drag
    const node = page.locator('[data-node-id=c0_0]');
    await node.waitFor();
    const box = (await node.boundingBox())!;
    // the page's own frame clock and long-task log (a string: the e2e project has no DOM types)
    await page.evaluate(`(() => {
      window.__frames = [];
      window.__long = [];
      new PerformanceObserver((l) => l.getEntries().forEach((e) => window.__long.push(e.duration))).observe({ type: 'longtask' });
      const tick = (t) => { window.__frames.push(t); requestAnimationFrame(tick); };
      requestAnimationFrame(tick);
    })()`);
    const started = Date.now();
    const [x0, y0] = [box.x + box.width / 2, box.y + box.height / 2];
    await page.mouse.move(x0, y0);
    await page.mouse.down();
    for (let i = 1; i <= 60; i++) await page.mouse.move(x0 + i * 4, y0 + i * 2);
    await page.mouse.up();
    const took = Date.now() - started;
    const stats = (await page.evaluate(`(() => {
      const f = window.__frames;
      const gaps = f.slice(1).map((t, i) => t - f[i]);
      const sorted = [...gaps].sort((a, b) => a - b);
      return { frames: f.length, medianFrame: sorted[Math.floor(sorted.length / 2)], p95Frame: sorted[Math.floor(sorted.length * 0.95)], worstFrame: sorted[sorted.length - 1], longTasks: window.__long.length, worstLongTask: Math.max(0, ...window.__long) };
    })()`)) as { frames: number; medianFrame: number; p95Frame: number; worstFrame: number; longTasks: number; worstLongTask: number };
    console.log(
      `300-node drag: 60 moves in ${took} ms, ${stats.frames} frames, median frame ${stats.medianFrame.toFixed(1)} ms, p95 ${stats.p95Frame.toFixed(0)} ms, worst ${stats.worstFrame.toFixed(0)} ms, ${stats.longTasks} long tasks (worst ${stats.worstLongTask.toFixed(0)} ms)`,
    );
    const after = (await node.boundingBox())!;
    expect(after.x - box.x).toBeGreaterThan(100);
    // Bounds for a shared, loaded 2-core machine (measured there: median 16.7–33 ms, p95 ≈ 170–200 ms,
    // 60 moves in ≈ 13 s with all 300 nodes on screen). Most frames must stay at display rate;
    // re-rendering the whole graph per mouse move (seconds per move) fails both.
    expect(stats.medianFrame).toBeLessThan(60);
    expect(took).toBeLessThan(45_000);
    await shot('300-nodes');
  }, 240_000);
});
