import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, seedSmallWorld } from './fixtures';
import type { RuleExplainResponse } from '@shared/api/rules';

/** The why-dialog names departments and owners: "所属部门 = 上海一组 属于 [华东大区, 上海一组]", not ids. */
beforeAll(async () => {
  await seedSmallWorld();
  await env.DB.batch([
    env.DB.prepare(
      `insert into users (id, email, name, role, department_id, password_hash, created_at) values (9301, 'zl@segflow.test', '张丽', 'staff', 3, 'x', 0)`,
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
});
