/**
 * Finding people the way WeCom taught people to search (issue 20): initials typed into the
 * contacts search, and into the owner (负责人) picker, find the person.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Page } from 'playwright-core';
import { SHOWCASE_NAMES } from '@shared/demo/index';
import { pinyinKeys } from '@shared/search/pinyin';
import { gotoPage, openPage } from './browser';
import { d1Query } from './wrangler';

const baseURL = inject('baseURL');
const persistTo = inject('persistTo');
let close: () => Promise<void>;
let page: Page;

beforeAll(async () => {
  ({ page, close } = await openPage('zh-CN'));
});
afterAll(async () => close?.());

const shownTotal = async () => Number((await page.getByTestId('contacts-total').innerText()).replace(/[^\d]/g, ''));
const names = () => page.getByTestId('contact-name').allInnerTexts();

describe('Pinyin search in the contacts screen', () => {
  it('finds 张丽坤 by typing "zlk", and counts what D1 holds for that search', async () => {
    const [showcase] = [...SHOWCASE_NAMES.values()];
    await gotoPage(page, `${baseURL}/contacts`);
    await page.getByTestId('contacts-search').fill('zlk');
    await expect.poll(names, { timeout: 10_000 }).toContain(showcase);
    // the same search written by hand over D1: a key starting with "zlk", or the text in the name, remark or id
    const [{ n }] = d1Query<{ n: number }>(
      persistTo,
      `select count(*) as n from contacts c where c.id in (select ref_id from search_keys where kind = 'contact' and substr(key, 1, 3) = 'zlk')
         or instr(lower(c.name), 'zlk') > 0 or instr(lower(c.remark), 'zlk') > 0 or c.external_id = 'zlk'`,
    ) as [{ n: number }];
    await expect.poll(shownTotal).toBe(n);
    await page.screenshot({ path: 'e2e/screenshots/pinyin-search-zh.png' });
  });

  it('picks an owner by their initials in the 负责人 picker, and lists exactly their contacts', async () => {
    // the demo staff member with the most contacts, and their initials (the picker's keys are the server's)
    const [owner] = d1Query<{ id: number; name: string; n: number }>(
      persistTo,
      `select u.id, u.name, count(*) as n from contacts c join users u on u.id = c.owner_user_id group by u.id order by n desc limit 1`,
    );
    const initials = pinyinKeys(owner!.name, { person: true }).find((k) => /^[a-z]{2,4}$/.test(k) && k.length === [...owner!.name].length)!;
    expect(initials).toBeDefined();
    await gotoPage(page, `${baseURL}/contacts`);
    await page.getByTestId('filter-owner').click();
    await page.keyboard.type(initials);
    const option = page.locator('[data-testid=owner-option]:visible', { hasText: owner!.name });
    await option.first().waitFor();
    await page.screenshot({ path: 'e2e/screenshots/owner-picker-zh.png' });
    await option.first().click();
    await page.waitForURL(`**/contacts?ownerUserId=${owner!.id}`);
    await expect.poll(shownTotal).toBe(owner!.n);
    const rows = await page.locator('[data-testid=contacts-table] tbody tr').count();
    expect(rows).toBe(Math.min(20, owner!.n));
    const ownerCells = await page.locator('[data-testid=contacts-table] tbody tr td:nth-child(3)').allInnerTexts();
    expect(ownerCells.every((t) => t.trim() === owner!.name)).toBe(true);
  });

  it('finds a tag by its initials in the tag filter', async () => {
    await gotoPage(page, `${baseURL}/contacts`);
    await page.getByTestId('filter-tag').click();
    await page.keyboard.type('gjz');
    const options = page.locator('.el-select-dropdown__item:visible');
    await expect.poll(() => options.allInnerTexts()).toEqual([expect.stringContaining('高价值客户')]);
    await page.screenshot({ path: 'e2e/screenshots/tag-filter-pinyin-zh.png' });
  });

  it('finds a colleague by initials on the people screen', async () => {
    const [person] = d1Query<{ name: string; email: string }>(
      persistTo,
      `select name, email from users where name glob '[^A-Za-z]*' order by id desc limit 1`,
    );
    const initials = pinyinKeys(person!.name, { person: true }).find((k) => k.length === [...person!.name].length && /^[a-z]+$/.test(k))!;
    await gotoPage(page, `${baseURL}/people`);
    await page.getByTestId('users-search').fill(initials);
    const rows = page.locator('[data-testid=users-table] tbody tr');
    await expect.poll(() => rows.allInnerTexts()).toContainEqual(expect.stringContaining(person!.email));
    // every person shown has those initials, or the text in their name or email
    const shown = await rows.allInnerTexts();
    const all = d1Query<{ name: string; email: string }>(persistTo, 'select name, email from users where disabled = 0 or disabled = 1');
    const expected = all.filter(
      (u) =>
        `${u.name} ${u.email}`.toLowerCase().includes(initials) || pinyinKeys(u.name, { person: true }).some((k) => k.startsWith(initials)),
    );
    expect(shown.length).toBe(expected.length);
    await page.screenshot({ path: 'e2e/screenshots/people-pinyin-zh.png' });
  });
});
