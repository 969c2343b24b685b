import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { app } from '../src/app';
import { aroundBatch, apiAs, ROOT, sessionHeaders, type TestUser } from './fixtures';

/**
 * The log tells the truth: a refused action writes no success entry. Each write that may find
 * nothing to change (someone else got there first) is raced here by committing the competing
 * change just before the route's own batch.
 */

const ANN: TestUser = { id: 7101, role: 'super_admin', departmentId: null, email: 'ann-truth@segflow.test' };
const BOB: TestUser = { id: 7102, role: 'super_admin', departmentId: null, email: 'bob-truth@segflow.test' };

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

const auditCount = async (action: string, objectId?: string) =>
  (await env.DB.prepare(`SELECT count(*) AS n FROM audit_log WHERE action = ?${objectId ? ' AND object_id = ?' : ''}`)
    .bind(...(objectId ? [action, objectId] : [action]))
    .first<number>('n'))!;

/**
 * Calls the app as ROOT with a D1 whose first batch containing `marker` is preceded by
 * `competitor` (the other request that got there first).
 */
async function racing(path: string, init: RequestInit, marker: string, competitor: () => Promise<unknown>) {
  let raced = false;
  const db = aroundBatch(env.DB, async (stmts, batch) => {
    if (
      !raced &&
      stmts.some(
        (s) => JSON.stringify(s).includes(marker) || String((s as unknown as { statement?: string }).statement ?? '').includes(marker),
      )
    ) {
      raced = true;
      await competitor();
    }
    return batch(stmts);
  });
  const headers = new Headers(init.headers);
  for (const [k, v] of Object.entries(await sessionHeaders(ROOT))) headers.set(k, v);
  const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} } as unknown as ExecutionContext;
  const res = await app.fetch(new Request(`http://segflow.test${path}`, { ...init, headers }), { ...env, DB: db }, ctx);
  return { status: res.status, raced, body: (await res.text()) || null };
}

beforeAll(async () => {
  await sessionHeaders(ANN);
  await sessionHeaders(BOB);
});

