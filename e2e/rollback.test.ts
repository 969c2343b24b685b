import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';
import { apiCall, openBrowser, openPage, publishTaggingRule, gotoPage } from './browser';
import { d1Query } from './wrangler';
import type { TaxonomyTag } from '@shared/api/taxonomy';

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

async function shot(p: Page, name: string) {
  await p.mouse.move(5, 895);
  await p.waitForTimeout(250);
  await p.screenshot({ path: `e2e/screenshots/rollback-${name}.png`, fullPage: true });
}

const RULE_NAME = '误发规则（回滚E2E）';
/** A rule far too broad (everyone in 广东 gets its tag), published: what the rollback undoes. */
const publishBadRule = async () => ({
  ...(await publishTaggingRule(context, { ruleName: RULE_NAME, tagName: '回滚演练E2E', region: '广东' })),
  ruleName: RULE_NAME,
});

describe('Rollback, as the super admin', () => {
  it('undoes a bad rule run: preview by tag, confirm by typing the count, the tag is gone and the ledger says rollback', async () => {
    const { ruleId, tagId, ruleName } = await publishBadRule();
    const tagged = d1Query<{ contact_id: number }>(persistTo, `select contact_id from contact_tags where tag_id = ${tagId}`);
    expect(tagged.length).toBeGreaterThan(0);

    // from the rule's version history to the rollback screen, the rule and version picked
    await gotoPage(page, `${baseURL}/rules/${ruleId}`);
    await page.getByTestId('open-versions').click();
    await page.getByTestId('version-rollback').first().waitFor();
    await shot(page, 'versions-zh-CN');
    await page.getByTestId('version-rollback').first().click();
    await page.waitForURL(/\/rollback\?ruleId=\d+&version=1$/);
    await page.getByTestId('rollback-rule').getByText(ruleName).waitFor();
    await page.getByTestId('rollback-version').getByText('v1 ·').waitFor();
    await page.getByTestId('rollback-preview').click();
    await page.getByTestId('rollback-preview-result').waitFor();
    expect(await page.getByTestId('stat-remove').innerText()).toBe(`−${tagged.length.toLocaleString('zh-CN')}`);
    expect(await page.getByTestId('rollback-by-tag').innerText()).toContain('回滚演练E2E');
    await shot(page, 'preview-zh-CN');

    await page.getByTestId('rollback-run').click();
    const dialog = page.getByTestId('rollback-confirm');
    await dialog.waitFor();
    expect(await dialog.innerText()).toContain(ruleName);
    const confirm = page.getByTestId('rollback-confirm-run');
    expect(await confirm.isDisabled()).toBe(true);
    await page.getByTestId('rollback-confirm-count').fill(String(tagged.length + 1));
    expect(await confirm.isDisabled()).toBe(true);
    await page.getByTestId('rollback-confirm-count').fill(String(tagged.length));
    await shot(page, 'confirm-zh-CN');
    await confirm.click();
    await page.getByTestId('rollback-done').waitFor();
    await page.locator('.rollback-row', { hasText: ruleName }).first().waitFor();
    await shot(page, 'done-zh-CN');

    // in D1: nobody the rule tagged holds the tag; the removals are rollback rows of one batch
    expect(d1Query<{ n: number }>(persistTo, `select count(*) as n from contact_tags where tag_id = ${tagId}`)[0]!.n).toBe(0);
    const rows = d1Query<{ contact_id: number; batch_id: string }>(
      persistTo,
      `select contact_id, batch_id from tag_ledger where tag_id = ${tagId} and source = 'rollback' and op = 'remove'`,
    );
    expect(rows.map((r) => r.contact_id).sort((a, b) => a - b)).toEqual(tagged.map((r) => r.contact_id).sort((a, b) => a - b));
    expect(new Set(rows.map((r) => r.batch_id)).size).toBe(1);
    const [rb] = d1Query<{ kind: string; removed: number; params: string }>(
      persistTo,
      `select kind, removed, params from rollbacks where batch_id = '${rows[0]!.batch_id}'`,
    );
    expect(rb).toMatchObject({ kind: 'rule_version', removed: tagged.length });
    expect(JSON.parse(rb!.params)).toMatchObject({ ruleId, version: 1 });
    expect(
      d1Query<{ n: number }>(
        persistTo,
        `select count(*) as n from audit_log where object_type = 'rollback' and action = 'rollback.rule_version'`,
      )[0]!.n,
    ).toBeGreaterThan(0);

    expect(consoleErrors).toEqual([]);
  });

  it('the screen in English, with the past rollback listed', async () => {
    const en = await openBrowser('en');
    try {
      const p = await en.context.newPage();
      await gotoPage(p, `${baseURL}/rollback`);
      await p.locator('.rollback-row').first().waitFor();
      expect(await p.getByTestId('rollback-history').innerText()).toContain('Undo rule');
      await p.getByTestId('rollback-kind').getByText('Restore a retired tag').click();
      await p.getByTestId('rollback-tag').click();
      await p.locator('.el-select-dropdown__item:visible').first().click();
      await p.getByTestId('rollback-preview').click();
      await p.getByTestId('rollback-preview-result').waitFor();
      await shot(p, 'preview-en');
    } finally {
      await en.close();
    }
  });

  it('lists an import rollback with its file and counts, and does not offer to undo it, saying why (zh-CN)', async () => {
    const fileName = '展会名单（回滚E2E）.csv';
    const imp = await apiCall<{ id: string }>(context, 'POST', '/imports', {
      fileName,
      headers: ['外部ID', '姓名'],
      mapping: ['externalId', 'name'],
    });
    await apiCall(context, 'POST', `/imports/${imp.id}/rows`, {
      rows: [
        { row: 2, cells: ['e2e_rb_1', '展会客户甲'] },
        { row: 3, cells: ['e2e_rb_2', '展会客户乙'] },
      ],
    });
    await apiCall(context, 'POST', `/imports/${imp.id}/dry-run`, {});
    await apiCall(context, 'POST', `/imports/${imp.id}/apply`, {});
    const rolled = await apiCall<{ rollbackId: number }>(context, 'POST', `/imports/${imp.id}/rollback`, {});

    await gotoPage(page, `${baseURL}/rollback`);
    const row = page.locator('.rollback-row', { hasText: fileName });
    await row.waitFor();
    expect(await row.innerText()).toContain(`#${rolled.rollbackId} 回滚导入「${fileName}」（删除 2 个联系人，恢复 0 个）`);
    expect(await row.getByTestId('rollback-undo').count()).toBe(0);
    const refusal = row.getByTestId('rollback-not-undoable');
    expect(await refusal.innerText()).toBe('不可撤销');
    await refusal.hover();
    const tip = page.locator('.el-popper:visible', { hasText: '重新导入文件' });
    await tip.waitFor();
    expect(await tip.innerText()).toContain(`删除了导入新建的 2 个联系人`);
    expect(await tip.innerText()).toContain(fileName);
    expect(await page.getByTestId('rollback-import-note').innerText()).toContain('导入的回滚无法在这里撤销');
    await shot(page, 'import-zh-CN');

    // the "undo a rollback" picker does not offer it either
    await page.getByTestId('rollback-kind').getByText('撤销一次回滚').click();
    await page.getByTestId('rollback-past').click();
    // the first test's rule rollback is offered; the import's is not
    await page.locator('.el-select-dropdown__item:visible').first().waitFor();
    const options = await page.locator('.el-select-dropdown__item:visible').allInnerTexts();
    expect(options.length).toBeGreaterThan(0);
    expect(options.some((o) => o.includes(fileName))).toBe(false);
    await page.keyboard.press('Escape');
    expect(consoleErrors).toEqual([]);
  });

  it('undoes a rollback, undoes that undo, and undoes the first rollback again from the history (zh-CN)', async () => {
    // a rollback of its own: a tag given by hand to one contact, taken away by undoing that batch
    const [group] = d1Query<{ id: number }>(persistTo, `select id from tag_groups where name = '运营标记'`);
    const tag = await apiCall<TaxonomyTag>(context, 'POST', '/taxonomy/tags', {
      groupId: group!.id,
      name: '反复撤销E2E',
      allowDuplicate: true,
    });
    const [contact] = d1Query<{ id: number }>(persistTo, `select id from contacts order by id limit 1`);
    await apiCall(context, 'POST', `/contacts/${contact!.id}/tags`, { add: [tag.id], remove: [] });
    const [manual] = d1Query<{ batch_id: string }>(persistTo, `select batch_id from tag_ledger where tag_id = ${tag.id} and op = 'add'`);
    const first = await apiCall<{ rollback: { id: number } }>(context, 'POST', '/rollbacks', {
      kind: 'batch',
      batchId: manual!.batch_id,
      confirm: { count: 1 },
    });
    const holds = () => d1Query<{ n: number }>(persistTo, `select count(*) as n from contact_tags where tag_id = ${tag.id}`)[0]!.n;
    expect(holds()).toBe(0);

    const rowOf = (id: number) =>
      page.locator('.rollback-row').filter({ has: page.getByTestId('rollback-id').getByText(`#${id}`, { exact: true }) });
    const undoRow = async (id: number, says?: string) => {
      const row = rowOf(id);
      await row.getByTestId('rollback-undo').click();
      const dialog = page.getByTestId('rollback-confirm');
      await dialog.waitFor();
      if (says) expect(await dialog.innerText()).toContain(says);
      await page.getByTestId('rollback-confirm-count').fill('1');
      await page.getByTestId('rollback-confirm-run').click();
      await page.getByTestId('rollback-done').waitFor();
      await dialog.waitFor({ state: 'hidden' });
    };
    const status = async (id: number) => rowOf(id).locator('.el-tag').first().innerText();
    const newestId = () => d1Query<{ id: number }>(persistTo, `select max(id) as id from rollbacks`)[0]!.id;

    await gotoPage(page, `${baseURL}/rollback`);
    await rowOf(first.rollback.id).waitFor();
    await undoRow(first.rollback.id);
    const u1 = newestId();
    expect(holds()).toBe(1);
    await expect.poll(() => status(first.rollback.id)).toBe(`已由 #${u1} 撤销`);
    expect(await rowOf(first.rollback.id).getByTestId('rollback-undo').count()).toBe(0);

    await undoRow(u1);
    const u2 = newestId();
    expect(holds()).toBe(0);
    await expect.poll(() => status(first.rollback.id)).toBe('生效中');
    await expect.poll(() => status(u1)).toBe(`已由 #${u2} 撤销`);

    // the first rollback again: refused before this change, now it undoes the undo of its undo
    await undoRow(first.rollback.id, `再次撤销回滚 #${first.rollback.id}（即撤销让它重新生效的 #${u2}）`);
    const u3 = newestId();
    expect(holds()).toBe(1);
    await expect.poll(() => status(first.rollback.id)).toBe(`已由 #${u3} 撤销`);
    await expect.poll(() => status(u2)).toBe(`已由 #${u3} 撤销`);
    await expect.poll(() => status(u1)).toBe('生效中');
    await shot(page, 'reundo-zh-CN');
    expect(consoleErrors).toEqual([]);
  });

  it('is not offered to a department admin, and the API refuses them', async () => {
    const admin = await openBrowser('zh-CN', 'dept2.admin@segflow.demo');
    try {
      const p = await admin.context.newPage();
      await gotoPage(p, `${baseURL}/rollback`);
      // a screen above the user's role sends them to the home
      await p.waitForURL((u) => u.pathname === '/');
      expect(await p.getByTestId('nav').innerText()).not.toContain('回滚');
      const res = await admin.context.request.get(`${baseURL}/api/rollbacks`);
      expect(res.status()).toBe(403);
    } finally {
      await admin.close();
    }
  });
});
