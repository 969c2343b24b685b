/**
 * Rules carry their author's rights, in the browser (issue 13): the action tag picker marks the
 * tags a department admin may not apply, a rule paused because its publisher's rights were lost
 * says why on the rules list, and a tag's retire dialog counts other departments' uses without
 * naming them. Screenshots of each in zh-CN and en go to /tmp/shots-rights/.
 */
import { createHmac } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { apiCall, openBrowser, openPage, gotoPage } from './browser';

const baseURL = inject('baseURL');
const DEPT2_ADMIN = 'dept2.admin@segflow.demo';
const SHOTS = '/tmp/shots-rights';
const stamp = Date.now().toString(36).slice(-5);
/** Element Plus fades tags, dropdowns and dialogs in: let them settle before a screenshot. */
const settle = (page: Page) => page.waitForTimeout(500);

let root: BrowserContext;
let closeRoot: () => Promise<void>;
/** A rule of 华东大区 published by its admin, whose tag's group later needs a super admin. */
let ruleId = 0;
let ruleName = '';
/** A tag 华东大区 owns, used by a 华南大区 rule and held by 华南 contacts. */
let ownTagName = '';

const graph = (tagId: number) => ({
  schemaVersion: 1,
  nodes: [
    { id: 't', kind: 'trigger', position: { x: 0, y: 0 }, trigger: { type: 'event', eventType: 'message', filters: [] } },
    {
      id: 'c',
      kind: 'condition',
      position: { x: 300, y: 0 },
      condition: { field: 'trigger.text', op: 'contains_any', value: ['权限测试'] },
    },
    { id: 'a', kind: 'action', position: { x: 600, y: 0 }, action: { type: 'add_tag', tagId } },
  ],
  edges: [
    { id: 'e1', source: 't', target: 'c' },
    { id: 'e2', source: 'c', target: 'a', sourceHandle: 'yes' },
  ],
});