describe('a refused action writes no success entry', () => {
  it("revoking another user's session is a 404 and writes no session.revoke entry", async () => {
    const bobSession = (await sha256Hex(`test-session-${BOB.id}`)).slice(0, 16);
    const before = await auditCount('session.revoke', bobSession);
    const r = await apiAs(ANN, `/api/auth/sessions/${bobSession}`, { method: 'DELETE' });
    expect(r.status).toBe(404);
    expect(await auditCount('session.revoke', bobSession)).toBe(before);
    // Bob's session is untouched
    expect(await env.DB.prepare('SELECT revoked_at FROM sessions WHERE user_id = ?').bind(BOB.id).first('revoked_at')).toBeNull();
  });

  it('revoking a session of my own that is already revoked is a 404 without an entry; revoking a live one writes one', async () => {
    const ownId = (await sha256Hex(`test-session-${ANN.id}`)).slice(0, 16);
    // a second session of Ann's, revoked already
    const token = await sha256Hex('ann-old-session');
    await env.DB.prepare(
      'INSERT INTO sessions (token_hash, user_id, created_at, expires_at, csrf_token, revoked_at) VALUES (?, ?, 0, 9e15, ?, 1)',
    )
      .bind(token, ANN.id, 'x')
      .run();
    const gone = await apiAs(ANN, `/api/auth/sessions/${token.slice(0, 16)}`, { method: 'DELETE' });
    expect(gone.status).toBe(404);
    expect(await auditCount('session.revoke', token.slice(0, 16))).toBe(0);
    const live = await sha256Hex('ann-live-session');
    await env.DB.prepare('INSERT INTO sessions (token_hash, user_id, created_at, expires_at, csrf_token) VALUES (?, ?, 0, 9e15, ?)')
      .bind(live, ANN.id, 'y')
      .run();
    expect((await apiAs(ANN, `/api/auth/sessions/${live.slice(0, 16)}`, { method: 'DELETE' })).status).toBe(200);
    expect(await auditCount('session.revoke', live.slice(0, 16))).toBe(1);
    expect(ownId).toMatch(/^[0-9a-f]{16}$/);
  });

  it('deleting a segment someone else deleted first is a 404 with no segment.delete entry', async () => {
    await env.DB.prepare(
      `INSERT INTO segments (id, name, graph, logic, created_at, updated_at) VALUES (8801, '将被删除', '{}', 'true', 0, 0)`,
    ).run();
    const r = await racing('/api/segments/8801', { method: 'DELETE' }, 'DELETE FROM segments', () =>
      env.DB.prepare('DELETE FROM segments WHERE id = 8801').run(),
    );
    expect(r.raced).toBe(true);
    expect(r.status).toBe(404);
    expect(await auditCount('segment.delete', '8801')).toBe(0);
  });

  it('revoking an event source revoked meanwhile is a 409 with no second event_source.revoke entry', async () => {
    await env.DB.prepare(
      `INSERT INTO event_sources (id, name, kind, secret, created_at) VALUES ('truth-src', '商城', 'generic', 's', 0)`,
    ).run();
    const r = await racing(
      '/api/event-sources/truth-src/revoke',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' },
      'UPDATE event_sources SET revoked_at',
      () => env.DB.prepare(`UPDATE event_sources SET revoked_at = 1 WHERE id = 'truth-src'`).run(),
    );
    expect(r.raced).toBe(true);
    expect(r.status).toBe(409);
    expect(await auditCount('event_source.revoke', 'truth-src')).toBe(0);
  });

  it('rotating the secret of a source revoked meanwhile is a 409: no secret handed out, no rotate entry', async () => {
    await env.DB.prepare(
      `INSERT INTO event_sources (id, name, kind, secret, created_at) VALUES ('truth-rot', '商城2', 'generic', 's', 0)`,
    ).run();
    const r = await racing(
      '/api/event-sources/truth-rot/rotate',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' },
      'previous_secret = secret',
      () => env.DB.prepare(`UPDATE event_sources SET revoked_at = 1 WHERE id = 'truth-rot'`).run(),
    );
    expect(r.raced).toBe(true);
    expect(r.status).toBe(409);
    expect(r.body).not.toMatch(/"secret"/);
    expect(await auditCount('event_source.rotate', 'truth-rot')).toBe(0);
  });

  it('retiring a tag retired meanwhile is a 409 with no tag.retire entry', async () => {
    await env.DB.batch([
      env.DB.prepare(`INSERT INTO tag_groups (id, name, color, exclusive, sort_order) VALUES (8801, '真相组', '#409eff', 0, 1)`),
      env.DB.prepare(`INSERT INTO tags (id, group_id, parent_id, level, name, status) VALUES (8801, 8801, null, 1, '真相标签', 'active')`),
    ]);
    const r = await racing(
      '/api/taxonomy/tags/8801/retire',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' },
      "status = 'retired'",
      () => env.DB.prepare(`UPDATE tags SET status = 'retired', retired_at = 1 WHERE id = 8801`).run(),
    );
    expect(r.raced).toBe(true);
    expect(r.status).toBe(409);
    expect(await auditCount('tag.retire', '8801')).toBe(0);
  });
});

describe('rule status changes (worker/src/routes/rules.ts)', () => {
  it('pausing a rule someone else paused meanwhile is a 409 with no rule.pause entry', async () => {
    await env.DB.prepare(
      `INSERT INTO rules (id, name, status, draft_graph, published_version, created_at, updated_at) VALUES (8801, '真相规则', 'published', '{}', 1, 0, 0)`,
    ).run();
    const r = await racing(
      '/api/rules/8801/pause',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' },
      'UPDATE rules SET status',
      () => env.DB.prepare(`UPDATE rules SET status = 'paused' WHERE id = 8801`).run(),
    );
    expect(r.raced).toBe(true);
    expect(r.status).toBe(409);
    expect(await auditCount('rule.pause', '8801')).toBe(0);
  });
});
