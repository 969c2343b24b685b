import { env, exports } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { dayNumber } from '@shared/time';
import { bucketOf } from '@shared/domain';
import { eventually, runIntake, intakeMessage, untilStored, webhookSignature } from './fixtures';
import { SOURCE_CACHE_MS } from '../src/ingest/source-cache';

/** The signing scheme a sender implements, written out independently of the worker's code. */
const sign = webhookSignature;

const SECRET = 'test-secret-1';

async function post(path: string, body: string, opts: { secret?: string; ts?: number; headers?: Record<string, string | null> } = {}) {
  const ts = String(opts.ts ?? Math.floor(Date.now() / 1000));
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'X-Segflow-Timestamp': ts,
    'X-Segflow-Signature': await sign(opts.secret ?? SECRET, ts, body),
  };
  for (const [k, v] of Object.entries(opts.headers ?? {})) {
    if (v === null) delete headers[k];
    else headers[k] = v;
  }
  const res = await exports.default.fetch(new Request(`http://segflow.test${path}`, { method: 'POST', headers, body }));
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const send = (events: unknown, opts = {}) => post('/api/webhooks/shop', JSON.stringify(events), opts);

const one = (id: string, ext: string, extra: Record<string, unknown> = {}) => ({
  id,
  type: 'message',
  occurredAt: Date.now() - 60_000,
  contact: { externalId: ext },
  text: '你好',
  ...extra,
});

async function count(sql: string, ...params: unknown[]): Promise<number> {
  const row = await env.DB.prepare(sql)
    .bind(...params)
    .first<{ n: number }>();
  return row?.n ?? 0;
}
const contact = (ext: string) => env.DB.prepare('SELECT * FROM contacts WHERE external_id = ?').bind(ext).first<Record<string, any>>();

beforeAll(async () => {
  await env.DB.batch([
    env.DB.prepare(`INSERT INTO event_sources (id, name, kind, secret) VALUES ('shop', '商城', 'generic', ?)`).bind(SECRET),
    env.DB.prepare(`INSERT INTO event_sources (id, name, kind, secret) VALUES ('old', '旧系统', 'generic', 'old-secret')`),
    env.DB.prepare(
      `INSERT INTO event_sources (id, name, kind, secret, wecom_token, wecom_aes_key) VALUES ('wx', '企微', 'wecom', 'x', 't', 'k')`,
    ),
  ]);
});

describe('generic webhook: signatures', () => {
  it('queues an event signed over timestamp + "." + body (202 with its id), and the consumer creates the contact', async () => {
    const r = await send(one('s-1', 'u_sig'));
    expect(r).toEqual({ status: 202, body: { queued: ['s-1'] } });
    await untilStored('shop', ['s-1']);
    const c = await contact('u_sig');
    expect(c).toMatchObject({ kind: 'friend', name: 'u_sig', message_count: 1, bucket: bucketOf('u_sig') });
  });

  it('rejects a webhook whose signature does not match the body', async () => {
    const body = JSON.stringify(one('s-2', 'u_sig2'));
    const ts = String(Math.floor(Date.now() / 1000));
    const r = await post('/api/webhooks/shop', body, {
      headers: { 'X-Segflow-Signature': await sign(SECRET, ts, body + ' '), 'X-Segflow-Timestamp': ts },
    });
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('invalid_signature');
    expect(r.body.error.details[0].path).toBe('X-Segflow-Signature');
    expect(await contact('u_sig2')).toBeNull();
  });

  it('rejects a webhook signed with another secret', async () => {
    const r = await send(one('s-3', 'u_sig3'), { secret: 'not-the-secret' });
    expect(r.status).toBe(401);
    expect(r.body.error.message).toContain('does not match');
  });

  it('rejects a webhook whose signature is older than 5 minutes', async () => {
    const r = await send(one('s-4', 'u_sig4'), { ts: Math.floor(Date.now() / 1000) - 301 });
    expect(r.status).toBe(401);
    expect(r.body.error.details[0].path).toBe('X-Segflow-Timestamp');
    expect(r.body.error.message).toMatch(/at most 300 s/);
  });

  it('rejects a webhook whose timestamp is more than 5 minutes in the future', async () => {
    const r = await send(one('s-5', 'u_sig5'), { ts: Math.floor(Date.now() / 1000) + 301 });
    expect(r.status).toBe(401);
  });

  it('accepts a signature 4 minutes old', async () => {
    const r = await send(one('s-6', 'u_sig6'), { ts: Math.floor(Date.now() / 1000) - 240 });
    expect(r.status).toBe(202);
  });

  it('rejects a webhook without a signature or timestamp header, naming the header', async () => {
    const a = await send(one('s-7', 'u_sig7'), { headers: { 'X-Segflow-Signature': null } });
    expect(a.status).toBe(401);
    expect(a.body.error.details[0].path).toBe('X-Segflow-Signature');
    const b = await send(one('s-7', 'u_sig7'), { headers: { 'X-Segflow-Timestamp': null } });
    expect(b.status).toBe(401);
    expect(b.body.error.details[0].path).toBe('X-Segflow-Timestamp');
    const c = await send(one('s-7', 'u_sig7'), { headers: { 'X-Segflow-Signature': 'md5=abc' } });
    expect(c.status).toBe(401);
    expect(await contact('u_sig7')).toBeNull();
  });
});

