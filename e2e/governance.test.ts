import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BrowserContext } from 'playwright-core';
import { apiCall, openBrowser, gotoPage } from './browser';
import { DEMO_PASSWORD } from '@shared/demo/index';

const baseURL = inject('baseURL');

describe('governance screens', () => {
  let admin: BrowserContext;
  let closeAdmin: () => Promise<void>;
  const email = `e2e.staff.${Date.now()}@segflow.demo`;
  const name = '新员工测试';

  beforeAll(async () => {
    ({ context: admin, close: closeAdmin } = await openBrowser('zh-CN'));
  });
  afterAll(() => closeAdmin?.());

  it('a super admin creates a staff user; the staff user signs in without the admin screens; the audit log shows who did it', async () => {
    const me = await apiCall<{ user: { name: string } }>(admin, 'GET', '/auth/me');

    // 1. create the user in the dialog
    const page = await admin.newPage();
    await gotoPage(page, `${baseURL}/people`);
    await page.getByTestId('users-table').waitFor();
    await page.getByTestId('new-user').click();
    const dialog = page.getByTestId('user-dialog');
    await dialog.getByTestId('user-email').fill(email);
    await dialog.getByTestId('user-name').fill(name);
    await dialog.getByTestId('user-department').click();
    await page.locator('.el-select-dropdown__item:visible', { hasText: '华东大区' }).first().click();
    await dialog.getByTestId('user-password').fill(DEMO_PASSWORD);
    await page.screenshot({ path: 'e2e/screenshots/user-dialog-zh-CN.png' });
    await dialog.getByTestId('user-save').click();
    const row = page.getByTestId('users-table').locator('tr', { hasText: email });
    await row.waitFor();
    expect(await row.innerText()).toContain('员工');
    expect(await row.innerText()).toContain('华东大区');

    // 2. the new user signs in with the password set in the dialog: no admin screens
    const staff = await openBrowser('zh-CN', email);
    try {
      const staffPage = await staff.context.newPage();
      await gotoPage(staffPage, `${baseURL}/contacts`);
      await staffPage.locator('h1').waitFor();
      const nav = await staffPage.getByTestId('nav').innerText();
      expect(nav).toContain('联系人');
      expect(nav).not.toContain('审计日志');
      expect(nav).not.toContain('用户与部门');
      expect(nav).not.toContain('数据源');
      expect(await staffPage.getByTestId('current-user').innerText()).toContain(name);
      // typing the address does not get there either: they are sent to their home screen
      await gotoPage(staffPage, `${baseURL}/audit`);
      await staffPage.waitForURL((u) => u.pathname === '/');
    } finally {
      await staff.close();
    }

    // 3. the audit log names the action in words and the actor
    await gotoPage(page, `${baseURL}/audit`);
    await page.getByTestId('audit-table').waitFor();
    await page.getByTestId('audit-filter-q').fill(email);
    await page.getByTestId('audit-search').click();
    const entry = page.getByTestId('audit-table').locator('tr', { has: page.locator('[data-action="user.create"]') });
    await expect.poll(() => entry.count()).toBe(1);
    const text = await entry.innerText();
    expect(text).toContain('创建用户');
    expect(text).toContain(me.user.name);
    // the summary is a Chinese sentence with the role in words, not the stored English one
    expect(await entry.getByTestId('audit-summary').innerText()).toBe(`创建了员工账号 ${email}`);

    // the drawer shows what was created, without the password
    await entry.click();
    const drawer = page.getByTestId('audit-diff');
    await drawer.waitFor();
    expect(await page.getByTestId('audit-detail-summary').innerText()).toBe(`创建了员工账号 ${email}`);
    const diff = await drawer.innerText();
    expect(diff).toContain(email);
    expect(diff).toContain('staff');
    expect(diff).not.toContain(DEMO_PASSWORD);
    await page.waitForTimeout(500); // the drawer slides in
    await page.screenshot({ path: 'e2e/screenshots/audit-drawer-zh-CN.png' });
    await page.close();
  });
});

