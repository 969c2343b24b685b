import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, NOW, seedSmallWorld } from './fixtures';

// Small world (fixtures.ts): 生命周期 is exclusive (1 活跃客户, 2 沉睡客户); contact 1 (张伟)
// holds 1, 4 护肤, 5 抗老; tag 6 旧标签 is retired.
const db = env.DB;
const post = (path: string, body: unknown) =>
  api(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

beforeAll(async () => {
  await seedSmallWorld();
  await db.batch([
    db.prepare(`INSERT INTO custom_fields (key, label_zh, label_en, type) VALUES ('vip_level', '会员等级', 'VIP level', 'number')`),
    db.prepare(`UPDATE contacts SET custom = '{"vip_level": 3, "note": "x"}' WHERE id = 1`),
    db.prepare(
      `INSERT INTO events (source_id, sender_event_id, contact_id, type, occurred_at, received_at, amount, text) VALUES
       ('shop', 'e1', 1, 'purchase', ${NOW - 3600_000}, ${NOW}, 12800, null),
       ('wecom', 'e2', 1, 'message', ${NOW - 60_000}, ${NOW}, null, '有优惠吗'),
       ('wecom', 'e3', 2, 'message', ${NOW}, ${NOW}, null, 'hi')`,
    ),
    db.prepare(
      `INSERT INTO segments (id, name, graph, logic, created_at, updated_at) VALUES
       (1, '活跃人群', '{}', '{"sf_has_tag":[1]}', ${NOW}, ${NOW}),
       (2, '美妆人群', '{}', '{"sf_has_tag":[3]}', ${NOW}, ${NOW}),
       (3, '未完成的人群', '{}', 'null', ${NOW}, ${NOW})`,
    ),
  ]);
});

describe('GET /api/contacts/:id/detail', () => {
  it('returns attributes, custom fields with labels, and tag chips', async () => {
    const { status, body } = await api('/api/contacts/1/detail');
    expect(status).toBe(200);
    expect(body).toMatchObject({ id: 1, name: '张伟', department: { id: 3, name: '上海一组' }, totalSpend: 128000, hasPhone: false });
    expect(body.custom).toEqual([
      { key: 'vip_level', labelZh: '会员等级', labelEn: 'VIP level', value: 3 },
      { key: 'note', labelZh: 'note', labelEn: 'note', value: 'x' },
    ]);
    expect(body.tags.map((t: { id: number }) => t.id)).toEqual([1, 4, 5]);
    // holds 活跃客户 (1), not 美妆 (3); a segment that does not compile has no members
    expect(body.segments).toEqual([{ id: 1, name: '活跃人群' }]);
  });

  it('is a 404 for an unknown contact and a 400 for a malformed id', async () => {
    expect((await api('/api/contacts/999/detail')).status).toBe(404);
    expect((await api('/api/contacts/x/detail')).status).toBe(400);
  });
});

describe('manual tag edits and the timelines', () => {
  it('adds a tag of an exclusive group: the sibling goes, both recorded as manual in the ledger and the audit log', async () => {
    const { status, body } = await post('/api/contacts/1/tags', { add: [2, 3], remove: [5] });
    expect(status).toBe(200);
    expect(body.tags.map((t: { id: number }) => t.id)).toEqual([2, 3, 4]);
    expect(body.changes).toEqual([
      { tagId: 5, op: 'remove' },
      { tagId: 1, op: 'remove' },
      { tagId: 2, op: 'add' },
      { tagId: 3, op: 'add' },
    ]);
    const audit = await db.prepare(`SELECT object_id, before, after FROM audit_log WHERE action = 'contact.tags'`).first<any>();
    expect(audit.object_id).toBe('1');
    expect(JSON.parse(audit.before)).toEqual([1, 4, 5]);
    expect(JSON.parse(audit.after).sort()).toEqual([2, 3, 4]);
  });

  it('shows the changes newest first in the tag timeline with source and tag names', async () => {
    const { body } = await api('/api/contacts/1/tag-timeline');
    expect(body.total).toBe(4);
    expect(body.items.map((e: any) => [e.op, e.tag.name, e.source])).toEqual([
      ['add', '美妆', 'manual'],
      ['add', '沉睡客户', 'manual'],
      ['remove', '活跃客户', 'manual'],
      ['remove', '抗老', 'manual'],
    ]);
  });

  it('writes nothing for a no-op edit', async () => {
    const { body } = await post('/api/contacts/1/tags', { add: [2] });
    expect(body.changes).toEqual([]);
    expect((await api('/api/contacts/1/tag-timeline')).body.total).toBe(4);
  });

  it('refuses unknown tags, retired tags, two tags of an exclusive group, and empty or contradictory bodies', async () => {
    const unknown = await post('/api/contacts/1/tags', { add: [99] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.details).toEqual([{ path: 'add.0', message: 'no such tag' }]);
    expect((await post('/api/contacts/1/tags', { add: [6] })).status).toBe(409);
    const both = await post('/api/contacts/1/tags', { add: [1, 2] });
    expect(both.status).toBe(409);
    expect(both.body.error.message).toContain('生命周期');
    expect((await post('/api/contacts/1/tags', {})).status).toBe(400);
    expect((await post('/api/contacts/1/tags', { add: [3], remove: [3] })).status).toBe(400);
    expect((await post('/api/contacts/1/tags', { add: [3], why: 'x' })).body.error.details).toEqual([
      { path: 'why', message: 'unknown field' },
    ]);
    expect((await post('/api/contacts/999/tags', { add: [3] })).status).toBe(404);
  });

  it('lists the contact’s events newest first, and pages them', async () => {
    const { body } = await api('/api/contacts/1/events?pageSize=1');
    expect(body.total).toBe(2);
    expect(body.items).toEqual([
      { id: expect.any(Number), type: 'message', occurredAt: NOW - 60_000, amount: null, channel: null, groupId: null, text: '有优惠吗' },
    ]);
    const second = await api('/api/contacts/1/events?pageSize=1&page=2');
    expect(second.body.items[0]).toMatchObject({ type: 'purchase', amount: 12800 });
    expect((await api('/api/contacts/1/events?size=1')).status).toBe(400);
  });
});