describe('generic webhook: sources', () => {
  it('answers 404 for an unknown source', async () => {
    const r = await post('/api/webhooks/nope', JSON.stringify(one('x', 'y')));
    expect(r.status).toBe(404);
    expect(r.body.error.message).toContain('nope');
  });

  it('stores nothing a source sends after a revocation made elsewhere, and refuses it once the cached source row expires', async () => {
    expect((await post('/api/webhooks/old', JSON.stringify(one('o-1', 'u_old')), { secret: 'old-secret' })).status).toBe(202);
    await untilStored('old', ['o-1']);
    const revokedAt = Date.now();
    await env.DB.prepare(`UPDATE event_sources SET revoked_at = ? WHERE id = 'old'`).bind(revokedAt).run();
    // revoked by another isolate (straight in D1): this one still trusts its copy of the source, read for o-1 just now — accepted, never stored
    const late = await post('/api/webhooks/old', JSON.stringify(one('o-2', 'u_old')), { secret: 'old-secret' });
    expect(late.status).toBe(202);
    const letter = await eventually('o-2 dead-lettered', () =>
      env.DB.prepare(`SELECT reason, source_id FROM intake_dead_letters WHERE event_ids = '["o-2"]'`).first<{ reason: string }>(),
    );
    expect(letter.reason).toContain('revoked');
    expect(await count(`SELECT COUNT(*) AS n FROM events WHERE source_id = 'old'`)).toBe(1);
    await new Promise((r) => setTimeout(r, SOURCE_CACHE_MS));
    const r = await post('/api/webhooks/old', JSON.stringify(one('o-3', 'u_old')), { secret: 'old-secret' });
    expect(r.status).toBe(403);
    expect(r.body.error.message).toContain('revoked');
  });

  it('stores the events a source accepted before its revocation', async () => {
    await env.DB.prepare(`INSERT INTO event_sources (id, name, kind, secret, revoked_at) VALUES ('gone', 'g', 'generic', 's', ?)`)
      .bind(Date.now())
      .run();
    const before = intakeMessage('gone', one('g-1', 'u_gone'), Date.now() - 10_000);
    const after = intakeMessage('gone', one('g-2', 'u_gone'), Date.now() + 1);
    const r = await runIntake([before, after]);
    expect(r.acked).toEqual([0, 1]);
    expect(await count(`SELECT COUNT(*) AS n FROM events WHERE source_id = 'gone'`)).toBe(1);
    expect(await count(`SELECT COUNT(*) AS n FROM intake_dead_letters WHERE source_id = 'gone' AND event_ids = '["g-2"]'`)).toBe(1);
  });

  it('sends a WeCom source to its own endpoint', async () => {
    const r = await post('/api/webhooks/wx', JSON.stringify(one('w-1', 'u_w')), { secret: 'x' });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toContain('/api/webhooks/wecom/wx');
  });
});

