/**
 * 新建规则 → the template gallery → RFM: the draft opens in the editor with its tags in place,
 * the side note and a counted preview; the gallery in English too.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { gotoPage, openPage } from './browser';
import { d1Query } from './wrangler';

const baseURL = inject('baseURL');
const persistTo = inject('persistTo');
const sessions: (() => Promise<void>)[] = [];

beforeAll(() => mkdirSync('e2e/screenshots', { recursive: true }));
afterAll(async () => {
  for (const close of sessions) await close();
});

describe('the template gallery', () => {
  it('makes an RFM draft in one click and opens it with the preview counted and the side note', async () => {
    const { page, consoleErrors, close } = await openPage('zh-CN');
    sessions.push(close);
    await gotoPage(page, `${baseURL}/rules`);
    await page.getByTestId('create-rule').click();
    await page.getByTestId('template-gallery').waitFor();
    await page.getByTestId('template-card-rfm').click();
    const note = page.getByTestId('template-note-text');
    await expect.poll(() => note.innerText()).toContain('高价值客户');
    // the demo's 价值分层 group already holds the three tiers: nothing to create
    for (const key of ['high', 'potential', 'normal']) expect(await page.getByTestId(`template-tag-${key}`).innerText()).toContain('已有');
    await page.mouse.move(5, 895);
    await page.screenshot({ path: 'e2e/screenshots/templates-gallery-zh.png' });
    const before = d1Query<{ n: number }>(persistTo, 'select count(*) as n from tags')[0]!.n;

    await page.getByTestId('template-use').click();
    await page.waitForURL(/\/rules\/\d+\?template=rfm$/);
    const ruleId = Number(/\/rules\/(\d+)/.exec(page.url())![1]);
    // the canvas shows the template's graph: a trigger, four conditions, three actions
    await page.getByTestId('node-trigger').waitFor();
    await expect.poll(() => page.getByTestId('node-condition').count()).toBe(4);
    expect(await page.getByTestId('node-action').count()).toBe(3);
    // the preview counted without anyone pressing anything
    const bar = page.getByTestId('bar-matched');
    await expect.poll(() => bar.innerText(), { timeout: 20_000 }).toMatch(/\d/);
    expect(await page.getByTestId('editor-template-note').innerText()).toContain('RFM');
    await page.screenshot({ path: 'e2e/screenshots/templates-editor-zh.png' });

    // stored as a draft with the demo's own tags, none created
    const [rule] = d1Query<{ status: string; draft_graph: string }>(
      persistTo,
      `select status, draft_graph from rules where id = ${ruleId}`,
    );
    expect(rule!.status).toBe('draft');
    const tierIds = d1Query<{ id: number }>(
      persistTo,
      "select t.id from tags t join tag_groups g on g.id = t.group_id where g.name = '价值分层' order by t.id",
    ).map((r) => r.id);
    const used = (JSON.parse(rule!.draft_graph).nodes as { kind: string; action?: { tagId: number } }[])
      .filter((n) => n.kind === 'action')
      .map((n) => n.action!.tagId)
      .sort((a, b) => a - b);
    expect(used).toEqual(tierIds);
    expect(d1Query<{ n: number }>(persistTo, 'select count(*) as n from tags')[0]!.n).toBe(before);
    expect(consoleErrors).toEqual([]);
  });

  it('speaks English, blank canvas first', async () => {
    const { page, close } = await openPage('en');
    sessions.push(close);
    await gotoPage(page, `${baseURL}/rules`);
    await page.getByTestId('create-rule').click();
    await page.getByTestId('template-gallery').waitFor();
    await expect.poll(() => page.getByTestId('template-use').innerText()).toBe('Create a blank rule');
    await page.getByTestId('template-card-member_score').click();
    await expect.poll(() => page.getByTestId('template-note-text').innerText()).toContain('penalty');
    expect(await page.getByTestId('template-use').innerText()).toBe('Use this template');
    await page.mouse.move(5, 895);
    await page.screenshot({ path: 'e2e/screenshots/templates-gallery-en.png' });
  });
});
