/**
 * Tag usage is scoped (issue 13): `GET /api/taxonomy/tags/:id/usage` names only the rules and
 * segments the caller may see and counts only the holders in their departments; what lies
 * outside is counted, never named. Retiring still confirms every holder.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TagUsage } from '@shared/api/taxonomy';
import { api, apiAs, seedSmallWorld, type TestUser } from './fixtures';

const db = env.DB;
const ADMIN2: TestUser = { id: 9202, role: 'dept_admin', departmentId: 2 };
const STAFF3: TestUser = { id: 9203, role: 'staff', departmentId: 3 };
const TAG = 3; // 美妆

const usesTag = JSON.stringify({
  schemaVersion: 1,
  nodes: [
    { id: 't', kind: 'trigger', trigger: { type: 'event', eventType: 'message', filters: [] } },
    { id: 'c', kind: 'condition', condition: { field: 'tags', op: 'has', value: TAG } },
  ],
  edges: [{ id: 'e', source: 't', target: 'c' }],
});
const empty = JSON.stringify({ schemaVersion: 1, nodes: [], edges: [] });

beforeAll(async () => {
  await seedSmallWorld();
  // holders of 美妆: 陈静 (5, 总部) already; 张伟 (1, 上海一组 under 华东) and 王芳 (3, 华南)
  await db.batch([
    db.prepare(`INSERT INTO contact_tags (contact_id, tag_id, source, added_at) VALUES (1, 3, 'manual', 0), (3, 3, 'manual', 0)`),
    db
      .prepare(
        `INSERT INTO rules (id, name, department_id, status, draft_graph, published_version, created_at, updated_at) VALUES
        (1, '华东草稿规则', 2, 'draft', ?1, NULL, 0, 0),
        (2, '华南秘密规则', 4, 'published', ?2, 1, 0, 0),
        (3, '华南草稿规则', 4, 'draft', ?1, NULL, 0, 0),
        (4, '总部规则', NULL, 'published', ?2, 1, 0, 0)`,
      )
      .bind(usesTag, empty),
    db
      .prepare(
        `INSERT INTO rule_versions (rule_id, version, graph, logic, trigger, rollout_percent, created_at, published_at) VALUES
        (2, 1, ?1, 'true', 'message', 100, 0, 0), (4, 1, ?1, 'true', 'message', 100, 0, 0)`,
      )
      .bind(usesTag),
    db
      .prepare(
        `INSERT INTO segments (id, name, department_id, graph, logic, created_at, updated_at) VALUES
        (1, '上海美妆人群', 3, ?1, 'true', 0, 0), (2, '华南秘密人群', 4, ?1, 'true', 0, 0)`,
      )
      .bind(usesTag),
  ]);
});

describe('tag usage', () => {
  it("names only the caller's rules and segments, and counts the rest without names", async () => {
    const res = await apiAs<TagUsage>(ADMIN2, `/api/taxonomy/tags/${TAG}/usage`);
    expect(res.status).toBe(200);
    expect(res.body.rules.map((r) => r.name)).toEqual(['华东草稿规则']);
    expect(res.body.rulesElsewhere).toEqual({ published: 2, draftOnly: 1 });
    expect(res.body.segments.map((s) => s.name)).toEqual(['上海美妆人群']);
    expect(res.body.segmentsElsewhere).toBe(1);
    // holders: 张伟 in scope; 王芳 and 陈静 outside
    expect(res.body.holders).toBe(1);
    expect(res.body.holdersElsewhere).toBe(2);
    const text = JSON.stringify(res.body);
    for (const secret of ['华南秘密规则', '华南草稿规则', '总部规则', '华南秘密人群']) expect(text).not.toContain(secret);
  });

  it('scopes staff to their own department subtree too', async () => {
    const res = await apiAs<TagUsage>(STAFF3, `/api/taxonomy/tags/${TAG}/usage`);
    expect(res.status).toBe(200);
    expect(res.body.rules).toEqual([]); // 华东's rule sits above 上海一组
    expect(res.body.rulesElsewhere).toEqual({ published: 2, draftOnly: 2 });
    expect(res.body.segments.map((s) => s.name)).toEqual(['上海美妆人群']);
    expect(res.body).toMatchObject({ holders: 1, holdersElsewhere: 2, segmentsElsewhere: 1 });
  });

  it('shows a super admin everything, with nothing elsewhere', async () => {
    const res = await api<TagUsage>(`/api/taxonomy/tags/${TAG}/usage`);
    expect(res.body.rules.map((r) => r.id)).toEqual([1, 2, 3, 4]);
    expect(res.body.segments).toHaveLength(2);
    expect(res.body).toMatchObject({
      holders: 3,
      holdersElsewhere: 0,
      rulesElsewhere: { published: 0, draftOnly: 0 },
      segmentsElsewhere: 0,
    });
  });
});

describe('retiring a tag other departments’ published rules use', () => {
  it('refuses with a 409 that counts those rules without naming them, and names them to a super admin', async () => {
    // a group 华东 owns and edits, whose tag 华南's published rule reads
    const uses8 = usesTag.replace(`"value":${TAG}`, '"value":8');
    await db.batch([
      db.prepare(
        `INSERT INTO tag_groups (id, name, color, exclusive, sort_order, department_id, edit_role) VALUES (3, '华东标记', '#409eff', 0, 3, 2, 'dept_admin')`,
      ),
      db.prepare(`INSERT INTO tags (id, group_id, parent_id, level, name, status) VALUES (8, 3, null, 1, '华东专属', 'active')`),
      db
        .prepare(
          `INSERT INTO rules (id, name, department_id, status, draft_graph, published_version, created_at, updated_at) VALUES (5, '华南另一条秘密规则', 4, 'published', ?1, 1, 0, 0)`,
        )
        .bind(empty),
      db
        .prepare(
          `INSERT INTO rule_versions (rule_id, version, graph, logic, trigger, rollout_percent, created_at, published_at) VALUES (5, 1, ?1, 'true', 'message', 100, 0, 0)`,
        )
        .bind(uses8),
    ]);
    const body = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({}) };
    const refused = await apiAs(ADMIN2, '/api/taxonomy/tags/8/retire', body);
    expect(refused.status).toBe(409);
    expect(JSON.stringify(refused.body)).not.toContain('华南另一条秘密规则');
    expect(refused.body.error.details).toEqual([{ path: 'rules', message: '1 published rule(s) of other departments use this tag' }]);
    const root = await api('/api/taxonomy/tags/8/retire', body);
    expect(root.status).toBe(409);
    expect(root.body.error.details).toEqual([{ path: 'rules.5', message: expect.stringContaining('华南另一条秘密规则') }]);
  });
});