describe('generic webhook: bad input is a 4xx naming the problem', () => {
  it('rejects malformed JSON', async () => {
    const r = await post('/api/webhooks/shop', '{"id": "a",');
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('invalid_json');
  });

  it('rejects an empty body', async () => {
    const r = await post('/api/webhooks/shop', '');
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('invalid_json');
  });

  it('rejects wrong types, naming each field', async () => {
    const r = await send({
      events: [
        one('t-1', 'u_t'),
        { ...one('t-2', 'u_t'), type: 'purchase', amount: '12.5' },
        { ...one('t-3', 'u_t'), occurredAt: 'yesterday' },
      ],
    });
    expect(r.status).toBe(400);
    const paths = r.body.error.details.map((d: { path: string }) => d.path);
    expect(paths).toEqual(['events.1.amount', 'events.2.occurredAt']);
    expect(await contact('u_t')).toBeNull();
  });

  it('rejects an unknown event type with the list of known ones', async () => {
    const r = await send({ ...one('t-4', 'u_t'), type: 'purchased' });
    expect(r.status).toBe(400);
    expect(r.body.error.details[0].path).toBe('type');
    expect(r.body.error.message).toContain('purchase');
  });

  it('rejects unknown fields instead of ignoring them', async () => {
    const r = await send({ ...one('t-5', 'u_t'), ammount: 100, contact: { externalId: 'u_t', nmae: 'x' } });
    expect(r.status).toBe(400);
    const paths = r.body.error.details.map((d: { path: string }) => d.path).sort();
    expect(paths).toEqual(['ammount', 'contact.nmae']);
  });

  it('rejects fractional fen and negative amounts', async () => {
    const r = await send({ ...one('t-6', 'u_t'), type: 'purchase', amount: 9.99 });
    expect(r.status).toBe(400);
    expect(r.body.error.details[0]).toMatchObject({ path: 'amount' });
  });

  it('rejects an event dated in the future', async () => {
    const r = await send({ ...one('t-7', 'u_t'), occurredAt: Date.now() + 3_600_000 });
    expect(r.status).toBe(400);
    expect(r.body.error.details[0]).toMatchObject({ path: 'occurredAt', message: 'is in the future' });
  });

  it('rejects a batch over 500 events and an empty batch', async () => {
    const many = Array.from({ length: 501 }, (_, i) => one(`b-${i}`, 'u_many'));
    const r = await send({ events: many });
    expect(r.status).toBe(400);
    expect(r.body.error.details[0].path).toBe('events');
    expect((await send({ events: [] })).status).toBe(400);
  });

  it('rejects a body over 1 MiB with 413', async () => {
    const r = await send({ ...one('t-8', 'u_t'), properties: { blob: 'x'.repeat(1_100_000) } });
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe('payload_too_large');
  });

  it('applies nothing of a batch with one bad event', async () => {
    const r = await send({ events: [one('h-1', 'u_half'), one('h-2', 'u_half'), { ...one('h-3', 'u_half'), type: 'nope' }] });
    expect(r.status).toBe(400);
    expect(r.body.error.details[0].path).toBe('events.2.type');
    expect(await contact('u_half')).toBeNull();
    expect(await count(`SELECT COUNT(*) AS n FROM events WHERE sender_event_id LIKE 'h-%'`)).toBe(0);
  });

  it('rejects a JSON array or scalar body', async () => {
    const r = await post('/api/webhooks/shop', '[1,2]');
    expect(r.status).toBe(400);
    expect(r.body.error.details[0].path).toBe('body');
  });
});

describe('generic webhook: dedupe', () => {
  it('acknowledges a replayed event as a duplicate and changes nothing', async () => {
    const e = { ...one('d-1', 'u_dup'), type: 'purchase', amount: 12_900 };
    expect((await send(e)).status).toBe(202);
    await untilStored('shop', ['d-1']);
    const before = await contact('u_dup');
    // the sender's retry, as the queue delivers it to the consumer: acked, nothing changed
    const again = await runIntake([intakeMessage('shop', e)]);
    expect(again).toMatchObject({ acked: [0], retried: [] });
    expect(await contact('u_dup')).toEqual(before);
    expect(await count(`SELECT COUNT(*) AS n FROM events WHERE sender_event_id = 'd-1'`)).toBe(1);
    expect(
      await count(`SELECT SUM(count) AS n FROM contact_daily_stats s JOIN contacts c ON c.id = s.contact_id WHERE c.external_id = 'u_dup'`),
    ).toBe(1);
  });

  it('counts an event repeated inside one batch once', async () => {
    const r = await send({ events: [one('d-2', 'u_dup2'), one('d-3', 'u_dup2'), one('d-2', 'u_dup2')] });
    expect(r).toEqual({ status: 202, body: { queued: ['d-2', 'd-3', 'd-2'] } });
    await untilStored('shop', ['d-2', 'd-3']);
    expect((await contact('u_dup2'))?.message_count).toBe(2);
  });

  it('mixes new and already-seen events in one batch', async () => {
    await send(one('d-4', 'u_dup3'));
    await untilStored('shop', ['d-4']);
    // both events of the request are one batch of the queue: when d-5 is stored, d-4's replay was run with it
    expect((await send({ events: [one('d-4', 'u_dup3'), one('d-5', 'u_dup3')] })).status).toBe(202);
    await untilStored('shop', ['d-5']);
    expect((await contact('u_dup3'))?.message_count).toBe(2);
  });

  it('stores each event once when the same batch arrives concurrently', async () => {
    const batch = { events: Array.from({ length: 40 }, (_, i) => ({ ...one(`c-${i}`, `u_con${i % 4}`), type: 'purchase', amount: 100 })) };
    const rs = await Promise.all(Array.from({ length: 5 }, () => send(batch)));
    expect(rs.every((r) => r.status === 202 && r.body.queued.length === 40)).toBe(true);
    await untilStored(
      'shop',
      batch.events.map((e) => e.id),
    );
    // the other copies must change nothing: give the queue time to deliver them all (batches of 100 after 1 s at most)
    await new Promise((r) => setTimeout(r, 2_500));
    expect(await count(`SELECT COUNT(*) AS n FROM events WHERE sender_event_id LIKE 'c-%'`)).toBe(40);
    expect(await count(`SELECT SUM(purchase_count) AS n FROM contacts WHERE external_id LIKE 'u_con%'`)).toBe(40);
    expect(await count(`SELECT SUM(total_spend) AS n FROM contacts WHERE external_id LIKE 'u_con%'`)).toBe(4000);
  });
});