async function signedEvent(sourceId: string, secret: string, event: unknown) {
  const body = JSON.stringify(event);
  const ts = String(Math.floor(Date.now() / 1000));
  const sig = 'sha256=' + createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex');
  const res = await root.request.post(`${baseURL}/api/webhooks/${sourceId}`, {
    headers: { 'content-type': 'application/json', 'x-segflow-timestamp': ts, 'x-segflow-signature': sig },
    data: body,
  });
  // 202: queued; the intake consumer stores it (and runs the rules) shortly after
  expect(res.status()).toBe(202);
  // (a plain loop: this runs in beforeAll, where expect.poll is not allowed)
  for (let i = 0; ; i++) {
    const { stats } = await apiCall<{ stats: { total: number } }>(root, 'GET', `/event-sources/${sourceId}`);
    if (stats.total > 0) break;
    if (i === 150) throw new Error(`the event sent to ${sourceId} was not stored within 15 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  ({ context: root, close: closeRoot } = await openBrowser('zh-CN'));
  const group = await apiCall<{ id: number }>(root, 'POST', '/taxonomy/groups', { name: `权限测试组${stamp}`, applyRole: 'dept_admin' });
  const tag = await apiCall<{ id: number }>(root, 'POST', '/taxonomy/tags', {
    groupId: group.id,
    name: `权限测试标签${stamp}`,
    allowDuplicate: true,
  });

  // 华东大区's admin publishes a rule applying it
  const admin2 = await openBrowser('zh-CN', DEPT2_ADMIN);
  ruleName = `询价打标${stamp}`;
  const created = await apiCall<{ id: number; draftHash: string }>(admin2.context, 'POST', '/rules', {
    name: ruleName,
    graph: graph(tag.id),
  });
  ruleId = created.id;
  await apiCall(admin2.context, 'POST', `/rules/${ruleId}/publish`, {
    rolloutPercent: 100,
    graphHash: created.draftHash,
    expected: {},
    confirm: true,
  });

  // 华东大区 owns a group of its own, which 华南大区 uses and holds
  const own = await apiCall<{ id: number }>(admin2.context, 'POST', '/taxonomy/groups', { name: `华东自有组${stamp}`, departmentId: 2 });
  ownTagName = `华东自有标签${stamp}`;
  const ownTag = await apiCall<{ id: number }>(admin2.context, 'POST', '/taxonomy/tags', {
    groupId: own.id,
    name: ownTagName,
    allowDuplicate: true,
  });
  await admin2.close();
  await apiCall(root, 'POST', '/rules', {
    name: `华南机密规则${stamp}`,
    departmentId: 7,
    graph: {
      ...graph(0),
      nodes: [
        graph(0).nodes[0],
        { id: 'c', kind: 'condition', position: { x: 300, y: 0 }, condition: { field: 'tags', op: 'has', value: ownTag.id } },
      ],
      edges: [{ id: 'e1', source: 't', target: 'c' }],
    },
  });
  const south = await apiCall<{ items: { id: number }[] }>(root, 'GET', '/contacts?departmentId=7&pageSize=3');
  for (const c of south.items) await apiCall(root, 'POST', `/contacts/${c.id}/tags`, { add: [ownTag.id], remove: [] });

  // the group now needs a super admin: the next event pauses the rule instead of running it
  await apiCall(root, 'PATCH', `/taxonomy/groups/${group.id}`, { applyRole: 'super_admin' });
  const source = await apiCall<{ secret: string }>(root, 'POST', '/event-sources', {
    kind: 'generic',
    id: `rights-${stamp}`,
    name: '权限测试源',
  });
  await signedEvent(`rights-${stamp}`, source.secret, {
    id: `rights-${stamp}`,
    type: 'message',
    contact: { externalId: `rights_${stamp}` },
    text: '权限测试',
  });
});
afterAll(async () => closeRoot?.());

describe.each(['zh-CN', 'en'] as const)('rights on screen, in %s', (locale) => {
  let page: Page;
  let close: () => Promise<void>;
  let consoleErrors: string[];
  beforeAll(async () => {
    ({ page, close, consoleErrors } = await openPage(locale, DEPT2_ADMIN));
  });
  afterAll(async () => close?.());

  it('says on the rules list why the system paused the rule', async () => {
    await gotoPage(page, `${baseURL}/rules`);
    const row = page.locator('.rule-row', { hasText: ruleName });
    const reason = row.getByTestId('rule-paused-reason');
    await reason.waitFor();
    const text = await reason.innerText();
    expect(text).toContain(locale === 'zh-CN' ? '因权限失效由系统暂停' : 'Paused by the system: rights lost');
    expect(text).toContain(`权限测试组${stamp}`);
    expect(await row.getByTestId('rule-status').innerText()).toBe(locale === 'zh-CN' ? '已暂停' : 'Paused');
    await settle(page);
    await page.screenshot({ path: `${SHOTS}/rules-list-paused-${locale}.png` });
    // the whole story on hover: whose rights, what changed, what to do
    await reason.hover();
    const tip = page.locator('.el-popper:visible', { hasText: locale === 'zh-CN' ? '以发布人' : 'runs on the rights of its publisher' });
    await tip.waitFor();
    await settle(page);
    await page.screenshot({ path: `${SHOTS}/rules-list-tooltip-${locale}.png` });
    expect(consoleErrors).toEqual([]);
  });

  it('marks the tags of groups the admin may not apply in the action tag picker, and does not let them be chosen', async () => {
    await gotoPage(page, `${baseURL}/rules/${ruleId}`);
    await page.getByTestId('node-action').click();
    await page.getByTestId('tag-picker').click();
    await page.keyboard.type(`权限测试标签${stamp}`);
    const option = page.locator('.el-select-dropdown__item:visible', { hasText: `权限测试标签${stamp}` });
    await option.waitFor();
    expect(await option.getAttribute('class')).toContain('is-disabled');
    expect(await option.getByTestId('tag-picker-no-right').innerText()).toBe(locale === 'zh-CN' ? '无权使用' : 'Not yours to apply');
    await settle(page);
    await page.screenshot({ path: `${SHOTS}/tag-picker-${locale}.png` });
    await page.keyboard.press('Escape');
    // a group the admin may apply stays selectable
    await page.getByTestId('tag-picker').click();
    await page.keyboard.type('VIP');
    const vip = page.locator('.el-select-dropdown__item:visible', { hasText: 'VIP' }).first();
    await vip.waitFor();
    expect(await vip.getAttribute('class')).not.toContain('is-disabled');
    await page.keyboard.press('Escape');
  });

  it("counts another department's uses and holders in the retire dialog without naming them", async () => {
    await gotoPage(page, `${baseURL}/tags`);
    const row = page.getByTestId('tag-row').filter({ hasText: ownTagName });
    await row.hover();
    await row.getByTestId('tag-actions').click();
    await page.locator('[data-testid="tag-action-retire"]:visible').click();
    const dialog = page.getByTestId('retire-dialog');
    await dialog.getByTestId('usage-holders-elsewhere').waitFor();
    const text = await dialog.innerText();
    expect(text).not.toContain(`华南机密规则${stamp}`);
    expect(text).toContain(
      locale === 'zh-CN' ? '另有 1 条其他部门的规则草稿使用此标签' : 'Rule drafts of other departments using this tag: 1',
    );
    // every holder is counted for the confirmation, those outside 华东 without names
    expect(text).toMatch(locale === 'zh-CN' ? /其中 \d 位在你的部门之外/ : /\d of them are outside your departments/);
    await settle(page);
    await page.screenshot({ path: `${SHOTS}/retire-dialog-${locale}.png` });
    await page.keyboard.press('Escape');
    expect(consoleErrors).toEqual([]);
  });
});
