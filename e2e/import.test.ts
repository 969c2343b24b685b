import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Page } from 'playwright-core';
import { openPage, gotoPage } from './browser';
import { d1Query } from './wrangler';
import { parseCsv } from '@shared/import/parse';

const baseURL = inject('baseURL');
const persistTo = inject('persistTo');
let close: () => Promise<void>;
let page: Page;
const dir = mkdtempSync(join(tmpdir(), 'segflow-import-'));

beforeAll(async () => {
  ({ page, close } = await openPage('zh-CN'));
});
afterAll(async () => {
  await close?.();
  rmSync(dir, { recursive: true, force: true });
});

const importedCount = () =>
  d1Query<{ n: number }>(persistTo, `select count(*) as n from contacts where external_id like 'e2e_imp_%'`)[0]!.n;

async function pickField(column: number, label: string) {
  await page.getByTestId(`map-${column}`).click();
  await page.locator('.el-select-dropdown__item:visible', { hasText: new RegExp(`^${label}$`) }).click();
  // the dropdown closes (animated) before the next one opens, so the next pick finds only its own
  await expect.poll(() => page.locator('.el-select-dropdown__item:visible').count()).toBe(0);
  await expect.poll(() => page.getByTestId(`map-${column}`).innerText()).toBe(label);
}

