/**
 * 从结果学习规则 (issue 19) as a marketer uses it: on the rules list, pick "30 天内购买", learn (the
 * worker trains on its queue while the dialog shows progress), read the result against the best
 * single condition and the leaves, make the draft with a tag, and see the tree's nodes on the canvas.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { gotoPage, openPage, pickOption } from './browser';
import { d1Query } from './wrangler';

const baseURL = inject('baseURL');
const persistTo = inject('persistTo');
const sessions: (() => Promise<void>)[] = [];

beforeAll(() => mkdirSync('e2e/screenshots', { recursive: true }));
afterAll(async () => {
  for (const close of sessions) await close();
});

describe('learning a rule from an outcome', () => {
  it('learns "purchases within 30 days" and opens the draft on the canvas with the tree’s nodes', async () => {
    const { page, consoleErrors, close } = await openPage('zh-CN');
    sessions.push(close);
    await gotoPage(page, `${baseURL}/rules`);
    await page.getByTestId('learn-rule').click();
    await page.getByTestId('learn-dialog').waitFor();
    await pickOption(page, page.getByTestId('learn-outcome'), '', '30 天内购买');
    await page.getByTestId('learn-start').click();

    const result = page.getByTestId('learn-result');
    await result.waitFor({ timeout: 90_000 });
    // in words, against the best single condition, and each leaf with its numbers
    await expect.poll(() => page.getByTestId('learn-baseline').innerText()).toMatch(/比最佳单一条件「.+」多找到 \d+ 人/);
    const leaves = page.getByTestId('learn-leaves').locator('.el-table__body tr');
    expect(await leaves.count()).toBeGreaterThanOrEqual(2);
    expect(await page.getByTestId('learn-leaves').innerText()).toContain('打标');
    await page.mouse.move(5, 895);
    await page.screenshot({ path: 'e2e/screenshots/learn-result-zh.png' });

    await pickOption(page, page.getByTestId('learn-draft-tag'), 'VIP', 'VIP');
    await page.getByTestId('learn-create-draft').click();
    await page.waitForURL(/\/rules\/\d+$/);
    const ruleId = Number(/\/rules\/(\d+)/.exec(page.url())![1]);

    // the canvas shows the stored draft: its trigger, one node per split, an add-tag per tagged leaf
    const [rule] = d1Query<{ status: string; draft_graph: string }>(
      persistTo,
      `select status, draft_graph from rules where id = ${ruleId}`,
    );
    expect(rule!.status).toBe('draft');
    const nodes = JSON.parse(rule!.draft_graph).nodes as { kind: string; action?: { tagId: number } }[];
    const conditions = nodes.filter((n) => n.kind === 'condition').length;
    const actions = nodes.filter((n) => n.kind === 'action');
    expect(conditions).toBeGreaterThan(0);
    expect(actions.length).toBeGreaterThan(0);
    const vip = d1Query<{ id: number }>(persistTo, "select id from tags where name = 'VIP'")[0]!.id;
    for (const a of actions) expect(a.action!.tagId).toBe(vip);
    await page.getByTestId('node-trigger').waitFor();
    await expect.poll(() => page.getByTestId('node-condition').count()).toBe(conditions);
    expect(await page.getByTestId('node-action').count()).toBe(actions.length);
    // the usual preview counts it like any rule
    await expect.poll(() => page.getByTestId('bar-matched').innerText(), { timeout: 20_000 }).toMatch(/\d/);
    await page.screenshot({ path: 'e2e/screenshots/learn-draft-zh.png' });

    // the suggestion remembers its draft; nothing was published
    const [s] = d1Query<{ rule_ids: string }>(persistTo, `select rule_ids from rule_suggestions order by id desc limit 1`);
    expect(JSON.parse(s!.rule_ids)).toEqual([ruleId]);
    expect(d1Query<{ n: number }>(persistTo, `select count(*) as n from rule_versions where rule_id = ${ruleId}`)[0]!.n).toBe(0);
    expect(consoleErrors).toEqual([]);
  });
});
