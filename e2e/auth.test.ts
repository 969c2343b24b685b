import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BrowserContext } from 'playwright-core';
import { openBrowser, SUPER_ADMIN, gotoPage } from './browser';
import { DEMO_PASSWORD } from '@shared/demo/index';

const baseURL = inject('baseURL');

describe('sign-in page', () => {
  let context: BrowserContext;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ context, close } = await openBrowser('zh-CN', null));
  });
  afterAll(() => close());

  it('sends a signed-out visitor to sign-in, refuses a wrong password, signs in, returns to the page asked for, signs out', async () => {
    const page = await context.newPage();
    await gotoPage(page, `${baseURL}/tags`);
    await page.waitForURL((u) => u.pathname === '/login' && u.searchParams.get('next') === '/tags');
    await page.getByTestId('login-email').fill(SUPER_ADMIN);
    await page.getByTestId('login-password').fill('not-the-password');
    await page.getByTestId('login-submit').click();
    await expect.poll(() => page.getByTestId('login-error').textContent()).toContain('邮箱或密码错误');

    await page.getByTestId('login-password').fill(DEMO_PASSWORD);
    await page.getByTestId('login-submit').click();
    await page.waitForURL((u) => u.pathname === '/tags');
    await expect.poll(() => page.getByTestId('current-user').textContent()).toContain('超级管理员');
    // the session cookie is not readable by page scripts
    expect(await page.evaluate('document.cookie')).not.toContain('segflow_session');

    await page.getByTestId('logout').click();
    await page.waitForURL((u) => u.pathname === '/login');
    await gotoPage(page, `${baseURL}/contacts`);
    await page.waitForURL((u) => u.pathname === '/login' && u.searchParams.get('next') === '/contacts');
  });
});
