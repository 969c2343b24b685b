/**
 * Issue 18, "segment of segment" and 所属部门 "and below", as a marketer builds them: in the
 * inspector, a condition "在分群 X 中" picked by name (with its size) and a department picked from
 * the tree "含下级部门"; the canvas reads both in words and the preview counts what D1 holds for
 * X's audience intersected with the department subtree.
 */
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { apiCall, gotoPage, openPage, pickOption, revealNode } from './browser';
import { d1Query } from './wrangler';

const baseURL = inject('baseURL');
const persistTo = inject('persistTo');
/** Screenshots outside the repo, to look at (1440×900). */
const SHOTS = process.env.SEGREF_SHOTS ?? '';

let context: BrowserContext;
let close: () => Promise<void>;
let page: Page;
let consoleErrors: string[];

beforeAll(async () => {
  if (SHOTS) mkdirSync(SHOTS, { recursive: true });
  ({ context, page, consoleErrors, close } = await openPage('zh-CN'));
});
afterAll(async () => close?.());

async function shot(p: Page, name: string) {
  if (!SHOTS) return;
  await p.mouse.move(5, 895);
  await p.waitForTimeout(300);
  await p.screenshot({ path: `${SHOTS}/${name}.png` });
}

/** trigger → two placeholder conditions (yes → yes) → add a tag. */
async function ruleWithTwoConditions(ctx: BrowserContext, name: string): Promise<number> {
  const cond = (id: string, x: number) => ({
    id,
    kind: 'condition',
    position: { x, y: 0 },
    condition: { field: 'totalSpend', op: 'gte', value: 0 },
  });
  const { id } = await apiCall<{ id: number }>(ctx, 'POST', '/rules', {
    name,
    graph: {
      schemaVersion: 1,
      nodes: [
        { id: 't', kind: 'trigger', position: { x: 0, y: 0 }, trigger: { type: 'schedule', cron: '0 3 * * *' } },
        cond('c1', 300),
        cond('c2', 600),
        { id: 'a', kind: 'action', position: { x: 900, y: 0 }, action: { type: 'add_tag', tagId: 1 } },
      ],
      edges: [
        { id: 'e1', source: 't', target: 'c1' },
        { id: 'e2', source: 'c1', target: 'c2', sourceHandle: 'yes' },
        { id: 'e3', source: 'c2', target: 'a', sourceHandle: 'yes' },
      ],
    },
  });
  return id;
}

const summaries = () => page.locator('[data-testid=node-condition] [data-testid=node-summary]').allInnerTexts();

