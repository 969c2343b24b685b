import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';
import { openBrowser, openPage, publishTaggingRule, gotoPage } from './browser';
import { d1Query } from './wrangler';

/** The security log beside the audit log, and the rollback dialog's "pause the rule too". */
const baseURL = inject('baseURL');
const persistTo = inject('persistTo');
const SHOTS = process.env.SHOTS_DIR ?? 'e2e/screenshots';

let context: BrowserContext;
let close: () => Promise<void>;
let page: Page;
let consoleErrors: string[];

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  ({ context, page, consoleErrors, close } = await openPage('zh-CN'));
});
afterAll(async () => close?.());

async function shot(p: Page, name: string) {
  await p.mouse.move(5, 895);
  await p.waitForTimeout(250);
  await p.screenshot({ path: `${SHOTS}/logs-${name}.png`, fullPage: true });
}

const publishRule = (ruleName: string, tagName: string) => publishTaggingRule(context, { ruleName, tagName, region: '浙江' });

describe('the security log, as the super admin', () => {
  it('shows a probing account and wrong passwords beside the audit log, filterable by who and reason', async () => {
    // a department admin probing what they may not see, and someone guessing a password
    const probe = await openBrowser('zh-CN', 'dept2.admin@segflow.demo');
    try {
      for (const path of ['/api/users', '/api/audit', '/api/event-sources', '/api/users'])
        expect((await probe.context.request.get(`${baseURL}${path}`)).status()).toBe(403);
    } finally {
      await probe.close();
    }
    for (let i = 0; i < 3; i++) {
      const r = await context.request.post(`${baseURL}/api/auth/login`, {
        data: { email: 'ceo@segflow.demo', password: `guess-${i}-guess` },
      });
      expect(r.status()).toBe(401);
    }

    await gotoPage(page, `${baseURL}/audit`);
    await page.getByTestId('tab-security').click();
    await page.waitForURL(/\/audit\/security$/);
    await page.getByTestId('security-table').waitFor();
    await page.locator('[data-testid=security-reason][data-reason=forbidden]').first().waitFor();
    const table = await page.getByTestId('security-table').innerText();
    expect(table).toContain('权限不足');
    expect(table).toContain('登录尝试：ceo@segflow.demo');
    expect(table).toContain('/api/users');
    // the repeats are one row, counted
    expect(table).toMatch(/2 次/);
    await shot(page, 'security-zh-CN');

    // one account at a glance: filter by who
    await page.getByTestId('security-filter-who').fill('dept2.admin');
    await page.getByTestId('security-search').click();
    await page.getByTestId('security-table').getByText('ceo@segflow.demo').waitFor({ state: 'detached' });
    const reasons = await page.locator('[data-testid=security-reason]').evaluateAll((els) => els.map((e) => e.getAttribute('data-reason')));
    expect(new Set(reasons)).toEqual(new Set(['forbidden']));
    await shot(page, 'security-filtered-zh-CN');

    // and back to the audit log by its tab
    await page.getByTestId('tab-audit').click();
    await page.waitForURL(/\/audit$/);
    await page.getByTestId('audit-table').waitFor();
    await shot(page, 'audit-tabs-zh-CN');
    expect(consoleErrors).toEqual([]);
  });

  it('in English', async () => {
    const en = await openBrowser('en');
    try {
      const p = await en.context.newPage();
      const errors: string[] = [];
      p.on('pageerror', (e) => errors.push(e.message));
      await gotoPage(p, `${baseURL}/audit/security`);
      await p.locator('[data-testid=security-reason]').first().waitFor();
      const text = await p.locator('body').innerText();
      expect(text).toContain('Security log');
      expect(text).toContain('Role too low');
      expect(text).toContain('Sign-in as ceo@segflow.demo');
      expect(await p.getByTestId('nav').innerText()).not.toMatch(/[\u4e00-\u9fff]/);
      await p.getByTestId('security-filter-reason').click();
      await p.locator('.el-select-dropdown__item:visible', { hasText: 'Not signed in or wrong password' }).click();
      await p.getByTestId('security-search').click();
      await p.getByTestId('security-table').getByText('Role too low').first().waitFor({ state: 'detached' });
      await shot(p, 'security-en');
      expect(errors).toEqual([]);
    } finally {
      await en.close();
    }
  });
});