describe('generic webhook: contacts, aggregates and the daily rollup', () => {
  it('maintains aggregates and the Shanghai-day rollup in the same batch as the event', async () => {
    // 2026-03-01 23:30 Shanghai = 15:30 UTC: Shanghai's March 1st.
    const late = Date.UTC(2026, 2, 1, 15, 30);
    const early = Date.UTC(2026, 2, 1, 16, 30); // 00:30 on March 2nd in Shanghai
    const r = await send({
      events: [
        {
          id: 'a-1',
          type: 'purchase',
          occurredAt: late,
          amount: 19_900,
          channel: '小程序',
          contact: { externalId: 'u_agg', name: '赵敏', kind: 'wecom_customer', region: '上海' },
        },
        { id: 'a-2', type: 'purchase', occurredAt: early, amount: 100, contact: { externalId: 'u_agg' } },
        { id: 'a-3', type: 'invite', occurredAt: early, groupId: 'g1', contact: { externalId: 'u_agg' } },
        { id: 'a-4', type: 'violation', occurredAt: late - 1000, contact: { externalId: 'u_agg' } },
        { id: 'a-5', type: 'message', occurredAt: late - 2000, text: '你好', contact: { externalId: 'u_agg', city: '上海' } },
      ],
    });
    expect(r.status).toBe(202);
    await untilStored('shop', ['a-1', 'a-2', 'a-3', 'a-4', 'a-5']);
    const c = await contact('u_agg');
    expect(c).toMatchObject({
      name: '赵敏',
      kind: 'wecom_customer',
      region: '上海',
      city: '上海',
      message_count: 1,
      purchase_count: 2,
      total_spend: 20_000,
      last_purchase_at: early,
      invite_count: 1,
      violation_count: 1,
      last_active_at: early,
    });
    const stats = await env.DB.prepare('SELECT type, day, count, amount FROM contact_daily_stats WHERE contact_id = ? ORDER BY day, type')
      .bind(c?.id)
      .all();
    const d1 = dayNumber(late, 480);
    expect(stats.results).toEqual([
      { type: 'message', day: d1, count: 1, amount: 0 },
      { type: 'purchase', day: d1, count: 1, amount: 19_900 },
      { type: 'violation', day: d1, count: 1, amount: 0 },
      { type: 'invite', day: d1 + 1, count: 1, amount: 0 },
      { type: 'purchase', day: d1 + 1, count: 1, amount: 100 },
    ]);
    const ev = await env.DB.prepare(
      `SELECT channel, amount, group_id, properties FROM events WHERE sender_event_id IN ('a-1', 'a-3') ORDER BY sender_event_id`,
    ).all();
    expect(ev.results).toEqual([
      { channel: '小程序', amount: 19_900, group_id: null, properties: '{}' },
      { channel: null, amount: null, group_id: 'g1', properties: '{}' },
    ]);
    const src = await env.DB.prepare(`SELECT event_count, last_event_at FROM event_sources WHERE id = 'shop'`).first<{
      event_count: number;
      last_event_at: number;
    }>();
    expect(src?.event_count).toBe(await count(`SELECT COUNT(*) AS n FROM events WHERE source_id = 'shop'`));
  });

  it('keeps stored attributes the event does not mention, and keeps properties verbatim', async () => {
    await send({ id: 'p-1', type: 'message', contact: { externalId: 'u_attr', name: '钱多多', company: '某公司' } });
    await untilStored('shop', ['p-1']);
    await send({
      id: 'p-2',
      type: 'article_open',
      text: '春季新品',
      contact: { externalId: 'u_attr', company: '新公司' },
      properties: { articleId: 42, tags: ['a'] },
    });
    await untilStored('shop', ['p-2']);
    expect(await contact('u_attr')).toMatchObject({ name: '钱多多', company: '新公司', message_count: 1 });
    const row = await env.DB.prepare(`SELECT properties FROM events WHERE sender_event_id = 'p-2'`).first<{ properties: string }>();
    expect(JSON.parse(row?.properties ?? '')).toEqual({ articleId: 42, tags: ['a'] });
  });
});