describe('在分群 X 中 and 所属部门及下级 in the inspector', () => {
  it('builds both conditions by name, reads them in words, and previews X ∩ the department subtree as D1 counts it', async () => {
    // X: contacts who spent at least ¥500 (a segment saved through the API, as the segments page saves it)
    const name = `高消费 ${Date.now()}`;
    const segment = await apiCall<{ id: number; size: number }>(context, 'POST', '/segments', {
      name,
      graph: {
        schemaVersion: 1,
        nodes: [
          { id: 'start', kind: 'trigger', position: { x: 0, y: 0 }, trigger: { type: 'schedule', cron: 'segment' } },
          { id: 'big', kind: 'condition', position: { x: 300, y: 0 }, condition: { field: 'totalSpend', op: 'gte', value: 50000 } },
          { id: 'end', kind: 'logic', position: { x: 600, y: 0 }, op: 'or' },
        ],
        edges: [
          { id: 'e1', source: 'start', target: 'big' },
          { id: 'e2', source: 'big', target: 'end', sourceHandle: 'yes' },
        ],
      },
    });
    const size = d1Query<{ n: number }>(persistTo, 'select count(*) as n from contacts where total_spend >= 50000')[0]!.n;
    expect(segment.size).toBe(size);
    // a department between the root and the leaves, with the most of X's contacts in its subtree
    const [dept] = d1Query<{ id: number; name: string; n: number }>(
      persistTo,
      `select d.id, d.name, (select count(*) from contacts c join departments cd on cd.id = c.department_id
                              where c.total_spend >= 50000 and instr(cd.path, '/' || d.id || '/') > 0) as n
       from departments d where d.parent_id is not null and exists (select 1 from departments k where k.parent_id = d.id)
       order by n desc, d.id limit 1`,
    );
    expect(dept!.n).toBeGreaterThan(0);
    expect(dept!.n).toBeLessThan(size);

    const id = await ruleWithTwoConditions(context, `在分群中 ${Date.now()}`);
    await gotoPage(page, `${baseURL}/rules/${id}`);
    const nodes = page.getByTestId('node-condition');

    // 1. 在分群中 X: quick to find by typing 在分群, the picker lists X with its size
    await revealNode(page, nodes.nth(0));
    await nodes.nth(0).click();
    await pickOption(page, page.getByTestId('field-picker'), '在分群', '在分群中');
    await expect.poll(() => page.getByTestId('op-picker').innerText()).toContain('在分群中');
    await page.getByTestId('segment-picker').click();
    await page.keyboard.type(name);
    const option = page.locator('.el-select-dropdown__item:visible', { hasText: name }).first();
    await option.waitFor();
    expect(await option.innerText()).toContain(`${size.toLocaleString('zh-CN')} 人`);
    await shot(page, 'segment-picker-zh');
    await option.click();
    await expect.poll(async () => (await summaries())[0]).toBe(`在分群「${name}」中`);

    // 2. 所属部门 属于（含下级部门）<dept>, from the tree
    await revealNode(page, nodes.nth(1));
    await nodes.nth(1).click();
    await pickOption(page, page.getByTestId('field-picker'), '所属部门', '所属部门');
    await pickOption(page, page.getByTestId('op-picker'), '', '含下级部门');
    await page.locator('.el-select[data-testid=department-picker]').click();
    await page.keyboard.type(dept!.name);
    await page.locator('.el-tree-node__content:visible', { hasText: dept!.name }).first().click();
    await expect.poll(async () => (await summaries())[1]).toBe(`所属部门 属于「${dept!.name}」及其下级部门`);
    expect(await page.getByTestId('dept-tree-hint').innerText()).toContain('下级部门');
    await shot(page, 'dept-tree-zh');

    // the preview counts what D1 holds: X's contacts in the department or below
    await page.getByTestId('tab-preview').click();
    await expect.poll(() => page.getByTestId('preview-matched').innerText(), { timeout: 15_000 }).toBe(dept!.n.toLocaleString('zh-CN'));
    await shot(page, 'preview-zh');

    // the why-dialog of a sample contact says 在分群「X」中: 是
    await page.getByTestId('sample-contact').first().click();
    await expect.poll(() => page.getByTestId('explain').innerText()).toContain(`在分群「${name}」中: 是`);
    await shot(page, 'why-zh');
    await page.keyboard.press('Escape');

    // saved, the same rule in English reads in words too
    await page.getByTestId('save-draft').click();
    await expect.poll(() => page.getByTestId('save-draft').isDisabled()).toBe(true);
    const en = await openPage('en');
    try {
      await gotoPage(en.page, `${baseURL}/rules/${id}`);
      const enSummaries = () => en.page.locator('[data-testid=node-condition] [data-testid=node-summary]').allInnerTexts();
      await expect.poll(async () => (await enSummaries())[0]).toBe(`In segment “${name}”`);
      await expect.poll(async () => (await enSummaries())[1]).toBe(`Department is “${dept!.name}” or any department under it`);
      const enNodes = en.page.getByTestId('node-condition');
      await revealNode(en.page, enNodes.nth(0));
      await enNodes.nth(0).click();
      await shot(en.page, 'segment-en');
      await revealNode(en.page, enNodes.nth(1));
      await enNodes.nth(1).click();
      await shot(en.page, 'dept-tree-en');
      expect(en.consoleErrors).toEqual([]);
    } finally {
      await en.close();
    }
    expect(consoleErrors).toEqual([]);
  });
  it('in the segment editor, naming a segment that names this one shows the loop on the node, in words, and saving is refused', async () => {
    const segmentGraph = (condition: Record<string, unknown>) => ({
      schemaVersion: 1,
      nodes: [
        { id: 'start', kind: 'trigger', position: { x: 0, y: 0 }, trigger: { type: 'schedule', cron: 'segment' } },
        { id: 'c', kind: 'condition', position: { x: 300, y: 0 }, condition },
        { id: 'end', kind: 'logic', position: { x: 600, y: 0 }, op: 'or' },
      ],
      edges: [
        { id: 'e1', source: 'start', target: 'c' },
        { id: 'e2', source: 'c', target: 'end', sourceHandle: 'yes' },
      ],
    });
    const stamp = Date.now();
    const a = await apiCall<{ id: number }>(context, 'POST', '/segments', {
      name: `甲 ${stamp}`,
      graph: segmentGraph({ field: 'totalSpend', op: 'gte', value: 50000 }),
    });
    const b = `乙 ${stamp}`;
    await apiCall(context, 'POST', '/segments', { name: b, graph: segmentGraph({ field: 'segment', op: 'in_segment', value: a.id }) });

    await gotoPage(page, `${baseURL}/segments/${a.id}/edit`);
    const node = page.getByTestId('node-condition').first();
    await revealNode(page, node);
    await node.click();
    await pickOption(page, page.getByTestId('field-picker'), '在分群', '在分群中');
    await page.getByTestId('segment-picker').click();
    await page.keyboard.type(b);
    await page.locator('.el-select-dropdown__item:visible', { hasText: b }).first().click();
    await expect
      .poll(() => node.getByTestId('node-error').innerText(), { timeout: 15_000 })
      .toContain(`分群「甲 ${stamp}」→「${b}」→「甲 ${stamp}」形成循环`);
    await shot(page, 'segment-cycle-zh');
    // saving it anyway is refused, and 甲 stays what it was
    await page.getByTestId('save-segment').click();
    await page.locator('.el-message--error').first().waitFor();
    const [stored] = d1Query<{ graph: string }>(persistTo, `select graph from segments where id = ${a.id}`);
    expect(JSON.parse(stored!.graph).nodes[1].condition).toEqual({ field: 'totalSpend', op: 'gte', value: 50000 });
    // the refusal is an answer (409), not a crash: the page logged nothing but that response
    expect(consoleErrors.filter((e) => !e.includes('409'))).toEqual([]);
  });
});
