import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, apiAs, seedSmallWorld } from './fixtures';
import type { RuleExplainResponse } from '@shared/api/rules';

/** The why-dialog names departments and owners: "所属部门 = 上海一组 属于 [华东大区, 上海一组]", not ids. */
beforeAll(async () => {
  await seedSmallWorld();
  await env.DB.batch([
    env.DB.prepare(
      `insert into users (id, email, name, role, department_id, password_hash, created_at) values (9301, 'zl@segflow.test', '张丽', 'staff', 3, 'x', 0)`,
    ),
    env.DB.prepare(
      `insert into users (id, email, name, role, department_id, password_hash, created_at) values (9302, 'hn@segflow.test', '华南经理', 'staff', 4, 'x', 0)`,
    ),
    env.DB.prepare('update contacts set owner_user_id = 9301 where id = 1'),
  ]);
});

const graph = {
  schemaVersion: 1,
  nodes: [
    { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } },
    { id: 'd', kind: 'condition', condition: { field: 'departmentId', op: 'in', value: [2, 3] } },
    { id: 'o', kind: 'condition', condition: { field: 'ownerUserId', op: 'eq', value: 9301 } },
    { id: 'a', kind: 'action', action: { type: 'add_tag', tagId: 3 } },
  ],
  edges: [
    { id: 'e1', source: 't', target: 'd' },
    { id: 'e2', source: 'd', target: 'o', sourceHandle: 'yes' },
    { id: 'e3', source: 'o', target: 'a', sourceHandle: 'yes' },
  ],
};

describe('why-dialog names', () => {
  it('says department and owner names where the rule and the contact hold ids', async () => {
    const res = await api<RuleExplainResponse>('/api/rules/explain', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ graph, contactId: 1 }),
    });
    expect(res.status).toBe(200);
    if (!res.body.ok) throw new Error('not ok');
    const [dept, owner] = res.body.explanation.conditions;
    expect(dept!.text.zh).toBe('所属部门 = 上海一组 属于 [华东大区, 上海一组] ✓');
    expect(dept!.text.en).toBe('Department = 上海一组 is one of [华东大区, 上海一组] ✓');
    expect(owner!.text.zh).toBe('负责人 = 张丽 = 张丽 ✓');
    expect(res.body.explanation.fired).toEqual(['a']);
  });

  it('names only what the caller may see: another department and its people stay ids for a department admin', async () => {
    const shanghaiAdmin = { id: 9303, role: 'dept_admin' as const, departmentId: 3 };
    const probe = {
      ...graph,
      nodes: graph.nodes.map((n) =>
        n.id === 'd'
          ? { ...n, condition: { field: 'departmentId', op: 'in', value: [3, 4] } }
          : n.id === 'o'
            ? { ...n, condition: { field: 'ownerUserId', op: 'in', value: [9301, 9302] } }
            : n,
      ),
    };
    const res = await apiAs<RuleExplainResponse>(shanghaiAdmin, '/api/rules/explain', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ graph: probe, contactId: 1 }),
    });
    expect(res.status).toBe(200);
    if (!res.body.ok) throw new Error('not ok');
    const [dept, owner] = res.body.explanation.conditions;
    // its own department and the contact's owner by name; 华南大区 and its manager not
    expect(dept!.text.zh).toContain('上海一组');
    expect(dept!.text.zh).not.toContain('华南大区');
    expect(owner!.text.zh).toContain('张丽');
    expect(owner!.text.zh).not.toContain('华南经理');
    // a super admin sees every name
    const root = await api<RuleExplainResponse>('/api/rules/explain', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ graph: probe, contactId: 1 }),
    });
    if (!root.body.ok) throw new Error('not ok');
    expect(root.body.explanation.conditions[0]!.text.zh).toContain('华南大区');
    expect(root.body.explanation.conditions[1]!.text.zh).toContain('华南经理');
  });
});
