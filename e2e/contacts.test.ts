import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Page } from 'playwright-core';
import { openPage, gotoPage } from './browser';
import { d1Query } from './wrangler';

const baseURL = inject('baseURL');
const persistTo = inject('persistTo');
let close: () => Promise<void>;
let page: Page;

beforeAll(async () => {
  ({ page, close } = await openPage('zh-CN'));
});
afterAll(async () => close?.());

/** The number in "共 2,000 位联系人" / "2,000 contacts". */
async function shownTotal(): Promise<number> {
  const text = await page.getByTestId('contacts-total').innerText();
  return Number(text.replace(/[^\d]/g, ''));
}

describe('Contacts screen, as a marketer', () => {
  it('opens the contacts list showing the seeded contacts and the total D1 holds', async () => {
    // the app opens on the home now (e2e/home.test.ts); the list is one click away
    await gotoPage(page, `${baseURL}/contacts`);
    await expect.poll(() => page.locator('[data-testid=contact-name]').count()).toBe(20);
    const n = d1Query<{ n: number }>(persistTo, 'select count(*) as n from contacts')[0]!.n;
    expect(n).toBeGreaterThan(0);
    expect(await shownTotal()).toBe(n);
    expect(await page.locator('h1').innerText()).toBe('联系人');
  });

  it('filters by a tag picked in the tag filter: every row carries it and the total matches D1', async () => {
    // a tag held by some but not all contacts, straight from the database
    const [tag] = d1Query<{ id: number; name: string; holders: number }>(
      persistTo,
      `select t.id, t.name, count(*) as holders from contact_tags ct join tags t on t.id = ct.tag_id
       group by t.id having holders between 5 and (select count(*) / 2 from contacts) order by holders desc limit 1`,
    );
    expect(tag).toBeDefined();

    await page.getByTestId('filter-tag').click();
    await page.keyboard.type(tag!.name);
    await page.locator('.el-select-dropdown__item:visible', { hasText: tag!.name }).first().click();

    await page.waitForURL(`**/contacts?tagId=${tag!.id}`);
    await expect.poll(shownTotal).toBe(tag!.holders);
    const rows = page.locator('.contacts-table tbody tr');
    const count = await rows.count();
    expect(count).toBe(Math.min(20, tag!.holders));
    for (let i = 0; i < count; i++) {
      await expect.poll(() => rows.nth(i).locator(`[data-tag-id="${tag!.id}"]`).count()).toBe(1);
    }
  });

  it('filters by a department picked in the department tree: its subtree, and the total matches D1', async () => {
    // a department with sub-departments, and how many contacts its subtree holds
    const [dept] = d1Query<{ id: number; name: string; n: number }>(
      persistTo,
      `select d.id, d.name, (select count(*) from contacts c join departments s on s.id = c.department_id where s.path like d.path || '%') as n
       from departments d where exists (select 1 from departments s where s.parent_id = d.id) and d.parent_id is not null order by n desc limit 1`,
    );
    expect(dept).toBeDefined();
    expect(dept!.n).toBeGreaterThan(0);

    await gotoPage(page, `${baseURL}/contacts`);
    await page.getByTestId('filter-department').first().click();
    await page.locator('.el-select-dropdown .el-tree-node__content:visible', { hasText: dept!.name }).first().click();

    await page.waitForURL(`**/contacts?departmentId=${dept!.id}`);
    await expect.poll(shownTotal).toBe(dept!.n);
  });

  it('switches the whole interface to English, and keeps the choice after a reload', async () => {
    await gotoPage(page, `${baseURL}/contacts`);
    await page.getByTestId('language-switch').getByText('EN').click();
    await expect.poll(() => page.locator('h1').innerText()).toBe('Contacts');
    await expect.poll(() => page.getByTestId('nav').innerText()).toContain('Tagging rules');
    await expect.poll(() => page.getByTestId('contacts-total').innerText()).toMatch(/^[\d,]+ contacts$/);
    expect(await page.locator('html').getAttribute('lang')).toBe('en');

    await page.reload();
    await expect.poll(() => page.locator('h1').innerText()).toBe('Contacts');
    await page.getByTestId('language-switch').getByText('中文').click();
    await expect.poll(() => page.locator('h1').innerText()).toBe('联系人');
  });
});
