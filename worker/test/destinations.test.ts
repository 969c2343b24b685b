/**
 * Outbound destinations and the deliveries queue, against real D1 and real miniflare queues.
 * The receiver at the far end is the one fake: worker/test/fake-receiver.ts, miniflare's
 * outbound service, which records what arrived (delivery ids, signatures, requests in flight).
 *
 * Consumer cases drive the worker's real `queue` handler with batches built here
 * (`createMessageBatch`), so a redelivery or a last attempt can be staged exactly; the
 * test-delivery and retry cases go through the real queue and its consumer end to end.
 */
import { env } from 'cloudflare:workers';
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import worker from '../src/index';
import { QUEUES } from '../src/queues';
import { deliveryId, type DeliveryMessage } from '../src/outbound/enqueue';
import { fieldKeys, openField } from '../src/crypto/fields';
import { api, apiAs, NOW, seedDeadLetter, webhookSignature, type TestUser } from './fixtures';
import type { CreatedDestination, DeadLetterList, DestinationSummary } from '@shared/api/destinations';

const db = env.DB;
const ADMIN: TestUser = { id: 9301, role: 'dept_admin', departmentId: null };
const STAFF: TestUser = { id: 9302, role: 'staff', departmentId: null };
const post = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

let seq = 0;
const uniq = (p: string) => `${p}${++seq}${Math.random().toString(36).slice(2, 8)}`;

interface Received {
  deliveryId: string | null;
  timestamp: string | null;
  signature: string | null;
  body: string;
  answered: number;
}
/** What the fake receiver got under `key`. */
async function receiverLog(key: string): Promise<{ received: Received[]; maxInFlight: number }> {
  return (await fetch(`http://receiver.test/__log/${key}`)).json();
}

async function newDestination(behaviour: string, over: Record<string, unknown> = {}): Promise<CreatedDestination & { key: string }> {
  const key = uniq('k');
  const query = typeof over.query === 'string' ? over.query : '';
  delete over.query;
  const res = await api<CreatedDestination>(
    '/api/destinations',
    post({ name: uniq('目的地'), kind: 'webhook', url: `http://receiver.test/${behaviour}/${key}${query}`, ...over }),
  );
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { ...res.body, key };
}

async function message(destinationId: number, over: Partial<DeliveryMessage> = {}): Promise<DeliveryMessage> {
  const run = uniq('ev');
  return {
    id: await deliveryId({ ruleId: 7, ruleVersion: 2, nodeId: 'hook', contactId: 1, runRef: run }),
    destinationId,
    kind: 'call_webhook',
    rule: { id: 7, version: 2, name: '高价值客户推送', nodeId: 'hook' },
    contact: { id: 1, externalId: 'wx_zhang', name: '张三', ownerUserId: 9001 },
    tagChanges: [{ tagId: 3, tagName: '美妆', change: 'added' }],
    cause: { kind: 'event', ref: run },
    at: NOW,
    ...over,
  };
}