describe('data sources screen', () => {
  let context: BrowserContext;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ context, close } = await openBrowser('en'));
  });
  afterAll(() => close?.());

  async function send(id: string, secret: string, eventId: string): Promise<number> {
    const body = JSON.stringify({ id: eventId, type: 'message', contact: { externalId: `e2e-${id}` }, text: 'hello' });
    const ts = String(Math.floor(Date.now() / 1000));
    const sig = `sha256=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}`;
    const res = await fetch(`${baseURL}/api/webhooks/${id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'X-Segflow-Timestamp': ts, 'X-Segflow-Signature': sig },
      body,
    });
    return res.status;
  }

  it('creates a source with its secret shown once, rotates it (old secret still accepted), and revokes it', async () => {
    const id = `e2e-${Date.now()}`;
    const page = await context.newPage();
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
    await gotoPage(page, `${baseURL}/sources`);
    await page.getByTestId('sources-table').waitFor();
    await page.getByTestId('new-source').click();
    await page.getByTestId('source-name').fill('E2E shop');
    await page.getByTestId('source-id').fill(id);
    await page.getByTestId('source-save').click();

    const secretDialog = page.getByTestId('secret-dialog');
    await secretDialog.getByTestId('secret-secret').waitFor();
    const secret = await secretDialog.getByTestId('secret-secret').inputValue();
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    expect(await secretDialog.getByTestId('secret-endpoint').inputValue()).toBe(`${baseURL}/api/webhooks/${id}`);
    expect(await secretDialog.innerText()).toContain('shown this once');
    await page.waitForTimeout(300); // the dialog fades in
    await page.screenshot({ path: 'e2e/screenshots/secret-dialog-en.png' });
    await secretDialog.getByTestId('copy-secret').click();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(secret);
    await secretDialog.getByTestId('secret-done').click();

    // the secret signs events (202: queued); once the intake consumer stored it the list counts it, and never shows the secret
    expect(await send(id, secret, 'a')).toBe(202);
    await expect
      .poll(async () => (await apiCall<{ stats: { total: number } }>(context, 'GET', `/event-sources/${id}`)).stats.total, {
        timeout: 15_000,
      })
      .toBe(1);
    await page.reload();
    const row = page.getByTestId('sources-table').locator('tr', { hasText: id });
    await row.waitFor();
    expect(await row.getByTestId('source-total').innerText()).toBe('1');
    expect(await page.content()).not.toContain(secret);

    // rotate: a new secret, once; the old one still works during the grace period
    await row.getByTestId('source-rotate').click();
    await page.locator('.el-message-box__btns .el-button--primary').click();
    await secretDialog.getByTestId('secret-secret').waitFor();
    const rotated = await secretDialog.getByTestId('secret-secret').inputValue();
    expect(rotated).not.toBe(secret);
    expect(await secretDialog.innerText()).toContain('old secret keeps working until');
    await secretDialog.getByTestId('secret-done').click();
    expect(await send(id, rotated, 'b')).toBe(202);
    expect(await send(id, secret, 'c')).toBe(202);
    await expect.poll(() => row.innerText()).toContain('Old secret works until');

    // revoke, after a confirmation: events are refused
    await row.getByTestId('source-revoke').click();
    await page.locator('.el-message-box__btns .el-button--primary').click();
    await expect.poll(() => row.innerText()).toContain('Revoked');
    expect(await send(id, rotated, 'd')).toBe(403);
    await page.waitForTimeout(500); // tags and messages animate in
    await page.screenshot({ path: 'e2e/screenshots/sources-after-en.png', fullPage: true });

    // the audit log tells the story in English, with the source's real name and kind in words
    await gotoPage(page, `${baseURL}/audit`);
    await page.getByTestId('audit-table').waitFor();
    await page.getByTestId('audit-filter-q').fill('E2E shop');
    await page.getByTestId('audit-search').click();
    const summaryOf = (action: string) =>
      page
        .getByTestId('audit-table')
        .locator('tr', { has: page.locator(`[data-action="${action}"]`) })
        .getByTestId('audit-summary');
    await expect.poll(() => summaryOf('event_source.revoke').count()).toBe(1);
    expect(await summaryOf('event_source.create').innerText()).toBe(`Created data source “E2E shop” (Generic webhook, ID ${id})`);
    expect(await summaryOf('event_source.revoke').innerText()).toBe(
      `Revoked data source “E2E shop” (${id}): its events are refused from now on`,
    );
    expect(await summaryOf('event_source.rotate').innerText()).toMatch(
      /^Rotated the secret of data source “E2E shop” \([^)]+\); the previous one works until \w{3} \d{1,2}, \d{4}/,
    );
    await page.close();
  });
});

describe('departments in the people screen', () => {
  let context: BrowserContext;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ context, close } = await openBrowser('zh-CN'));
  });
  afterAll(() => close?.());

  it('creates a department under 华东大区, then moves it under 华南大区', async () => {
    const name = `测试组${Date.now() % 100000}`;
    const page = await context.newPage();
    await gotoPage(page, `${baseURL}/people`);
    const tree = page.getByTestId('departments');
    const east = tree.getByTestId('department-node').filter({ hasText: '华东大区' }).first();
    await east.waitFor();

    await east.getByRole('button').click();
    await page.locator('.el-dropdown-menu__item:visible', { hasText: '新建子部门' }).click();
    const dialog = page.getByTestId('department-dialog');
    await dialog.getByTestId('department-name').fill(name);
    await dialog.getByTestId('department-save').click();
    const node = tree.getByTestId('department-node').filter({ hasText: name });
    await node.waitFor();

    const departments = () => apiCall<{ id: number; name: string; parentId: number | null }[]>(context, 'GET', '/departments');
    const byName = async (n: string) => (await departments()).find((d) => d.name === n)!;
    expect((await byName(name)).parentId).toBe((await byName('华东大区')).id);

    await node.getByRole('button').click();
    await page.locator('.el-dropdown-menu__item:visible', { hasText: '移动' }).click();
    await dialog.getByTestId('department-parent').click();
    // its own subtree is not offered as a parent
    await page.locator('.el-select-dropdown__item:visible').first().waitFor();
    expect(await page.locator('.el-select-dropdown__item:visible', { hasText: name }).count()).toBe(0);
    await page.locator('.el-select-dropdown__item:visible', { hasText: '华南大区' }).first().click();
    await page.waitForTimeout(300); // the dropdown closes
    await page.screenshot({ path: 'e2e/screenshots/department-move-zh-CN.png' });
    await dialog.getByTestId('department-save').click();
    await expect.poll(async () => (await byName(name)).parentId).toBe((await byName('华南大区')).id);

    // the audit log words both changes in Chinese, with the departments' real names
    await gotoPage(page, `${baseURL}/audit`);
    await page.getByTestId('audit-table').waitFor();
    await page.getByTestId('audit-filter-q').fill(name);
    await page.getByTestId('audit-search').click();
    const summaryOf = (action: string) =>
      page
        .getByTestId('audit-table')
        .locator('tr', { has: page.locator(`[data-action="${action}"]`) })
        .getByTestId('audit-summary');
    await expect.poll(() => summaryOf('department.move').count()).toBe(1);
    expect(await summaryOf('department.move').innerText()).toBe(`将部门「${name}」移到了「华南大区」下`);
    expect(await summaryOf('department.create').innerText()).toBe(`在「华东大区」下创建了部门「${name}」`);
    await page.close();
  });
});
