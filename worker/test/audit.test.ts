import { env } from 'cloudflare:workers';
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import worker from '../src/index';
import { auditRetentionDays, DELIVERY_LOG_RETENTION_MS, purgeExpired } from '../src/cron/purge';
import { api, apiAs, seedSmallWorld } from './fixtures';

const db = env.DB;
const DAY = 86_400_000;
const json = (body: unknown, method = 'POST'): RequestInit => ({
  method,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

async function entry(
  at: number,
  action: string,
  objectType: string,
  objectId: string,
  summary: string,
  actor: number | null = null,
  ip: string | null = null,
) {
  await db
    .prepare(
      'INSERT INTO audit_log (at, actor_user_id, actor_ip, action, object_type, object_id, summary, before, after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    )
    .bind(at, actor, ip, action, objectType, objectId, summary, JSON.stringify({ n: 1 }), JSON.stringify({ n: 2 }))
    .run();
}

beforeAll(async () => {
  await seedSmallWorld();
});

afterEach(() => vi.restoreAllMocks());

describe('GET /api/audit', () => {
  it('lists a real mutation newest first with the actor joined, and its before/after in the detail', async () => {
    await db.prepare('DELETE FROM audit_log').run();
    const created = await api(
      '/api/users',
      json({ email: 'wang@segflow.test', name: '王小明', role: 'staff', departmentId: 3, password: 'long-enough-pw' }),
    );
    expect(created.status).toBe(201);
    const edited = await api(`/api/users/${created.body.id}`, json({ role: 'dept_admin' }, 'PATCH'));
    expect(edited.status).toBe(200);

    const list = await api('/api/audit?action=user.');
    expect(list.status).toBe(200);
    expect(list.body.total).toBe(2);
    expect(list.body.items.map((i: any) => i.action)).toEqual(['user.update', 'user.create']);
    const [update, create] = list.body.items;
    expect(create).toMatchObject({
      objectType: 'user',
      objectId: String(created.body.id),
      actorUserId: 9001,
      actor: { id: 9001, name: '测试用户9001' },
    });
    expect(update.at).toBeGreaterThanOrEqual(create.at);
    expect(update).not.toHaveProperty('before');

    const detail = await api(`/api/audit/${update.id}`);
    expect(detail.status).toBe(200);
    expect(detail.body.before).toMatchObject({ role: 'staff', departmentId: 3 });
    expect(detail.body.after).toMatchObject({ role: 'dept_admin', departmentId: 3 });
    // the password given at creation is never recorded
    const createDetail = await api(`/api/audit/${create.id}`);
    expect(JSON.stringify(createDetail.body)).not.toContain('long-enough-pw');
  });

  it('filters by actor, action prefix, object, time range and summary text, and pages', async () => {
    await db.prepare('DELETE FROM audit_log').run();
    const t0 = Date.UTC(2026, 10, 1);
    await apiAs({ id: 9100, role: 'staff', departmentId: 3 }, '/api/auth/me'); // a second actor row
    await entry(t0 + 1, 'rule.publish', 'rule', '7', 'Published 高价值客户 v2', 9001, '10.0.0.1');
    await entry(t0 + 2, 'rule.update', 'rule', '7', 'Saved draft of 高价值客户', 9100, '10.0.0.2');
    await entry(t0 + 3, 'segment.create', 'segment', '3', 'Created segment 沉睡 100%_off', 9001);
    await entry(t0 + 4, 'rules.weird', 'rule', '8', 'not a rule. action', 9001);
    await entry(t0 + 5, 'user.create', 'user', '12', 'Created staff a@b.c', null);

    const ids = async (query: string) => {
      const res = await api(`/api/audit?${query}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body.items.map((i: any) => i.action);
    };
    expect(await ids('')).toEqual(['user.create', 'rules.weird', 'segment.create', 'rule.update', 'rule.publish']);
    expect(await ids('actorUserId=9100')).toEqual(['rule.update']);
    // a prefix with a dot does not match `rules.`: "." and "_" are literal
    expect(await ids('action=rule.')).toEqual(['rule.update', 'rule.publish']);
    expect(await ids('action=rule')).toEqual(['rules.weird', 'rule.update', 'rule.publish']);
    expect(await ids('objectType=rule&objectId=7')).toEqual(['rule.update', 'rule.publish']);
    expect(await ids(`from=${t0 + 2}&to=${t0 + 4}`)).toEqual(['segment.create', 'rule.update']);
    expect(await ids('q=高价值')).toEqual(['rule.update', 'rule.publish']);
    expect(await ids(`q=${encodeURIComponent('100%_')}`)).toEqual(['segment.create']);
    expect(await ids(`q=${encodeURIComponent('%')}`)).toEqual(['segment.create']);

    const page2 = await api('/api/audit?pageSize=2&page=2');
    expect(page2.body).toMatchObject({ total: 5, page: 2, pageSize: 2, retentionDays: 180 });
    expect(page2.body.items.map((i: any) => i.action)).toEqual(['segment.create', 'rule.update']);

    const system = (await api('/api/audit?action=user.create')).body.items[0];
    expect(system.actor).toBeNull();
    const publish = (await api('/api/audit?action=rule.publish')).body.items[0];
    expect(publish).toMatchObject({ ip: '10.0.0.1', actor: { name: '测试用户9001', email: 'root@segflow.test' } });
  });

  it("returns each entry's params as an object (null for entries written before params), and the text search matches their values", async () => {
    await db.prepare('DELETE FROM audit_log').run();
    const t0 = Date.UTC(2026, 10, 2);
    await entry(t0 + 1, 'rule.create', 'rule', '7', 'Created a rule before params were stored', 9001);
    await db
      .prepare(
        "INSERT INTO audit_log (at, actor_user_id, action, object_type, object_id, summary, params) VALUES (?, 9001, 'rule.publish', 'rule', '7', ?, ?)",
      )
      .bind(t0 + 2, 'published version 2', JSON.stringify({ name: '复购 50%_提醒', version: 2, share: 30 }))
      .run();
    const real = await api('/api/rules', json({ name: '沉睡唤醒', graph: { schemaVersion: 1, nodes: [], edges: [] } }));
    expect(real.status, JSON.stringify(real.body)).toBe(201);

    const list = (await api('/api/audit')).body.items;
    expect(list.map((i: any) => [i.action, i.params])).toEqual([
      ['rule.create', { name: '沉睡唤醒' }],
      ['rule.publish', { name: '复购 50%_提醒', version: 2, share: 30 }],
      ['rule.create', null],
    ]);
    expect((await api(`/api/audit/${list[1].id}`)).body.params).toEqual({ name: '复购 50%_提醒', version: 2, share: 30 });

    const q = async (text: string) =>
      (await api(`/api/audit?q=${encodeURIComponent(text)}`)).body.items.map((i: any) => i.objectId + ' ' + i.action);
    // the name is only in the params of the hand-written entry, not in its summary
    expect(await q('复购')).toEqual(['7 rule.publish']);
    // literal % and _ in a value, as in the summary
    expect(await q('50%_')).toEqual(['7 rule.publish']);
    expect(await q('0%_提')).toEqual(['7 rule.publish']);
    expect(await q('沉睡')).toEqual([`${real.body.id} rule.create`]);
    // a param's key is not its value: "name" is in every entry's params, in none's values
    expect(await q('share')).toEqual([]);
    // the summary still matches
    expect(await q('before params')).toEqual(['7 rule.create']);
  });

  it('refuses bad filters with a 400 naming the parameter, and is for super admins only', async () => {
    for (const [query, path] of [
      ['objectType=planet', 'objectType'],
      ['from=abc', 'from'],
      ['from=10&to=5', 'from'],
      ['action=DROP%20TABLE', 'action'],
      ['pageSize=1000', 'pageSize'],
      ['colour=red', 'colour'],
    ]) {
      const res = await api(`/api/audit?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.error.details.map((d: any) => d.path).join(','), query).toContain(path);
    }
    expect((await api('/api/audit/999999')).status).toBe(404);
    expect((await api('/api/audit/abc')).status).toBe(400);
    expect((await apiAs({ id: 9101, role: 'dept_admin', departmentId: 2 }, '/api/audit')).status).toBe(403);
    expect((await apiAs({ id: 9102, role: 'staff', departmentId: 3 }, '/api/audit/1')).status).toBe(403);
  });
});

describe('retention', () => {
  const tick = async (at: number) => {
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: at, cron: '* * * * *' }), env, ctx);
    await waitOnExecutionContext(ctx);
  };

  it('the Cron Trigger deletes audit entries past 180 days and day-old sign-in attempts, leaving one summary entry', async () => {
    await db.batch([db.prepare('DELETE FROM audit_log'), db.prepare('DELETE FROM login_attempts')]);
    const now = Date.UTC(2026, 10, 30, 12, 0);
    await entry(now - 181 * DAY, 'rule.publish', 'rule', '1', 'old');
    await entry(now - 180 * DAY - 1, 'rule.publish', 'rule', '2', 'just past');
    await entry(now - 180 * DAY + 60_000, 'rule.publish', 'rule', '3', 'just inside');
    await entry(now - DAY, 'rule.publish', 'rule', '4', 'recent');
    await db.batch([
      db.prepare("INSERT INTO login_attempts (email, ip, ok, at) VALUES ('a@b.c', '1.1.1.1', 0, ?)").bind(now - DAY - 1),
      db.prepare("INSERT INTO login_attempts (email, ip, ok, at) VALUES ('a@b.c', '1.1.1.1', 0, ?)").bind(now - 60_000),
    ]);

    await tick(now);
    const left = await db.prepare('SELECT action, object_id, actor_user_id, summary, after FROM audit_log ORDER BY at').all<any>();
    expect(left.results.map((r) => r.object_id)).toEqual(['3', '4', 'audit_log']);
    const summary = left.results[2];
    expect(summary).toMatchObject({ action: 'audit.purge', actor_user_id: null });
    expect(JSON.parse(summary.after)).toMatchObject({ auditEntries: 2, loginAttempts: 1, retentionDays: 180 });
    expect((await db.prepare('SELECT COUNT(*) AS n FROM login_attempts').first<{ n: number }>())?.n).toBe(1);

    // nothing more to delete: no further summary entry
    await tick(now + 60_000);
    expect((await db.prepare("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'audit.purge'").first<{ n: number }>())?.n).toBe(1);
  });

  it('deletes delivered rows of the deliveries log past the queue retention, keeping failed, queued and dead ones and young ones', async () => {
    await db.batch(['audit_log', 'deliveries'].map((t) => db.prepare(`DELETE FROM ${t}`)));
    const now = Date.UTC(2026, 10, 30, 12, 0);
    const rows: [string, string, number | null][] = [
      // id, status, delivered_at
      ['old-delivered', 'delivered', now - DELIVERY_LOG_RETENTION_MS - 1], // goes
      ['young-delivered', 'delivered', now - DELIVERY_LOG_RETENTION_MS + 60_000], // the queue may still bring it: stays
      ['old-dead', 'dead', null], // on the dead-letter list: stays
      ['old-failed', 'failed', null], // the queue will try again: stays
      ['old-queued', 'queued', null], // a dead letter sent again: stays
    ];
    await db.batch(
      rows.map(([id, status, deliveredAt]) =>
        db
          .prepare(
            `INSERT INTO deliveries (id, destination_id, kind, rule_id, rule_version, node_id, contact_id, status, attempts, created_at, delivered_at)
             VALUES (?, 1, 'call_webhook', 1, 1, 'n1', 1, ?, 1, ?, ?)`,
          )
          .bind(id, status, now - 100 * DAY, deliveredAt),
      ),
    );
    const report = await purgeExpired(env, now);
    expect(report.deliveries).toBe(1);
    const left = await db.prepare('SELECT id FROM deliveries ORDER BY id').all<{ id: string }>();
    expect(left.results.map((r) => r.id)).toEqual(['old-dead', 'old-failed', 'old-queued', 'young-delivered']);
    // an operational log, like sign-in attempts: its purge alone writes no audit entry
    expect((await db.prepare("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'audit.purge'").first<{ n: number }>())?.n).toBe(0);
    expect((await purgeExpired(env, now)).deliveries).toBe(0);
  });

  it('deletes the staged rows of imports left unapplied or rolled back a week ago, keeping applied imports whole', async () => {
    await db.batch(['audit_log', 'login_attempts', 'import_rows', 'imports'].map((t) => db.prepare(`DELETE FROM ${t}`)));
    const now = Date.UTC(2026, 10, 30, 12, 0);
    const imports: [string, string, number, number | null][] = [
      // id, status, created_at, rolled_back_at
      ['a0000000-0000-4000-8000-000000000001', 'staging', now - 8 * DAY, null], // abandoned: goes
      ['a0000000-0000-4000-8000-000000000002', 'checked', now - 8 * DAY, null], // abandoned after a dry run: goes
      ['a0000000-0000-4000-8000-000000000003', 'checked', now - 6 * DAY, null], // still within the week: stays
      ['a0000000-0000-4000-8000-000000000004', 'applied', now - 300 * DAY, null], // applied: rollback reads its rows, stays
      ['a0000000-0000-4000-8000-000000000005', 'rolled_back', now - 30 * DAY, now - 8 * DAY], // rows go, summary stays
      ['a0000000-0000-4000-8000-000000000006', 'rolled_back', now - 30 * DAY, now - 2 * DAY], // rolled back recently: stays
    ];
    await db.batch(
      imports.flatMap(([id, status, created, rolledBack]) => [
        db
          .prepare(
            `INSERT INTO imports (id, status, file_name, headers, mapping, default_kind, created_at, rolled_back_at) VALUES (?, ?, 'f.csv', '[]', '[]', 'friend', ?, ?)`,
          )
          .bind(id, status, created, rolledBack),
        ...[2, 3].map((row) => db.prepare(`INSERT INTO import_rows (import_id, row, cells) VALUES (?, ?, '[]')`).bind(id, row)),
      ]),
    );

    await tick(now);
    const left = await db
      .prepare('SELECT i.id, COUNT(r.row) AS rows FROM imports i LEFT JOIN import_rows r ON r.import_id = i.id GROUP BY i.id ORDER BY i.id')
      .all<{ id: string; rows: number }>();
    expect(left.results.map((r) => [r.id.slice(-1), r.rows])).toEqual([
      ['3', 2],
      ['4', 2],
      ['5', 0],
      ['6', 2],
    ]);
    const summary = await db.prepare(`SELECT after FROM audit_log WHERE action = 'audit.purge'`).first<{ after: string }>();
    expect(JSON.parse(summary!.after)).toMatchObject({ importRows: 6, abandonedImports: 2, auditEntries: 0 });
    // nothing left to delete: no second summary
    await tick(now + 60_000);
    expect((await db.prepare("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'audit.purge'").first<{ n: number }>())?.n).toBe(1);
  });

  it('follows AUDIT_RETENTION_DAYS, and a bad value falls back to 180 with a warning', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    expect(auditRetentionDays({ ...env, AUDIT_RETENTION_DAYS: '30' } as Env)).toBe(30);
    expect(warn).not.toHaveBeenCalled();
    for (const bad of ['abc', '0', '-5', '1.5', '1e3', ' ']) {
      expect(auditRetentionDays({ ...env, AUDIT_RETENTION_DAYS: bad } as Env), bad).toBe(180);
    }
    expect(warn).toHaveBeenCalledTimes(6);
    expect(String(warn.mock.calls[0]![0])).toContain('AUDIT_RETENTION_DAYS');
    // the configured value, as wrangler.toml sets it
    expect(auditRetentionDays(env)).toBe(180);

    await db.prepare('DELETE FROM audit_log').run();
    const now = Date.UTC(2026, 10, 30, 12, 0);
    await entry(now - 31 * DAY, 'rule.publish', 'rule', '1', 'past 30 days');
    await entry(now - 29 * DAY, 'rule.publish', 'rule', '2', 'within 30 days');
    const report = await purgeExpired({ ...env, AUDIT_RETENTION_DAYS: '30' } as Env, now);
    expect(report.auditEntries).toBe(1);
    const left = await db.prepare('SELECT object_id FROM audit_log ORDER BY at').all<{ object_id: string }>();
    expect(left.results.map((r) => r.object_id)).toEqual(['2', 'audit_log']);
  });
});