/** Runs the worker's queue handler on one batch of `queue`; `attempts` per message (default 1). */
async function runBatch(queue: string, messages: { body: DeliveryMessage; attempts?: number }[]) {
  const batch = createMessageBatch<DeliveryMessage>(
    queue,
    messages.map((m, i) => ({
      id: `msg-${i}-${String(m.body.id).slice(0, 8)}`,
      timestamp: new Date(),
      attempts: m.attempts ?? 1,
      body: m.body,
    })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  return getQueueResult(batch, ctx);
}

/** The backoff the consumer chose for a failed row, in seconds (the queue's own delay is not observable here). */
const delayOf = (r: { next_attempt_at: number; last_attempt_at: number }) => (r.next_attempt_at - r.last_attempt_at) / 1000;
const row = (id: string) => db.prepare('SELECT * FROM deliveries WHERE id = ?').bind(id).first<any>();

async function until<T>(what: string, read: () => Promise<T>, done: (v: T) => boolean, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  // the contact and rule the messages name need not exist: the log keeps ids only
  await api('/api/auth/me');
});

describe('destinations API', () => {
  it('shows the secret once, on create, and never in the list or the audit log', async () => {
    const d = await newDestination('ok');
    expect(d.secret).toMatch(/^[0-9a-f]{64}$/);
    expect(d.destination).toMatchObject({ kind: 'webhook', timeoutMs: 10_000, concurrency: 5, revokedAt: null });
    const list = await api<{ items: DestinationSummary[] }>('/api/destinations');
    expect(JSON.stringify(list.body)).not.toContain(d.secret);
    expect(list.body.items.find((x) => x.id === d.destination.id)!.url).toBe(`http://receiver.test/ok/${d.key}`);
    const stored = await db
      .prepare('SELECT secret_enc FROM destinations WHERE id = ?')
      .bind(d.destination.id)
      .first<{ secret_enc: string }>();
    expect(stored!.secret_enc).not.toContain(d.secret);
    const audit = await db
      .prepare("SELECT action, params, after FROM audit_log WHERE object_type = 'destination' AND object_id = ?")
      .bind(String(d.destination.id))
      .all<any>();
    expect(audit.results.map((a) => a.action)).toEqual(['destination.create']);
    expect(JSON.stringify(audit.results)).not.toContain(d.secret);
  });

  it('keeps a receiver key in the URL query out of the audit log', async () => {
    const d = await newDestination('ok', { query: '?key=wecom-bot-key-123' });
    const audit = await db
      .prepare("SELECT summary, params, after FROM audit_log WHERE action = 'destination.create' AND object_id = ?")
      .bind(String(d.destination.id))
      .first<{ summary: string; params: string; after: string }>();
    expect(JSON.stringify(audit)).not.toContain('wecom-bot-key-123');
    expect(JSON.parse(audit!.params).url).toBe(`http://receiver.test/ok/${d.key}`);
  });

  it('refuses a test delivery to a revoked destination', async () => {
    const d = await newDestination('ok');
    await api(`/api/destinations/${d.destination.id}/revoke`, post({}));
    const res = await api(`/api/destinations/${d.destination.id}/test`, post({}));
    expect(res.status).toBe(409);
    expect(res.body.error.details[0].path).toBe('id');
  });

  it('lets rule editors list destinations without URLs, and only super admins manage them', async () => {
    const d = await newDestination('ok');
    const asAdmin = await apiAs<{ items: DestinationSummary[] }>(ADMIN, '/api/destinations');
    expect(asAdmin.status).toBe(200);
    const seen = asAdmin.body.items.find((x) => x.id === d.destination.id)!;
    expect(seen.name).toBe(d.destination.name);
    expect(asAdmin.body.items.every((x) => x.url === null)).toBe(true);
    expect((await apiAs(STAFF, '/api/destinations')).status).toBe(403);
    const body = { name: 'x', kind: 'webhook', url: 'http://receiver.test/ok/x' };
    expect((await apiAs(ADMIN, '/api/destinations', post(body))).status).toBe(403);
    expect((await apiAs(ADMIN, `/api/destinations/${d.destination.id}/rotate`, post({}))).status).toBe(403);
    expect((await apiAs(ADMIN, `/api/destinations/${d.destination.id}/test`, post({}))).status).toBe(403);
    expect((await apiAs(ADMIN, `/api/destinations/${d.destination.id}/retry-dead`, post({}))).status).toBe(403);
    expect((await apiAs(ADMIN, '/api/destinations/dead-letters')).status).toBe(403);
    expect((await apiAs(ADMIN, `/api/destinations/dead-letters/${'a'.repeat(64)}/retry`, post({}))).status).toBe(403);
  });

  it('answers bad input with a 400 naming the field', async () => {
    const bad = async (body: unknown, field: string) => {
      const res = await api('/api/destinations', post(body));
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(field);
    };
    await bad({ name: 'a', kind: 'webhook', url: 'ftp://x.test/' }, 'url');
    await bad({ name: 'a', kind: 'webhook', url: 'not a url' }, 'url');
    await bad({ name: '', kind: 'webhook', url: 'http://x.test/' }, 'name');
    await bad({ name: 'a', kind: 'sms', url: 'http://x.test/' }, 'kind');
    await bad({ name: 'a', kind: 'webhook', url: 'http://x.test/', concurrency: 0 }, 'concurrency');
    await bad({ name: 'a', kind: 'webhook', url: 'http://x.test/', timeoutMs: 60_000 }, 'timeoutMs');
    await bad({ name: 'a', kind: 'webhook', url: 'http://x.test/', secret: 's' }, 'secret');
    const d = await newDestination('ok');
    const many = await api(`/api/destinations/${d.destination.id}/test`, post({ count: 5 }));
    expect(many.status).toBe(400);
    expect(many.body.error.details[0].path).toBe('count');
    expect((await api('/api/destinations/abc/revoke', post({}))).body.error.details[0].path).toBe('id');
    expect((await api('/api/destinations/999999/revoke', post({}))).status).toBe(404);
    expect((await api('/api/destinations/dead-letters/nothex/retry', post({}))).body.error.details[0].path).toBe('deliveryId');
    expect((await api('/api/destinations/dead-letters?destinationId=x')).body.error.details[0].path).toBe('destinationId');
  });

  it('rotates the secret (later deliveries verify with the new one only) and audits rotate and revoke', async () => {
    const d = await newDestination('ok');
    const rotated = await api<CreatedDestination>(`/api/destinations/${d.destination.id}/rotate`, post({}));
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).not.toBe(d.secret);
    const m = await message(d.destination.id);
    await runBatch(QUEUES.deliveries, [{ body: m }]);
    const [got] = (await receiverLog(d.key)).received;
    expect(got!.signature).toBe(await webhookSignature(rotated.body.secret, got!.timestamp!, got!.body));
    expect(got!.signature).not.toBe(await webhookSignature(d.secret, got!.timestamp!, got!.body));

    expect((await api(`/api/destinations/${d.destination.id}/revoke`, post({}))).status).toBe(200);
    expect((await api(`/api/destinations/${d.destination.id}/revoke`, post({}))).status).toBe(409);
    expect((await api(`/api/destinations/${d.destination.id}/rotate`, post({}))).status).toBe(409);
    const actions = await db
      .prepare("SELECT action FROM audit_log WHERE object_type = 'destination' AND object_id = ? ORDER BY id")
      .bind(String(d.destination.id))
      .all<{ action: string }>();
    expect(actions.results.map((a) => a.action)).toEqual(['destination.create', 'destination.rotate', 'destination.revoke']);
  });
});

