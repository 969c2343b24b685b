import { env } from 'cloudflare:workers';
import { beforeEach, describe, expect, it } from 'vitest';
import { api, seedSmallWorld } from './fixtures';

/**
 * Rolling back a rule's tagging run can pause the rule in the same batch, so its next scheduled
 * run does not tag the same people again.
 */
const db = env.DB;
const json = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
let ruleId = 500;

beforeEach(async () => {
  if (!(await db.prepare('SELECT 1 FROM departments WHERE id = 1').first())) await seedSmallWorld();
  ruleId++;
  const at = Date.now() - 60_000;
  await db.batch([
    db
      .prepare(
        `INSERT INTO rules (id, name, status, draft_graph, published_version, created_at, updated_at) VALUES (?, ?, 'published', '{}', 1, 0, 0)`,
      )
      .bind(ruleId, `每日打标${ruleId}`),
    db
      .prepare(
        `INSERT INTO rule_versions (rule_id, version, graph, logic, trigger, created_at) VALUES (?, 1, '{}', 'true', '{"type":"schedule","cron":"0 9 * * *"}', 0)`,
      )
      .bind(ruleId),
    // the run tagged contacts 3 and 4 with 美妆 (tag 3)
    db
      .prepare(`INSERT OR REPLACE INTO contact_tags (contact_id, tag_id, source, added_at) VALUES (3, 3, 'rule', ?), (4, 3, 'rule', ?)`)
      .bind(at, at),
    db
      .prepare(
        `INSERT INTO tag_ledger (contact_id, tag_id, op, source, rule_id, rule_version, batch_id, at) VALUES (3, 3, 'add', 'rule', ?1, 1, ?2, ?3), (4, 3, 'add', 'rule', ?1, 1, ?2, ?3)`,
      )
      .bind(ruleId, `run-${ruleId}`, at),
  ]);
});

const status = async () => (await db.prepare('SELECT status FROM rules WHERE id = ?').bind(ruleId).first<string>('status'))!;
const entries = async (action: string) =>
  (await db
    .prepare(`SELECT count(*) AS n FROM audit_log WHERE action = ? AND object_id = ?`)
    .bind(action, String(ruleId))
    .first<number>('n'))!;

describe('rolling back a rule version with pauseRule', () => {
  it('the preview names the rule and its status', async () => {
    const p = await api('/api/rollbacks/preview', json({ kind: 'rule_version', ruleId, version: 1 }));
    expect(p.status).toBe(200);
    expect(p.body.rule).toEqual({ id: ruleId, name: `每日打标${ruleId}`, status: 'published' });
    expect(p.body.remove).toBe(2);
  });

  it('pauses the published rule in the same batch, with its rule.pause entry', async () => {
    const r = await api('/api/rollbacks', json({ kind: 'rule_version', ruleId, version: 1, confirm: { count: 2 }, pauseRule: true }));
    expect(r.status).toBe(201);
    expect(r.body.pausedRule).toEqual({ id: ruleId, name: `每日打标${ruleId}` });
    expect(await status()).toBe('paused');
    expect(await entries('rule.pause')).toBe(1);
    const pause = await db
      .prepare(`SELECT actor_user_id, params FROM audit_log WHERE action = 'rule.pause' AND object_id = ?`)
      .bind(String(ruleId))
      .first<{ actor_user_id: number; params: string }>();
    expect(JSON.parse(pause!.params)).toEqual({ name: `每日打标${ruleId}`, fromStatus: 'published', toStatus: 'paused' });
    // the tags are gone too
    expect(await db.prepare('SELECT count(*) AS n FROM contact_tags WHERE tag_id = 3 AND contact_id IN (3, 4)').first<number>('n')).toBe(0);
  });

  it('without pauseRule the rule stays published (and no pause entry)', async () => {
    const r = await api('/api/rollbacks', json({ kind: 'rule_version', ruleId, version: 1, confirm: { count: 2 } }));
    expect(r.status).toBe(201);
    expect(r.body.pausedRule).toBeNull();
    expect(await status()).toBe('published');
    expect(await entries('rule.pause')).toBe(0);
  });

  it('a rule already paused is left as it is: no second pause entry', async () => {
    await db.prepare(`UPDATE rules SET status = 'paused' WHERE id = ?`).bind(ruleId).run();
    const r = await api('/api/rollbacks', json({ kind: 'rule_version', ruleId, version: 1, confirm: { count: 2 }, pauseRule: true }));
    expect(r.status).toBe(201);
    expect(r.body.pausedRule).toBeNull();
    expect(await entries('rule.pause')).toBe(0);
  });

  it('if the rollback fails, the rule is not paused either (one batch)', async () => {
    const r = await api('/api/rollbacks', json({ kind: 'rule_version', ruleId, version: 1, confirm: { count: 1 }, pauseRule: true }));
    expect(r.status).toBe(409);
    expect(await status()).toBe('published');
  });

  it('pauseRule is refused on other kinds, naming the field', async () => {
    const r = await api('/api/rollbacks', json({ kind: 'to_time', at: Date.now() - 1000, confirm: { count: 0 }, pauseRule: true }));
    expect(r.status).toBe(400);
    expect(r.body.error.details.map((d: { path: string }) => d.path)).toContain('pauseRule');
  });
});
