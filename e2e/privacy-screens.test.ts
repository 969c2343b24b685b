import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { openPage, gotoPage } from './browser';

const baseURL = inject('baseURL');
const dir = mkdtempSync(join(tmpdir(), 'segflow-privacy-screens-'));
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closers) await close();
  rmSync(dir, { recursive: true, force: true });
});

describe('privacy and robustness on screen', () => {
  it('reports a ragged CSV line as one rejected row, with its row number and reason, and imports the others', async () => {
    const { page, close } = await openPage('zh-CN');
    closers.push(close);
    const csv = ['外部ID,姓名,城市', 'e2e_rag_1,参差甲,杭州', 'e2e_rag_2,参差乙,苏州,多出来的一格', 'e2e_rag_3,参差丙,南京'].join('\r\n');
    const file = join(dir, '参差.csv');
    writeFileSync(file, csv);
    await gotoPage(page, `${baseURL}/contacts/import`);
    await page.locator('[data-testid=import-upload] input[type=file]').setInputFiles(file);
    await page.getByTestId('import-dry-run').click();
    await expect.poll(() => page.getByTestId('import-report').isVisible()).toBe(true);
    const rejections = await page.getByTestId('import-rejections').innerText();
    expect(rejections).toMatch(/^3\s+第 4 列（表头之外）\s+多出来的一格\s+单元格比表头的 3 列多/m);
    expect(await page.getByTestId('import-apply').isDisabled()).toBe(false);
    expect(await page.getByTestId('import-apply').innerText()).toContain('2');
  });

  it('tells staff in English why a phone search is refused once they have tried too many numbers of one masked form', async () => {
    const { page, context, close } = await openPage('en', 'staff3.2@segflow.demo');
    closers.push(close);
    // three numbers that all show as 139****7000: answered
    for (let i = 0; i < 3; i++) expect((await context.request.get(`${baseURL}/api/contacts?q=139000${i}7000`)).status()).toBe(200);
    await gotoPage(page, `${baseURL}/contacts?q=13900097000`);
    const notice = page.getByTestId('contacts-search-limited');
    await expect.poll(() => notice.isVisible()).toBe(true);
    const text = await notice.innerText();
    expect(text).toContain('Phone number search limit reached');
    expect(text).toContain('at most 20 different numbers an hour and 60 a day, and 3 a day');
    // the list shows no rows of an earlier search as if they answered this one
    expect(await page.locator('.el-table__row').count()).toBe(0);
  });
});
