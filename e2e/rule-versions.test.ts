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

/** A tag of this test's own, so publishing here changes no tag another browser test counts. */
async function ownTag(name: string): Promise<number> {
  const [group] = d1Query<{ id: number }>(persistTo, `select id from tag_groups where exclusive = 0 order by id limit 1`);
  return (await apiCall<{ id: number }>(context, 'POST', '/taxonomy/tags', { groupId: group!.id, name, allowDuplicate: true })).id;
}

/** Publishes the open rule at 100% through the dialog, once its preview is ready. */
async function publish(note: string) {
  await page.getByTestId('publish').click();
  await page.getByTestId('publish-note').fill(note);
  await expect.poll(() => page.getByTestId('publish-confirm').isDisabled(), { timeout: 20_000 }).toBe(false);
  await page.getByTestId('publish-confirm').click();
  await page.getByTestId('publish-dialog').waitFor({ state: 'hidden' });
}

describe('Rule versions drawer', () => {
  it('publishes two versions, compares them, and restores the first as a new draft', async () => {
    const tagId = await ownTag(`版本测试_${Date.now().toString(36)}`);
    const { id: ruleId } = await apiCall<{ id: number }>(context, 'POST', '/rules', {
      name: `版本对比 ${Date.now()}`,
      graph: {
        schemaVersion: 1,
        nodes: [
          { id: 't', kind: 'trigger', position: { x: 0, y: 0 }, trigger: { type: 'schedule', cron: '0 3 * * *' } },
          { id: 'c', kind: 'condition', position: { x: 320, y: 0 }, condition: { field: 'totalSpend', op: 'gte', value: 100_000 } },
          { id: 'a', kind: 'action', position: { x: 640, y: 0 }, action: { type: 'add_tag', tagId } },
        ],
        edges: [
          { id: 'e1', source: 't', target: 'c' },
          { id: 'e2', source: 'c', target: 'a', sourceHandle: 'yes' },
        ],
      },
    });
    await gotoPage(page, `${baseURL}/rules/${ruleId}`);
    await page.getByTestId('node-condition').waitFor();

    await publish('门槛 ¥1,000');
    // v2: a higher threshold
    await page.getByTestId('node-condition').click();
    await page.getByTestId('value-input').locator('input').fill('3000');
    await expect.poll(() => page.getByTestId('node-condition').innerText()).toContain('¥3,000');
    await publish('门槛 ¥3,000');
    const versions = () =>
      d1Query<{ version: number; graph: string }>(
        persistTo,
        `select version, graph from rule_versions where rule_id = ${ruleId} order by version`,
      );
    expect(versions().map((v) => v.version)).toEqual([1, 2]);

    await page.getByTestId('open-versions').click();
    const rows = page.getByTestId('version-row');
    await expect.poll(() => rows.count()).toBe(2);
    // newest first
    expect(await rows.nth(0).innerText()).toContain('v2');
    expect(await rows.nth(0).innerText()).toContain('门槛 ¥3,000');
    await rows.nth(0).getByTestId('version-pick').click();
    await rows.nth(1).getByTestId('version-pick').click();
    await page.getByTestId('versions-compare').click();
    const diff = page.getByTestId('versions-diff');
    await expect.poll(() => diff.innerText()).toContain('v1 → v2');
    // only the condition changed between the two versions
    expect(await page.getByTestId('diff-row').count()).toBe(1);
    expect(await page.getByTestId('diff-row').innerText()).toContain('修改');
    expect(await page.getByTestId('diff-row').innerText()).toContain('条件');

    await rows.nth(1).getByTestId('version-restore').click();
    await page.locator('.el-message-box .el-button--primary').click();
    await expect.poll(() => page.locator('.el-message--success').last().innerText()).toContain('已将 v1 恢复为草稿');
    await expect.poll(() => page.getByTestId('node-condition').innerText()).toContain('¥1,000');

    // the draft is v1's graph again; v2 is still what runs, and no version was added
    const [rule] = d1Query<{ draft_graph: string; published_version: number }>(
      persistTo,
      `select draft_graph, published_version from rules where id = ${ruleId}`,
    );
    const draftCondition = (JSON.parse(rule!.draft_graph) as { nodes: { id: string; condition?: { value: number } }[] }).nodes.find(
      (n) => n.id === 'c',
    );
    expect(draftCondition?.condition?.value).toBe(100_000);
    expect(rule!.published_version).toBe(2);
    expect(versions()).toHaveLength(2);
    expect(consoleErrors).toEqual([]);
  }, 180_000);
});