describe('rolling back a published rule’s run', () => {
  it('offers to pause the rule (on by default); confirming pauses it with the rollback', async () => {
    const ruleName = '每日误标规则（暂停E2E）';
    const { ruleId, tagId } = await publishRule(ruleName, '暂停演练E2E');
    const tagged = d1Query<{ n: number }>(persistTo, `select count(*) as n from contact_tags where tag_id = ${tagId}`)[0]!.n;
    expect(tagged).toBeGreaterThan(0);

    await gotoPage(page, `${baseURL}/rollback?ruleId=${ruleId}&version=1`);
    await page.getByTestId('rollback-rule').getByText(ruleName).waitFor();
    await page.getByTestId('rollback-preview').click();
    await page.getByTestId('rollback-preview-result').waitFor();
    await page.getByTestId('rollback-run').click();
    const pause = page.getByTestId('rollback-pause-rule');
    await pause.waitFor();
    expect(await pause.innerText()).toContain(`同时暂停规则「${ruleName}」`);
    expect(await page.getByTestId('rollback-pause-rule-check').locator('input').isChecked()).toBe(true);
    await page.getByTestId('rollback-confirm-count').fill(String(tagged));
    await shot(page, 'rollback-pause-zh-CN');
    await page.getByTestId('rollback-confirm-run').click();
    await page.getByTestId('rollback-done').waitFor();
    expect(await page.getByTestId('rollback-done').innerText()).toContain(`规则「${ruleName}」已暂停`);
    await shot(page, 'rollback-paused-zh-CN');

    expect(d1Query<{ status: string }>(persistTo, `select status from rules where id = ${ruleId}`)[0]!.status).toBe('paused');
    expect(
      d1Query<{ n: number }>(persistTo, `select count(*) as n from audit_log where action = 'rule.pause' and object_id = '${ruleId}'`)[0]!
        .n,
    ).toBe(1);
    expect(d1Query<{ n: number }>(persistTo, `select count(*) as n from contact_tags where tag_id = ${tagId}`)[0]!.n).toBe(0);
    expect(consoleErrors).toEqual([]);
  });

  it('unticked, the rule stays published (English)', async () => {
    const ruleName = 'Daily mis-tag rule (keep E2E)';
    const { ruleId, tagId } = await publishRule(ruleName, 'keep-e2e');
    const tagged = d1Query<{ n: number }>(persistTo, `select count(*) as n from contact_tags where tag_id = ${tagId}`)[0]!.n;
    const en = await openBrowser('en');
    try {
      const p = await en.context.newPage();
      await gotoPage(p, `${baseURL}/rollback?ruleId=${ruleId}&version=1`);
      await p.getByTestId('rollback-rule').getByText(ruleName).waitFor();
      await p.getByTestId('rollback-preview').click();
      await p.getByTestId('rollback-preview-result').waitFor();
      await p.getByTestId('rollback-run').click();
      await p.getByTestId('rollback-pause-rule').waitFor();
      expect(await p.getByTestId('rollback-pause-rule').innerText()).toContain(`Also pause rule “${ruleName}”`);
      await p.getByTestId('rollback-confirm-count').fill(String(tagged));
      await shot(p, 'rollback-pause-en');
      await p.getByTestId('rollback-pause-rule-check').click();
      expect(await p.getByTestId('rollback-pause-rule-check').locator('input').isChecked()).toBe(false);
      await p.getByTestId('rollback-confirm-run').click();
      await p.getByTestId('rollback-done').waitFor();
      expect(await p.getByTestId('rollback-done').innerText()).not.toContain('paused');
    } finally {
      await en.close();
    }
    expect(d1Query<{ status: string }>(persistTo, `select status from rules where id = ${ruleId}`)[0]!.status).toBe('published');
  });
});
