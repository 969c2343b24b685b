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
  ({ context, page, close } = await openPage('zh-CN'));
});
afterAll(async () => close?.());

/** trigger → (keyword test | nothing) → add a tag; created through the API, opened in the editor. */
async function openRule(name: string, trigger: object, withKeyword: boolean) {
  const [tag] = d1Query<{ id: number }>(persistTo, `select id from tags where status = 'active' order by id limit 1`);
  const nodes: object[] = [{ id: 't', kind: 'trigger', position: { x: 0, y: 0 }, trigger }];
  const edges: object[] = [];
  if (withKeyword) {
    nodes.push({
      id: 'c',
      kind: 'condition',
      position: { x: 320, y: 0 },
      condition: { field: 'trigger.text', op: 'contains_any', value: ['价格'] },
    });
    edges.push({ id: 'e1', source: 't', target: 'c' }, { id: 'e2', source: 'c', target: 'a', sourceHandle: 'yes' });
  } else edges.push({ id: 'e1', source: 't', target: 'a' });
  nodes.push({ id: 'a', kind: 'action', position: { x: 640, y: 0 }, action: { type: 'add_tag', tagId: tag!.id } });
  const { id } = await apiCall<{ id: number }>(context, 'POST', '/rules', { name, graph: { schemaVersion: 1, nodes, edges } });
  await gotoPage(page, `${baseURL}/rules/${id}`);
  await page.getByTestId('tag-change').first().waitFor({ timeout: 20_000 });
}

describe('Preview panel: when tags change', () => {
  it('estimates a keyword rule from the last 30 days of messages, labelled as such, never as everyone', async () => {
    await openRule(`关键词预览 ${Date.now()}`, { type: 'event', eventType: 'message', filters: [] }, true);
    expect(await page.getByTestId('preview-changes-title').innerText()).toBe('按近 30 天的事件估算的标签变化');
    expect(await page.getByTestId('preview-matched-label').innerText()).toBe('估算命中（按近 30 天的事件）');
    const bar = await page.getByTestId('bar-matched').innerText();
    expect(bar).toMatch(/^估算命中 [\d,]+ 人（近 30 天事件）$/);
    const matched = Number((await page.getByTestId('preview-matched').innerText()).replace(/,/g, ''));
    // who really sent a message containing 价格 in the last 30 days, counted in D1 directly
    const now = Date.now();
    const [sent] = d1Query<{ n: number; all: number; total: number }>(
      persistTo,
      `select count(distinct case when instr(lower(text), '价格') > 0 then contact_id end) as n, count(distinct contact_id) as "all",
              (select count(*) from contacts) as total
         from events where type = 'message' and occurred_at > ${now - 30 * 86_400_000} and occurred_at <= ${now}`,
    );
    expect(matched).toBe(sent!.n);
    expect(matched).toBeGreaterThan(0);
    expect(matched / sent!.total).toBeLessThan(0.5);
    const sub = await page.locator('.stat-sub').first().innerText();
    expect(sub).toContain(`近 30 天有「发消息」事件的 ${sent!.all.toLocaleString('en-US')} 人中`);
    expect(await page.locator('.stat-took').first().innerText()).toMatch(/^按近 30 天的真实事件估算/);
    const note = await page.getByTestId('preview-on-event').innerText();
    expect(note).toContain('发布后按事件生效，现在不会改动任何标签');
    expect(note).toContain('近 30 天里真实发生的「发消息」事件');
    // the same words as the publish dialog
    await page.getByTestId('publish').click();
    expect(note).toContain(await page.getByTestId('publish-on-event').locator('.el-alert__title').innerText());
    expect(await page.locator('.pub-sum').innerText()).toMatch(/^估算：近 30 天有「发消息」事件的 [\d,]+ 人中，[\d,]+ 人至少有一次会命中/);
  });

  it('keeps "after publish" for a rule that applies at publish', async () => {
    await openRule(`定时预览 ${Date.now()}`, { type: 'schedule', cron: '0 3 * * *' }, false);
    expect(await page.getByTestId('preview-changes-title').innerText()).toBe('发布后标签变化');
    expect(await page.getByTestId('preview-matched-label').innerText()).toBe('当前命中');
    expect(await page.getByTestId('bar-matched').innerText()).toMatch(/^当前命中 [\d,]+ 人$/);
    expect(await page.getByTestId('preview-on-event').count()).toBe(0);
  });

  it('says why a rule too large for one D1 statement has no counts, instead of an empty panel', async () => {
    const [tag] = d1Query<{ id: number }>(persistTo, `select id from tags where status = 'active' order by id limit 1`);
    // 110 conditions in a chain: each needs its own per-contact column, over D1's 100
    const nodes: object[] = [{ id: 't', kind: 'trigger', position: { x: 0, y: 0 }, trigger: { type: 'schedule', cron: '0 3 * * *' } }];
    const edges: object[] = [];
    for (let i = 0; i < 110; i++) {
      nodes.push({
        id: `c${i}`,
        kind: 'condition',
        position: { x: 300 * (i + 1), y: 0 },
        condition: { field: 'totalSpend', op: 'gte', value: i * 100 },
      });
      edges.push({ id: `e${i}`, source: i ? `c${i - 1}` : 't', target: `c${i}`, ...(i ? { sourceHandle: 'yes' } : {}) });
    }
    nodes.push({ id: 'a', kind: 'action', position: { x: 300 * 111, y: 0 }, action: { type: 'add_tag', tagId: tag!.id } });
    edges.push({ id: 'ea', source: 'c109', target: 'a', sourceHandle: 'yes' });
    const graph = { schemaVersion: 1, nodes, edges };
    // the worker refuses to count it (the browser's compiler accepts it)
    const preview = await apiCall<{ ok: boolean; errors?: { code: string }[] }>(context, 'POST', '/rules/preview', {
      graph,
      sampleSize: 0,
    });
    expect(preview.ok).toBe(false);
    expect(preview.errors?.map((e) => e.code)).toContain('too_complex');

    const { id } = await apiCall<{ id: number }>(context, 'POST', '/rules', { name: `过大规则 ${Date.now()}`, graph });
    await gotoPage(page, `${baseURL}/rules/${id}`);
    const invalid = page.getByTestId('preview-invalid');
    await invalid.waitFor({ timeout: 30_000 });
    expect(await invalid.innerText()).toContain('规则过于复杂');
    expect(await page.getByTestId('publish').isDisabled()).toBe(true);
  }, 120_000);
});