describe('the deliveries consumer', () => {
  it('signs each delivery so that the receiver verifies it with the secret, and sends the documented payload', async () => {
    const d = await newDestination('ok');
    const m = await message(d.destination.id);
    const result = await runBatch(QUEUES.deliveries, [{ body: m }]);
    expect(result.explicitAcks).toHaveLength(1);
    const [got] = (await receiverLog(d.key)).received;
    expect(got!.deliveryId).toBe(m.id);
    expect(Math.abs(Number(got!.timestamp) - Date.now() / 1000)).toBeLessThan(60);
    expect(got!.signature).toBe(await webhookSignature(d.secret, got!.timestamp!, got!.body));
    expect(JSON.parse(got!.body)).toEqual({
      deliveryId: m.id,
      kind: 'call_webhook',
      rule: m.rule,
      contact: m.contact,
      tagChanges: m.tagChanges,
      text: null,
      cause: m.cause,
      at: m.at,
    });
    expect(await row(m.id)).toMatchObject({ status: 'delivered', attempts: 1, last_status: 200, message_enc: null });
  });

  it('sends a notify delivery to the owner: toUserId and the text in the signed payload', async () => {
    const d = await newDestination('ok', { kind: 'notify' });
    expect(d.destination.kind).toBe('notify');
    const m = await message(d.destination.id, { kind: 'notify', text: '张三 成为高价值客户，请跟进' });
    await runBatch(QUEUES.deliveries, [{ body: m }]);
    const [got] = (await receiverLog(d.key)).received;
    expect(got!.signature).toBe(await webhookSignature(d.secret, got!.timestamp!, got!.body));
    expect(JSON.parse(got!.body)).toMatchObject({ deliveryId: m.id, kind: 'notify', toUserId: 9001, text: '张三 成为高价值客户，请跟进' });
  });

  it('500 then 200: retried with backoff, delivered once, and a redelivered copy is not sent again', async () => {
    const d = await newDestination('fail-once');
    const m = await message(d.destination.id);
    const first = await runBatch(QUEUES.deliveries, [{ body: m }]);
    expect(first.explicitAcks).toEqual([]);
    expect(first.retryMessages).toHaveLength(1);
    const failed = await row(m.id);
    expect(failed).toMatchObject({ status: 'failed', attempts: 1, last_status: 500, last_reason: 'answered 500' });
    // attempt 1 failed, base 30 s: the next one in 15 to 30 s
    expect(delayOf(failed)).toBeGreaterThanOrEqual(15);
    expect(delayOf(failed)).toBeLessThanOrEqual(30);

    const second = await runBatch(QUEUES.deliveries, [{ body: m, attempts: 2 }]);
    expect(second.explicitAcks).toHaveLength(1);
    // the queue delivers at least once: the same message again, and a second copy in one batch
    const again = await runBatch(QUEUES.deliveries, [
      { body: m, attempts: 3 },
      { body: m, attempts: 1 },
    ]);
    expect(again.explicitAcks).toHaveLength(2);
    const log = await receiverLog(d.key);
    expect(log.received.map((r) => r.answered)).toEqual([500, 200]);
    expect(log.received.filter((r) => r.deliveryId === m.id && r.answered === 200)).toHaveLength(1);
    expect(await row(m.id)).toMatchObject({ status: 'delivered', attempts: 2, last_status: 200 });
  });

  it('honours Retry-After (capped) on a 429', async () => {
    const d = await newDestination('status-429', { query: '?retryAfter=7' });
    const m = await message(d.destination.id);
    const result = await runBatch(QUEUES.deliveries, [{ body: m }]);
    expect(result.retryMessages).toHaveLength(1);
    expect(delayOf(await row(m.id))).toBe(7);
  });

  it('retries a receiver that does not answer within the timeout', async () => {
    const d = await newDestination('slow', { timeoutMs: 1000 });
    const m = await message(d.destination.id);
    const started = Date.now();
    const result = await runBatch(QUEUES.deliveries, [{ body: m, attempts: 2 }]);
    expect(Date.now() - started).toBeLessThan(4000);
    expect(result.retryMessages).toHaveLength(1);
    const failed = await row(m.id);
    expect(failed).toMatchObject({ status: 'failed', last_status: null, last_reason: 'no answer within 1000 ms' });
    // attempt 2 failed: the next one in 30 to 60 s
    expect(delayOf(failed)).toBeGreaterThanOrEqual(30);
    expect(delayOf(failed)).toBeLessThanOrEqual(60);
  });

  it('a 4xx refusal is dead at once, kept sealed for a retry, with no contact name in clear', async () => {
    const d = await newDestination('status-422');
    const m = await message(d.destination.id);
    const result = await runBatch(QUEUES.deliveries, [{ body: m }]);
    expect(result.explicitAcks).toHaveLength(1);
    expect(result.retryMessages).toEqual([]);
    const r = await row(m.id);
    expect(r).toMatchObject({ status: 'dead', attempts: 1, last_status: 422 });
    expect(r.last_reason).toContain('refuses');
    expect(JSON.stringify(r)).not.toContain('张三');
    expect(JSON.parse(await openField(await fieldKeys(env), r.message_enc))).toEqual(m);
    const list = await api<DeadLetterList>(`/api/destinations/dead-letters?destinationId=${d.destination.id}`);
    expect(list.body.total).toBe(1);
    expect(list.body.items[0]).toMatchObject({
      deliveryId: m.id,
      destination: { id: d.destination.id },
      rule: { id: 7, version: 2, nodeId: 'hook' },
      contactId: 1,
      attempts: 1,
      lastStatus: 422,
    });
  });

  it('a delivery to a revoked destination is dead with that reason, and nothing is sent', async () => {
    const d = await newDestination('ok');
    await api(`/api/destinations/${d.destination.id}/revoke`, post({}));
    const m = await message(d.destination.id);
    await runBatch(QUEUES.deliveries, [{ body: m }]);
    expect((await receiverLog(d.key)).received).toEqual([]);
    expect((await row(m.id)).last_reason).toMatch(/^destination revoked at /);
    expect((await row(m.id)).status).toBe('dead');
  });

  it('the dead-letter consumer marks a delivery that failed every attempt dead, keeping the last reason', async () => {
    const d = await newDestination('status-503');
    const m = await message(d.destination.id);
    await runBatch(QUEUES.deliveries, [{ body: m, attempts: 5 }]);
    expect(await row(m.id)).toMatchObject({ status: 'failed', last_reason: 'answered 503' });
    const result = await runBatch(QUEUES.deliveriesDead, [{ body: m }]);
    expect(result.ackAll).toBe(true);
    expect(await row(m.id)).toMatchObject({ status: 'dead', last_reason: 'answered 503', attempts: 1 });
    // a copy of an already delivered id reaching the dead-letter queue leaves it delivered
    const ok = await newDestination('ok');
    const delivered = await message(ok.destination.id);
    await runBatch(QUEUES.deliveries, [{ body: delivered }]);
    await runBatch(QUEUES.deliveriesDead, [{ body: delivered }]);
    expect((await row(delivered.id)).status).toBe('delivered');
  });

  it('acknowledges a message that is not a delivery without failing the rest of its batch', async () => {
    const d = await newDestination('ok');
    const m = await message(d.destination.id);
    const result = await runBatch(QUEUES.deliveries, [{ body: { nonsense: true } as unknown as DeliveryMessage }, { body: m }]);
    expect(result.explicitAcks).toHaveLength(2);
    expect(await row(m.id)).toMatchObject({ status: 'delivered' });
  });

  it('never has more than a destination’s concurrency in flight, and uses it', async () => {
    const d = await newDestination('ok', { concurrency: 3, query: '?delay=60' });
    const other = await newDestination('ok', { concurrency: 1, query: '?delay=30' });
    const messages = [
      ...(await Promise.all(Array.from({ length: 20 }, () => message(d.destination.id)))),
      ...(await Promise.all(Array.from({ length: 4 }, () => message(other.destination.id)))),
    ];
    const result = await runBatch(
      QUEUES.deliveries,
      messages.map((body) => ({ body })),
    );
    expect(result.explicitAcks).toHaveLength(24);
    const log = await receiverLog(d.key);
    expect(log.received).toHaveLength(20);
    expect(log.maxInFlight).toBe(3);
    expect((await receiverLog(other.key)).maxInFlight).toBe(1);
  });
});