describe('Importing contacts, as a marketer', () => {
  it('refuses a file with a shifted column, takes it once the mapping is fixed, and shows the new contacts with their tags', async () => {
    // a non-exclusive active tag from the seeded taxonomy, named as 组/标签
    const [tag] = d1Query<{ id: number; tag: string; grp: string }>(
      persistTo,
      `select t.id, t.name as tag, g.name as grp from tags t join tag_groups g on g.id = t.group_id
       where t.status = 'active' and g.exclusive = 0 order by t.id limit 1`,
    );
    expect(tag).toBeDefined();
    // Excel on Chinese Windows: GBK would need an encoder; UTF-8 with BOM is what "CSV UTF-8" saves.
    // The name and phone values sit under each other's headers.
    const csv = [
      '外部ID,姓名,手机,城市,标签',
      `e2e_imp_1,13800000001,导入测试甲,杭州,${tag!.grp}/${tag!.tag}`,
      `e2e_imp_2,13800000002,导入测试乙,苏州,${tag!.grp}/${tag!.tag}`,
      'e2e_imp_3,13800000003,导入测试丙,南京,',
    ].join('\r\n');
    const file = join(dir, '客户名单.csv');
    writeFileSync(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(csv, 'utf8')]));

    await gotoPage(page, `${baseURL}/contacts`);
    await page.getByTestId('open-import').click();
    await page.waitForURL('**/contacts/import');
    await page.locator('[data-testid=import-upload] input[type=file]').setInputFiles(file);

    // the mapping guessed from the headers, with the shifted columns already flagged
    await expect.poll(() => page.getByTestId('import-intro').innerText()).toContain('3 行');
    await expect.poll(() => page.getByTestId('misaligned-1').count()).toBe(1);
    expect(await page.getByTestId('misaligned-2').count()).toBe(1);

    await page.getByTestId('import-dry-run').click();
    const report = page.getByTestId('import-report');
    await expect.poll(() => report.isVisible()).toBe(true);
    expect(await page.getByTestId('import-misaligned').innerText()).toContain('整个文件被拒绝');
    const rejections = await page.getByTestId('import-rejections').innerText();
    expect(rejections).toContain('13800000001');
    expect(rejections).toContain('所在列错位');
    expect(await page.getByTestId('import-apply').isDisabled()).toBe(true);
    // staged, but nothing written to contacts
    // this file's rows (other e2e files import too: the D1 is shared)
    expect(
      d1Query<{ n: number }>(
        persistTo,
        `select count(*) as n from import_rows where import_id in (select id from imports where file_name = '客户名单.csv')`,
      )[0]!.n,
    ).toBe(3);
    expect(importedCount()).toBe(0);

    await page.getByTestId('import-fix-mapping').click();
    await pickField(1, '手机号');
    await pickField(2, '姓名');
    await expect.poll(() => page.getByTestId('misaligned-1').count()).toBe(0);
    await page.getByTestId('import-dry-run').click();
    await expect.poll(() => page.getByTestId('count-new').innerText()).toContain('3');
    expect(await page.getByTestId('count-rejected').innerText()).toContain('0');
    expect(await page.getByTestId('import-misaligned').count()).toBe(0);
    // a dry run writes nothing
    expect(importedCount()).toBe(0);

    await page.getByTestId('import-apply').click();
    await expect.poll(() => page.getByTestId('import-done').isVisible()).toBe(true);
    expect(importedCount()).toBe(3);
    // tags written by the import, and the phone stored sealed, never in clear (one D1 read)
    const written = d1Query<{ external_id: string; phone_enc: string; tagged: number }>(
      persistTo,
      `select c.external_id, c.phone_enc, exists (select 1 from contact_tags ct where ct.contact_id = c.id and ct.tag_id = ${tag!.id} and ct.source = 'import') as tagged
       from contacts c where c.external_id like 'e2e_imp_%' order by c.external_id`,
    );
    expect(written.map((w) => [w.external_id, w.tagged])).toEqual([
      ['e2e_imp_1', 1],
      ['e2e_imp_2', 1],
      ['e2e_imp_3', 0],
    ]);
    expect(written.every((w) => w.phone_enc && !w.phone_enc.includes('138000000'))).toBe(true);

    await page.getByTestId('import-view-contacts').click();
    await page.waitForURL('**/contacts');
    await page.getByTestId('contacts-search').fill('导入测试甲');
    await expect.poll(() => page.locator('[data-testid=contact-name]').allInnerTexts()).toEqual(['导入测试甲']);
    await expect.poll(() => page.locator(`.contacts-table tbody tr [data-tag-id="${tag!.id}"]`).count()).toBe(1);
  });

  it('exports the filtered contacts list to CSV: the file holds the rows the list counts, and the export is audited', async () => {
    const [tag] = d1Query<{ id: number; name: string; holders: number }>(
      persistTo,
      `select t.id, t.name, count(*) as holders from contact_tags ct join tags t on t.id = ct.tag_id
       group by t.id having holders between 5 and 300 order by holders desc limit 1`,
    );
    expect(tag).toBeDefined();
    await gotoPage(page, `${baseURL}/contacts?tagId=${tag!.id}`);
    await expect.poll(async () => Number((await page.getByTestId('contacts-total').innerText()).replace(/[^\d]/g, ''))).toBe(tag!.holders);

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-contacts').click()]);
    expect(download.suggestedFilename()).toMatch(/^contacts-\d{4}-\d{2}-\d{2}\.csv$/);
    const file = join(dir, 'export.csv');
    await download.saveAs(file);
    const sheet = parseCsv(new Uint8Array(readFileSync(file)));
    expect(sheet.encoding).toBe('utf-8');
    expect(sheet.headers[0]).toBe('外部ID');
    expect(sheet.rows).toHaveLength(tag!.holders);
    expect(sheet.rows.every((r) => r.cells[10]!.split('，').some((x) => x.endsWith(`/${tag!.name}`)))).toBe(true);

    const [audit] = d1Query<{ after: string; actor_user_id: number | null }>(
      persistTo,
      `select after, actor_user_id from audit_log where action = 'contact.export' order by id desc limit 1`,
    );
    expect(JSON.parse(audit!.after)).toMatchObject({ filter: { tagId: tag!.id }, rows: tag!.holders });
    expect(audit!.actor_user_id).not.toBeNull();

    // the same list as an Excel file: a zip (XLSX) of the same rows, counted in its audit entry
    const [xlsx] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-contacts-xlsx').click()]);
    expect(xlsx.suggestedFilename()).toMatch(/^contacts-\d{4}-\d{2}-\d{2}\.xlsx$/);
    const xfile = join(dir, 'export.xlsx');
    await xlsx.saveAs(xfile);
    expect(readFileSync(xfile).subarray(0, 2).toString()).toBe('PK');
    const [xaudit] = d1Query<{ after: string }>(
      persistTo,
      `select after from audit_log where action = 'contact.export' order by id desc limit 1`,
    );
    expect(JSON.parse(xaudit!.after)).toMatchObject({ filter: { tagId: tag!.id }, rows: tag!.holders, format: 'xlsx' });
  });
});
