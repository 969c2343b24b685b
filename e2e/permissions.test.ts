import { afterAll, describe, expect, inject, it } from 'vitest';
import { apiCall, openBrowser, gotoPage } from './browser';
import { d1Query } from './wrangler';

const baseURL = inject('baseURL');
const persistTo = inject('persistTo');

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closers) await close();
});

async function signedIn(email: string) {
  const b = await openBrowser('zh-CN', email);
  closers.push(b.close);
  return b.context;
}

describe('roles in the screens and the API', () => {
  it('offers 新建规则 and 新建分群 only to roles that may create them: staff see no create button and the API refuses them', async () => {
    const staff = await signedIn('staff3.1@segflow.demo');
    const page = await staff.newPage();
    for (const [path, button, table] of [
      ['/rules', 'create-rule', 'rules-table'],
      ['/segments', 'create-segment', 'segments-table'],
    ] as const) {
      await gotoPage(page, `${baseURL}${path}`);
      await page.getByTestId(table).waitFor();
      expect(await page.getByTestId(button).count(), path).toBe(0);
    }
    await expect(apiCall(staff, 'POST', '/rules', { name: '实习生的规则' })).rejects.toThrow(/403/);

    const admin = await signedIn('dept2.admin@segflow.demo');
    const adminPage = await admin.newPage();
    await gotoPage(adminPage, `${baseURL}/rules`);
    await adminPage.getByTestId('create-rule').waitFor();
  });

  it('staff cannot edit a protected tag group: no edit controls in the UI, and a 403 from the API', async () => {
    const context = await signedIn('staff3.1@segflow.demo');
    const [group] = d1Query<{ id: number; name: string }>(
      persistTo,
      "select id, name from tag_groups where edit_role = 'super_admin' order by id limit 1",
    );
    expect(group).toBeDefined();
    const page = await context.newPage();
    await gotoPage(page, `${baseURL}/tags`);
    const section = page.locator('[data-testid=tag-group]', { hasText: group!.name });
    await section.waitFor();
    expect(await page.getByTestId('tags-readonly').count()).toBe(1);
    expect(await section.getByTestId('group-edit').count()).toBe(0);
    expect(await section.getByTestId('tag-actions').count()).toBe(0);
    expect(await page.getByTestId('new-group').count()).toBe(0);

    const before = d1Query<{ description: string | null }>(persistTo, `select description from tag_groups where id = ${group!.id}`)[0];
    await expect(apiCall(context, 'PATCH', `/taxonomy/groups/${group!.id}`, { description: '实习生改的' })).rejects.toThrow(/403/);
    expect(d1Query(persistTo, `select description from tag_groups where id = ${group!.id}`)[0]).toEqual(before);
  });

  it('新建标签 is disabled with its reason while a department admin has no group to add to, and enabled once they have one', async () => {
    // 华北's admin: no demo group is in their department (demo groups are company-wide and protected)
    const context = await signedIn('dept10.admin@segflow.demo');
    const page = await context.newPage();
    await gotoPage(page, `${baseURL}/tags`);
    await page.getByTestId('tag-group').first().waitFor();
    expect(await page.getByTestId('new-tag').isDisabled()).toBe(true);
    await page.getByTestId('new-tag-wrap').hover();
    await expect
      .poll(() => page.locator('.el-popper').filter({ hasText: '受保护的标签组只有超级管理员能添加标签' }).isVisible())
      .toBe(true);

    await apiCall(context, 'POST', '/taxonomy/groups', { name: `华北自建组${Date.now()}` });
    await gotoPage(page, `${baseURL}/tags`);
    await page.getByTestId('tag-group').first().waitFor();
    expect(await page.getByTestId('new-tag').isEnabled()).toBe(true);
  });

  it('staff open a rule read only: nothing to save or publish, no palette, nodes stay put, Delete removes nothing', async () => {
    const staff = await signedIn('staff14.1@segflow.demo');
    const { items } = await apiCall<{ items: { id: number }[] }>(staff, 'GET', '/rules');
    expect(items.length).toBeGreaterThan(0);
    const page = await staff.newPage();
    await gotoPage(page, `${baseURL}/rules/${items[0]!.id}`);
    await page.getByTestId('read-only').waitFor();
    expect(await page.getByTestId('read-only').innerText()).toBe('只读');
    for (const id of ['save-draft', 'publish', 'palette', 'quick-add-open', 'undo', 'auto-layout', 'toggle-palette'])
      expect(await page.getByTestId(id).count(), id).toBe(0);
    const nodes = page.locator('.vue-flow__node');
    await nodes.first().waitFor();
    const count = await nodes.count();
    expect(count).toBeGreaterThan(1);
    const node = nodes.first();
    // a drag pans the canvas at most: the node keeps its place relative to the others
    const offset = async () => {
      const [a, b] = [(await node.boundingBox())!, (await nodes.nth(1).boundingBox())!];
      return { x: a.x - b.x, y: a.y - b.y };
    };
    const before = await offset();
    const box = (await node.boundingBox())!;
    await page.mouse.move(box.x + 40, box.y + 15);
    await page.mouse.down();
    await page.mouse.move(box.x + 200, box.y + 140, { steps: 8 });
    await page.mouse.up();
    const after = await offset();
    expect(Math.abs(after.x - before.x) + Math.abs(after.y - before.y)).toBeLessThan(2);
    // selected, it shows in the inspector, which takes no input; Delete and Ctrl+Z change nothing
    await node.click();
    await page.getByTestId('inspector-read-only').waitFor();
    expect(await page.getByTestId('inspector').getAttribute('inert')).not.toBeNull();
    expect(await page.getByTestId('delete-node').isVisible()).toBe(false);
    await page.keyboard.press('Delete');
    await page.keyboard.press('Control+z');
    expect(await nodes.count()).toBe(count);
    expect(await page.getByTestId('dirty').count()).toBe(0);
    // trying a contact is still theirs
    await page.getByTestId('tab-trial').click();
    await page.getByTestId('tab-trial').waitFor();
  });

  it('a department admin sees only their department’s contacts; another department’s contact is not found', async () => {
    const context = await signedIn('dept7.admin@segflow.demo'); // 华南大区
    const [mine] = d1Query<{ n: number }>(
      persistTo,
      "select count(*) as n from contacts where department_id in (select id from departments where path like (select path from departments where id = 7) || '%')",
    );
    const [all] = d1Query<{ n: number }>(persistTo, 'select count(*) as n from contacts');
    expect(mine!.n).toBeGreaterThan(0);
    expect(mine!.n).toBeLessThan(all!.n);
    const page = await context.newPage();
    await gotoPage(page, `${baseURL}/contacts`);
    await expect.poll(async () => Number((await page.getByTestId('contacts-total').innerText()).replace(/[^\d]/g, ''))).toBe(mine!.n);
    expect(await page.getByTestId('current-user').innerText()).toContain('部门管理员');

    const [other] = d1Query<{ id: number }>(
      persistTo,
      "select id from contacts where department_id in (select id from departments where path like '/1/2/%') limit 1",
    );
    await expect(apiCall(context, 'GET', `/contacts/${other!.id}/detail`)).rejects.toThrow(/404/);
    await gotoPage(page, `${baseURL}/contacts/${other!.id}`);
    await page.getByTestId('contact-not-found').waitFor();
    expect(await page.getByTestId('contact-detail-name').count()).toBe(0);
  });
});
