import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BrowserContext } from 'playwright-core';
import { openBrowser, gotoPage } from './browser';
import zhCN from '../web/src/locales/zh-CN/index';

const baseURL = inject('baseURL');
/** Paths of the screens ('' is the home). */
const SCREENS = ['', 'rules', 'segments', 'contacts', 'tags', 'rollback', 'audit', 'people', 'sources'] as const;
/** A vue-i18n key shown raw means a missing translation, e.g. "contacts.title". */
const RAW_KEY = new RegExp(`\\b(${Object.keys(zhCN).join('|')})\\.[A-Za-z_.]+\\b`);

describe.each(['zh-CN', 'en'] as const)('every screen in %s', (locale) => {
  let context: BrowserContext;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ context, close } = await openBrowser(locale));
    mkdirSync('e2e/screenshots', { recursive: true });
  });
  afterAll(async () => close?.());

  it.each(SCREENS)('%s renders translated text and no errors', async (screen) => {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await gotoPage(page, `${baseURL}/${screen}`);
    await page.locator('h1').waitFor();
    await page.waitForLoadState('networkidle');
    const text = await page.locator('body').innerText();
    expect(text).not.toMatch(RAW_KEY);
    expect(await page.locator('html').getAttribute('lang')).toBe(locale);
    if (locale === 'zh-CN') expect(text).toMatch(/[\u4e00-\u9fff]/);
    else expect(await page.locator('nav').innerText()).not.toMatch(/[\u4e00-\u9fff]/);
    expect(errors).toEqual([]);
    await page.screenshot({ path: `e2e/screenshots/${screen || 'home'}-${locale}.png`, fullPage: true });
    await page.close();
  });
});
