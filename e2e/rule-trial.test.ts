/**
 * Issue 18, "test with one contact" and run history, as a marketer uses them: pick a contact in
 * the rule editor's 试运行 tab and see each node's verdict on the canvas, the path, and the
 * actions that would fire (the same the explain endpoint says); open the 运行记录 drawer of a
 * published demo rule and see its runs with the counts its ledger holds.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import type { RuleExplainResponse } from '@shared/api/rules';
import { apiCall, gotoPage, openPage } from './browser';
import { d1Query } from './wrangler';

const baseURL = inject('baseURL');
const persistTo = inject('persistTo');

let context: BrowserContext;
let close: () => Promise<void>;
let page: Page;
let consoleErrors: string[];

beforeAll(async () => {
  ({ context, page, close, consoleErrors } = await openPage('zh-CN'));
});
afterAll(async () => close?.());

describe('Try a contact', () => {
  it('shows each node’s verdict on the canvas and the actions the explain says fire, follows an unsaved edit, then clears', async () => {
    const tags = d1Query<{ id: number; name: string }>(
      persistTo,
      `select t.id, t.name from tags t join tag_groups g on g.id = t.group_id where t.status = 'active' and g.exclusive = 0 order by t.id limit 2`,
    );
    // a contact with spend ≥ ¥1,000 (the yes path) whose name no other contact's name or remark
    // contains, so typing it finds only them (other browser tests import and add contacts)
    const [who] = d1Query<{ id: number; name: string }>(
      persistTo,
      `select c.id, c.name from contacts c where c.total_spend >= 100000 and length(c.name) >= 2
         and not exists (select 1 from contacts o where o.id <> c.id and (instr(o.name, c.name) > 0 or instr(coalesce(o.remark, ''), c.name) > 0))
       order by c.id limit 1`,
    );
    const graph = {
      schemaVersion: 1,
      nodes: [
        { id: 't', kind: 'trigger', position: { x: 0, y: 0 }, trigger: { type: 'schedule', cron: '0 3 * * *' } },
        { id: 'c', kind: 'condition', position: { x: 320, y: 0 }, condition: { field: 'totalSpend', op: 'gte', value: 100000 } },
        { id: 'yes', kind: 'action', position: { x: 640, y: -120 }, action: { type: 'add_tag', tagId: tags[0]!.id } },
        { id: 'no', kind: 'action', position: { x: 640, y: 140 }, action: { type: 'add_tag', tagId: tags[1]!.id } },
      ],
      edges: [
        { id: 'e1', source: 't', target: 'c' },
        { id: 'e2', source: 'c', target: 'yes', sourceHandle: 'yes' },
        { id: 'e3', source: 'c', target: 'no', sourceHandle: 'no' },
      ],
    };
    const { id } = await apiCall<{ id: number }>(context, 'POST', '/rules', { name: `试运行 ${Date.now()}`, graph });
    await gotoPage(page, `${baseURL}/rules/${id}`);
    await page.getByTestId('tab-trial').click();
    await page.getByTestId('trial-contact').click();
    await page.keyboard.type(who!.name);
    const exactly = new RegExp(`^${who!.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
    await page
      .locator('.el-select-dropdown__item:visible')
      .filter({ has: page.locator('.opt > span:first-child', { hasText: exactly }) })
      .first()
      .click();
    await page.getByTestId('trial-result').waitFor();
    await page.locator('[data-node-id="c"] [data-testid="node-trial"]').waitFor();

    const verdict = (nodeId: string) =>
      page.locator(`.sf-node[data-node-id="${nodeId}"] [data-testid="node-trial"]`).getAttribute('data-trial');
    expect(await verdict('t')).toBe('passed');
    expect(await verdict('c')).toBe('passed');
    expect(await verdict('yes')).toBe('passed');
    expect(await verdict('no')).toBe('unreached');
    expect(await page.locator('.sf-node[data-node-id="yes"] [data-testid="node-trial"]').innerText()).toContain('将触发');
    // the path: the yes edge is drawn as taken, the no edge faded
    expect(await page.locator('.vue-flow__edge.sf-edge-trial-on').count()).toBe(2);
    expect(await page.locator('.vue-flow__edge.sf-edge-trial-off').count()).toBe(1);

    // the actions listed are those the explain endpoint says fire for this contact
    const explained = await apiCall<Extract<RuleExplainResponse, { ok: true }>>(context, 'POST', '/rules/explain', {
      graph,
      contactId: who!.id,
    });
    expect(explained.explanation.fired).toEqual(['yes']);
    const listed = await page.getByTestId('trial-action').evaluateAll((els) => els.map((e) => e.getAttribute('data-node-id')));
    expect(listed).toEqual(explained.explanation.fired);
    expect(await page.getByTestId('trial-action').first().innerText()).toContain(tags[0]!.name);
    const gains = await page.getByTestId('trial-gain').allInnerTexts();
    expect(gains.length).toBe(explained.change.gain.length);

    // an unsaved edit is tried at once: delete the action on the yes path, nothing fires any more
    await page.locator('.sf-node[data-node-id="yes"] .sf-node-title').click();
    await page.keyboard.press('Delete');
    await page.getByTestId('tab-trial').click(); // selecting the node showed its properties
    await page.getByTestId('trial-no-actions').waitFor();
    expect(await page.locator('.sf-node[data-node-id="no"] [data-testid="node-trial"]').getAttribute('data-trial')).toBe('unreached');
    expect(await page.getByTestId('save-draft').isEnabled()).toBe(true);

    await page.getByTestId('trial-clear').click();
    expect(await page.locator('[data-testid="node-trial"]').count()).toBe(0);
    expect(await page.locator('.vue-flow__edge.sf-edge-trial-off').count()).toBe(0);
    expect(consoleErrors).toEqual([]);
  });
});

describe('Run history', () => {
  it('lists a published demo rule’s runs with the counts its ledger holds', async () => {
    const [rule] = d1Query<{ id: number; name: string }>(
      persistTo,
      `select r.id, r.name from rules r where r.status = 'published' and exists (select 1 from tag_ledger l where l.rule_id = r.id and l.batch_id like 'demo-run:%') order by r.id limit 1`,
    );
    expect(rule).toBeDefined();
    const [latest] = d1Query<{ batch_id: string; added: number; removed: number; contacts: number }>(
      persistTo,
      `select batch_id, sum(op = 'add') as added, sum(op = 'remove') as removed, count(distinct contact_id) as contacts
       from tag_ledger where rule_id = ${rule!.id} and source = 'rule' group by batch_id order by max(at) desc, batch_id desc limit 1`,
    );
    const [{ n }] = d1Query<{ n: number }>(
      persistTo,
      `select count(distinct batch_id) as n from tag_ledger where rule_id = ${rule!.id} and source = 'rule' and (batch_id like 'demo-run:%' or batch_id like 'schedule:%' or batch_id like 'publish:%')`,
    ) as [{ n: number }];
    await gotoPage(page, `${baseURL}/rules/${rule!.id}`);
    await page.getByTestId('open-runs').click();
    await page.getByTestId('run-row').first().waitFor();
    expect(await page.getByTestId('runs').innerText()).toContain(`运行记录 · ${rule!.name}`);
    const first = page.getByTestId('run-row').first();
    const num = async (id: string) => Number((await first.getByTestId(id).innerText()).replace(/[^\d]/g, ''));
    expect(await num('run-added')).toBe(latest!.added);
    expect(await num('run-removed')).toBe(latest!.removed);
    expect(await num('run-contacts')).toBe(latest!.contacts);
    expect(await first.getAttribute('data-kind')).toBe(latest!.batch_id.startsWith('publish:') ? 'publish' : 'schedule');
    expect(await page.getByTestId('run-row').count()).toBe(Math.min(20, n));
    // 90 days of weekly or daily runs: more than one page
    expect(n).toBeGreaterThan(10);
    expect(consoleErrors).toEqual([]);
  });
});