describe('test deliveries and retries through the real queue', () => {
  it('a test delivery goes through the queue to the receiver, signed, and is audited', async () => {
    const d = await newDestination('ok');
    const res = await api(`/api/destinations/${d.destination.id}/test`, post({}));
    expect(res.status).toBe(202);
    expect(res.body.enqueued).toBe(1);
    const log = await until(
      'the test delivery',
      () => receiverLog(d.key),
      (l) => l.received.length > 0,
    );
    expect(log.received[0]!.deliveryId).toBe(res.body.deliveryIds[0]);
    expect(log.received[0]!.signature).toBe(await webhookSignature(d.secret, log.received[0]!.timestamp!, log.received[0]!.body));
    await until(
      'the delivered row',
      () => row(res.body.deliveryIds[0]),
      (r) => r?.status === 'delivered',
    );
    const audit = await db
      .prepare("SELECT params FROM audit_log WHERE action = 'destination.test' AND object_id = ?")
      .bind(String(d.destination.id))
      .first<{ params: string }>();
    expect(JSON.parse(audit!.params)).toEqual({ name: d.destination.name, count: 1 });
  });

  it('retrying a dead letter puts it back on the queue and it is then delivered, once', async () => {
    // 410 to the first request of each id, 200 after: dead at once, then fine on the retry
    const d = await newDestination('gone-once');
    const res = await api(`/api/destinations/${d.destination.id}/test`, post({}));
    const id = res.body.deliveryIds[0] as string;
    await until(
      'the dead letter',
      () => row(id),
      (r) => r?.status === 'dead',
    );
    const list = await api<DeadLetterList>('/api/destinations/dead-letters');
    expect(list.body.items.some((x) => x.deliveryId === id && x.lastStatus === 410)).toBe(true);

    const retried = await api(`/api/destinations/dead-letters/${id}/retry`, post({}));
    expect(retried.status).toBe(200);
    expect(retried.body).toEqual({ requeued: 1 });
    await until(
      'the retried delivery',
      () => row(id),
      (r) => r?.status === 'delivered',
    );
    expect((await row(id)).message_enc).toBeNull();
    expect((await receiverLog(d.key)).received.map((r) => [r.deliveryId, r.answered])).toEqual([
      [id, 410],
      [id, 200],
    ]);
    // nothing left to retry
    expect((await api(`/api/destinations/dead-letters/${id}/retry`, post({}))).status).toBe(404);
    const audit = await db
      .prepare("SELECT params FROM audit_log WHERE action = 'destination.retry' AND object_id = ?")
      .bind(String(d.destination.id))
      .all<{ params: string }>();
    expect(audit.results.map((a) => JSON.parse(a.params))).toEqual([{ variant: 'one', name: d.destination.name, count: 1 }]);
  });

  it('two retries of the same dead letter at once send it once, with one audit entry', async () => {
    const { destinationId, deliveryId: id } = await seedDeadLetter();
    const answers = await Promise.all([1, 2].map(() => api(`/api/destinations/dead-letters/${id}/retry`, post({}))));
    const requeued = answers.filter((a) => a.status === 200).reduce((n, a) => n + a.body.requeued, 0);
    expect(requeued).toBe(1);
    expect(answers.every((a) => a.status === 200 || a.status === 404)).toBe(true);
    const audit = await db
      .prepare("SELECT params FROM audit_log WHERE action = 'destination.retry' AND object_id = ?")
      .bind(String(destinationId))
      .all<{ params: string }>();
    expect(audit.results.map((a) => JSON.parse(a.params))).toEqual([{ variant: 'one', name: '死信测试', count: 1 }]);
  });

  it('retry all requeues every dead letter of the destination', async () => {
    const d = await newDestination('gone-once');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await api(`/api/destinations/${d.destination.id}/test`, post({}))).body.deliveryIds[0]);
    await until(
      'three dead letters',
      async () => (await api<DeadLetterList>(`/api/destinations/dead-letters?destinationId=${d.destination.id}`)).body.total,
      (n) => n === 3,
    );
    const res = await api(`/api/destinations/${d.destination.id}/retry-dead`, post({}));
    expect(res.body).toEqual({ requeued: 3 });
    for (const id of ids)
      await until(
        `delivery ${id}`,
        () => row(id),
        (r) => r?.status === 'delivered',
      );
    expect((await api<DeadLetterList>(`/api/destinations/dead-letters?destinationId=${d.destination.id}`)).body.total).toBe(0);
  });
});
