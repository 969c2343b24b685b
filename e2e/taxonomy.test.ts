import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Page } from 'playwright-core';
import { openBrowser, openPage, gotoPage } from './browser';
import { d1Query } from './wrangler';

const baseURL = inject('baseURL');
const persistTo = inject('persistTo');

interface TagRow {
  id: number;
  name: string;
  group_id: number;
}

/** An active tag of a non-exclusive group with a name long enough to judge similarity by. */
function existingTag(): TagRow {
  const [tag] = d1Query<TagRow>(
    persistTo,
    `select t.id, t.name, t.group_id from tags t join tag_groups g on g.id = t.group_id
     where t.status = 'active' and g.exclusive = 0 and length(t.name) >= 3 order by t.id limit 1`,
  );
  expect(tag).toBeDefined();
  return tag!;
}

/** Opens "new tag" from the group's own header, so the tag lands in that group. */
async function openNewTagDialog(page: Page, groupId: number, name: string) {
  const [group] = d1Query<{ name: string }>(persistTo, `select name from tag_groups where id = ${groupId}`);
  await gotoPage(page, `${baseURL}/tags`);
  await page
    .locator('[data-testid=tag-group]', { has: page.locator('h2', { hasText: group!.name }) })
    .getByTestId('group-new-tag')
    .click();
  await page.getByTestId('tag-editor-name').fill(name);
}

/** Text with line breaks and spaces removed: chips and labels render on separate lines. */
const flat = (s: string) => s.replace(/\s+/g, '');
const SLOW = 150_000;
/** Polls with room for a loaded machine: the build shares two cores with the worker and the browser. */
const poll = <T>(fn: () => T | Promise<T>) => expect.poll(fn, { timeout: 20_000 });

describe('Taxonomy and contact detail, as a marketer', () => {
  let close: () => Promise<void>;
  let page: Page;
  const NEW_TAG = '端到端验收标签';

  beforeAll(async () => {
    ({ page, close } = await openPage('zh-CN'));
    mkdirSync('e2e/screenshots', { recursive: true });
  });
  afterAll(async () => close?.());

  it(
    'warns about a near-duplicate while typing, naming the tag to use instead, then creates a distinct tag',
    async () => {
      const existing = existingTag();
      // full-width punctuation around an existing name: the same tag to anyone reading it
      // a non-exclusive group, so adding the new tag to a contact removes nothing else
      await openNewTagDialog(page, existing.group_id, `【${existing.name}】`);
      const warning = page.getByTestId('duplicate-warning');
      await poll(() => warning.isVisible()).toBe(true);
      expect(await warning.innerText()).toContain(existing.name);
      expect(await page.getByTestId('duplicate-reason').first().innerText()).toContain('忽略全半角、大小写和标点后相同');
      expect(await page.getByTestId('tag-editor-save').isDisabled()).toBe(true);
      await page.screenshot({ path: 'e2e/screenshots/taxonomy-duplicate-zh-CN.png' });

      await page.getByTestId('tag-editor-name').fill(NEW_TAG);
      await poll(() => page.getByTestId('tag-editor').innerText()).toContain('没有发现相近的标签');
      await page.getByTestId('tag-editor-save').click();
      await poll(() => page.locator('[data-testid=tag-row]', { hasText: NEW_TAG }).count()).toBe(1);
      const rows = d1Query<{ status: string; level: number; group_id: number }>(
        persistTo,
        `select status, level, group_id from tags where name = '${NEW_TAG}'`,
      );
      expect(rows).toEqual([{ status: 'active', level: 1, group_id: existing.group_id }]);
    },
    SLOW,
  );

  it(
    'opens a contact from the table, adds and removes a tag by hand, and shows both in the tag timeline',
    async () => {
      await gotoPage(page, `${baseURL}/contacts`);
      const first = page.locator('[data-testid=contact-name]').first();
      const name = await first.innerText();
      await first.click();
      await page.waitForURL(/\/contacts\/\d+$/);
      const contactId = Number(page.url().split('/').pop());
      await poll(() => page.getByTestId('contact-detail-name').innerText()).toBe(name);
      const historyBefore = d1Query<{ n: number }>(persistTo, `select count(*) as n from tag_ledger where contact_id = ${contactId}`)[0]!.n;

      await page.getByTestId('contact-add-tag').click();
      await page.keyboard.type(NEW_TAG);
      await page.locator('.el-select-dropdown__item:visible', { hasText: NEW_TAG }).first().click();
      await page.getByTestId('contact-add-tag-button').click();
      const chip = page.getByTestId('contact-tags').locator('.chip', { hasText: NEW_TAG });
      await poll(() => chip.count()).toBe(1);
      const timeline = page.getByTestId('tag-timeline');
      await poll(async () => flat(await timeline.locator('[data-testid=tag-timeline-entry]').first().innerText())).toContain(
        `打上${NEW_TAG}`,
      );
      await page.screenshot({ path: 'e2e/screenshots/contact-detail-zh-CN.png', fullPage: true });

      await chip.locator('.el-tag__close').click();
      await page
        .locator('.el-message-box')
        .getByRole('button', { name: `去掉标签「${NEW_TAG}」` })
        .click();
      await poll(() => chip.count()).toBe(0);
      await poll(async () => flat(await timeline.locator('[data-testid=tag-timeline-entry]').first().innerText())).toContain(
        `去掉${NEW_TAG}`,
      );
      expect(await timeline.locator('[data-testid=tag-timeline-entry]').first().innerText()).toContain('手动');

      const ledger = d1Query<{ op: string; source: string }>(
        persistTo,
        `select l.op, l.source from tag_ledger l join tags t on t.id = l.tag_id where l.contact_id = ${contactId} and t.name = '${NEW_TAG}' order by l.id`,
      );
      expect(ledger).toEqual([
        { op: 'add', source: 'manual' },
        { op: 'remove', source: 'manual' },
      ]);
      expect(d1Query<{ n: number }>(persistTo, `select count(*) as n from tag_ledger where contact_id = ${contactId}`)[0]!.n).toBe(
        historyBefore + 2,
      );
    },
    SLOW,
  );

  it(
    'shows the same screens in English',
    async () => {
      const { context: en, close: closeEn } = await openBrowser('en');
      try {
        const p = await en.newPage();
        const errors: string[] = [];
        p.on('pageerror', (e) => errors.push(e.message));
        const existing = existingTag();
        await gotoPage(p, `${baseURL}/tags`);
        await p.getByTestId('new-tag').click();
        await p.getByTestId('tag-editor-name').fill(`${existing.name}！`);
        await poll(() => p.getByTestId('duplicate-warning').isVisible()).toBe(true);
        expect(await p.getByTestId('duplicate-warning').innerText()).toContain('Similar tags exist');
        await p.screenshot({ path: 'e2e/screenshots/taxonomy-duplicate-en.png' });
        await p.keyboard.press('Escape');
        await p.screenshot({ path: 'e2e/screenshots/taxonomy-tags-en.png', fullPage: true });

        await gotoPage(p, `${baseURL}/contacts`);
        await p.locator('[data-testid=contact-name]').first().click();
        await p.getByTestId('contact-detail-name').waitFor();
        await p.waitForLoadState('networkidle');
        expect(await p.getByTestId('contact-tags').innerText()).toContain('Tags');
        expect(await p.locator('body').innerText()).toContain('Tag history');
        await p.screenshot({ path: 'e2e/screenshots/contact-detail-en.png', fullPage: true });
        expect(errors).toEqual([]);
      } finally {
        await closeEn();
      }
    },
    SLOW,
  );
});
