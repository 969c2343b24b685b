import { env } from 'cloudflare:workers';
import { exports } from 'cloudflare:workers';
import { keyQueued } from '../src/search/keys';
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { consumeIntake } from '../src/ingest/consumer';
import { storeDeadLetters } from '../src/ingest/dead-letters';

/** Someone to act as in a test: a user row is created on first use, with a live session. */
export interface TestUser {
  id: number;
  role: 'super_admin' | 'dept_admin' | 'staff';
  departmentId: number | null;
  email?: string;
}

/** The default actor of `api()`: a super admin with no home department (sees everything). */
export const ROOT: TestUser = { id: 9001, role: 'super_admin', departmentId: null, email: 'root@segflow.test' };

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The headers of a signed-in request as `user`: the user and a session are written straight to
 * D1 (idempotently: test files share nothing, tests in a file may reset tables), the way a real
 * sign-in leaves them; signing in through the API is tested in auth.test.ts.
 */
export async function sessionHeaders(user: TestUser): Promise<Record<string, string>> {
  const token = `test-session-${user.id}`;
  const csrf = `test-csrf-${user.id}`;
  await env.DB.batch([
    env.DB.prepare(
      `INSERT INTO users (id, email, name, role, department_id) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET role = excluded.role, department_id = excluded.department_id, disabled = 0`,
    ).bind(user.id, user.email ?? `user${user.id}@segflow.test`, `测试用户${user.id}`, user.role, user.departmentId),
    env.DB.prepare(
      `INSERT INTO sessions (token_hash, user_id, created_at, expires_at, csrf_token) VALUES (?, ?, 0, 9e15, ?)
       ON CONFLICT (token_hash) DO UPDATE SET revoked_at = NULL`,
    ).bind(await sha256Hex(token), user.id, csrf),
  ]);
  return { cookie: `segflow_session=${token}`, 'x-csrf-token': csrf };
}

async function call<T>(
  path: string,
  init: RequestInit | undefined,
  extra: Record<string, string>,
): Promise<{ status: number; body: T; headers: Headers }> {
  const headers = new Headers(init?.headers);
  for (const [k, v] of Object.entries(extra)) if (!headers.has(k)) headers.set(k, v);
  const res = await exports.default.fetch(new Request(`http://segflow.test${path}`, { ...init, headers }));
  const text = await res.text();
  // JSON answers parsed; anything else (a CSV export) as its text
  const isJson = /json/.test(res.headers.get('content-type') ?? '') || /^[[{]/.test(text);
  return { status: res.status, body: (text ? (isJson ? JSON.parse(text) : text) : null) as T, headers: res.headers };
}

/** Calls the real worker over HTTP (inside workerd) as a super admin; returns status and parsed JSON. */
export async function api<T = any>(path: string, init?: RequestInit): Promise<{ status: number; body: T; headers: Headers }> {
  return call<T>(path, init, await sessionHeaders(ROOT));
}

/** The same, as another user (roles and department scope). */
export async function apiAs<T = any>(
  user: TestUser,
  path: string,
  init?: RequestInit,
): Promise<{ status: number; body: T; headers: Headers }> {
  return call<T>(path, init, await sessionHeaders(user));
}

/** The same, signed out (no cookie): what a browser without a session or a sender sends. */
export async function anonApi<T = any>(path: string, init?: RequestInit): Promise<{ status: number; body: T; headers: Headers }> {
  return call<T>(path, init, {});
}

const DAY = 86_400_000;
export const NOW = Date.UTC(2026, 10, 24, 4, 0, 0);

/**
 * A small, hand-written world whose answers are known by construction:
 * departments 总部 › 华东大区 › 上海一组, and 华南大区; two tag groups; five contacts.
 */
export async function seedSmallWorld() {
  await env.DB.batch(
    [
      `insert into departments (id, name, parent_id, path) values
        (1, '总部', null, '/1/'), (2, '华东大区', 1, '/1/2/'), (3, '上海一组', 2, '/1/2/3/'), (4, '华南大区', 1, '/1/4/')`,
      `insert into tag_groups (id, name, color, exclusive, sort_order) values
        (1, '生命周期', '#e6a23c', 1, 1), (2, '兴趣偏好', '#409eff', 0, 2)`,
      `insert into tags (id, group_id, parent_id, level, name, status) values
        (1, 1, null, 1, '活跃客户', 'active'), (2, 1, null, 1, '沉睡客户', 'active'),
        (3, 2, null, 1, '美妆', 'active'), (4, 2, 3, 2, '护肤', 'active'), (5, 2, 4, 3, '抗老', 'active'),
        (6, 2, null, 1, '旧标签', 'retired')`,
      `insert into contacts (id, kind, external_id, name, remark, gender, region, city, department_id, bucket,
          created_at, updated_at, last_active_at, total_spend, purchase_count) values
        (1, 'wecom_customer', 'wm_a', '张伟', '张总-华东采购', 'male', '上海', '上海', 3, 11, ${NOW - 90 * DAY}, ${NOW}, ${NOW - 1 * DAY}, 128000, 3),
        (2, 'friend', 'wxid_b', '李娜', null, 'female', '浙江', '杭州', 2, 22, ${NOW - 80 * DAY}, ${NOW}, ${NOW - 5 * DAY}, 9900, 1),
        (3, 'follower', 'o_c', '王芳', '100%_满意', 'female', '广东', '深圳', 4, 33, ${NOW - 70 * DAY}, ${NOW}, null, 0, 0),
        (4, 'group_member', 'g_d', '刘洋', null, 'male', '广东', '广州', 4, 44, ${NOW - 60 * DAY}, ${NOW}, ${NOW - 200 * DAY}, 0, 0),
        (5, 'wecom_customer', 'wm_e', '陈静', '老客户', 'female', '北京', '北京', 1, 55, ${NOW - 50 * DAY}, ${NOW}, ${NOW - 2 * DAY}, 560000, 9)`,
      `insert into contact_tags (contact_id, tag_id, source, added_at) values
        (1, 1, 'manual', ${NOW}), (1, 5, 'import', ${NOW}), (1, 4, 'import', ${NOW}),
        (2, 1, 'manual', ${NOW}), (4, 2, 'rule', ${NOW}), (5, 1, 'manual', ${NOW}), (5, 3, 'manual', ${NOW})`,
    ].map((sql) => env.DB.prepare(sql)),
  );
  // the rows were written by raw SQL, which does not key names: the cron's step does, as in production
  await keyQueued(env.DB, 10_000);
}

/**
 * `db` with its `batch` going through `around`, which gets the statements and the real batch:
 * tests count batches, fail one, or commit a competing write between two (races).
 */
export function aroundBatch(
  db: D1Database,
  around: (stmts: D1PreparedStatement[], batch: (stmts: D1PreparedStatement[]) => Promise<D1Result[]>) => Promise<D1Result[]>,
): D1Database {
  return new Proxy(db, {
    get(target, prop) {
      if (prop !== 'batch') return Reflect.get(target, prop).bind(target);
      return (stmts: D1PreparedStatement[]) => around(stmts, (s) => target.batch(s));
    },
  });
}

/**
 * The `X-Segflow-Signature` a sender computes (`sha256=` + hex HMAC-SHA256 of `timestamp.body`),
 * written here from the documented scheme rather than with the worker's own code, so the tests
 * check the worker against the scheme.
 */
export async function webhookSignature(secret: string, ts: string, body: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${ts}.${body}`));
  return 'sha256=' + [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * A destination (pointed at the fake receiver, worker/test/fake-receiver.ts) with one dead
 * letter, written to D1 the way the deliveries consumer leaves one: the queue message sealed
 * with the field key. Returns both ids.
 */
export async function seedDeadLetter(): Promise<{ destinationId: number; deliveryId: string }> {
  const { fieldKeys, sealField } = await import('../src/crypto/fields');
  const { deliveryId: idOf } = await import('../src/outbound/enqueue');
  const run = `dead-${crypto.randomUUID()}`;
  const destinationId = (await env.DB.prepare(
    `INSERT INTO destinations (name, kind, url, secret_enc) VALUES ('死信测试', 'webhook', 'http://receiver.test/ok/dead-letters', ?) RETURNING id`,
  )
    .bind(await sealField(await fieldKeys(env), 'a'.repeat(64)))
    .first<number>('id'))!;
  const id = await idOf({ ruleId: 0, ruleVersion: 0, nodeId: 'test', contactId: 0, runRef: run });
  const message = {
    id,
    destinationId,
    kind: 'call_webhook',
    rule: { id: 0, version: 0, name: 'test', nodeId: 'test' },
    contact: { id: 0, externalId: 'test', name: null, ownerUserId: null },
    tagChanges: [],
    cause: { kind: 'event', ref: run },
    at: NOW,
  };
  await env.DB.prepare(
    `INSERT INTO deliveries (id, destination_id, kind, rule_id, rule_version, node_id, contact_id, status, attempts, last_attempt_at,
       last_status, last_reason, message_enc, created_at)
     VALUES (?, ?, 'call_webhook', 0, 0, 'test', 0, 'dead', 5, ?, 500, 'answered 500', ?, ?)`,
  )
    .bind(id, destinationId, NOW, await sealField(await fieldKeys(env), JSON.stringify(message)), NOW)
    .run();
  return { destinationId, deliveryId: id };
}

/**
 * Polls `check` until it returns something other than null / undefined / false: the effect of the
 * intake queue's consumer, which runs after the webhook answered (the queue delivers a batch
 * after wrangler.toml's max_batch_timeout, 1 s). Fails with `what` after `ms`.
 */
export async function eventually<T>(what: string, check: () => Promise<T | null | undefined | false>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== null && v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`still not after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until each of `ids` of `sourceId` is in `events` (stored by the consumer, now or before). */
export async function untilStored(sourceId: string, ids: readonly string[], ms?: number): Promise<void> {
  const want = new Set(ids).size;
  await eventually(
    `events ${ids.join(', ')} of "${sourceId}" stored`,
    async () => {
      const row = await env.DB.prepare(
        'SELECT COUNT(*) AS n FROM events WHERE source_id = ? AND sender_event_id IN (SELECT value FROM json_each(?))',
      )
        .bind(sourceId, JSON.stringify([...new Set(ids)]))
        .first<{ n: number }>();
      return (row?.n ?? 0) === want;
    },
    ms,
  );
}

/** An intake queue message as the webhook routes send it (worker/src/ingest/intake-queue.ts). */
export function intakeMessage(sourceId: string, event: Record<string, unknown>, receivedAt = Date.now()) {
  return { v: 1 as const, sourceId, receivedAt, event: { occurredAt: receivedAt - 60_000, ...event } };
}

let messageSeq = 0;

/**
 * Runs `bodies` through the intake consumer as ONE batch of the intake queue (on `db`, which a
 * test may wrap with {@link aroundBatch} to inject a fault), as the queue would deliver it for
 * the `attempts`-th time, and returns which messages were acked and which retried (by index).
 * `ids` gives message ids, so a test can redeliver the same messages.
 */
export async function runIntake(
  bodies: unknown[],
  opts: { attempts?: number; db?: D1Database; ids?: string[] } = {},
): Promise<{ acked: number[]; retried: { index: number; delaySeconds?: number }[]; ids: string[] }> {
  const ids = opts.ids ?? bodies.map(() => `test-msg-${++messageSeq}`);
  const batch = createMessageBatch(
    'segflow-intake',
    bodies.map((body, i) => ({ id: ids[i] as string, timestamp: new Date(), attempts: opts.attempts ?? 1, body })),
  );
  // the test runtime's result drops retry() options: record the delay each retry asked for on the way through
  const delays = new Map<string, number | undefined>();
  const messages = batch.messages.map((m) =>
    Object.assign(Object.create(m) as Message<unknown>, {
      retry: (o?: QueueRetryOptions) => {
        delays.set(m.id, o?.delaySeconds);
        m.retry(o);
      },
      ack: () => m.ack(),
    }),
  );
  const ctx = createExecutionContext();
  await consumeIntake(
    { ...batch, messages, queue: batch.queue, ackAll: () => batch.ackAll(), retryAll: (o) => batch.retryAll(o) },
    { db: opts.db ?? env.DB, env },
  );
  // typed here: the result's type lives only in workers-types' experimental entry
  const result: { explicitAcks: string[]; retryMessages: { msgId: string; delaySeconds?: number }[] } = await getQueueResult(batch, ctx);
  const index = (id: string) => ids.indexOf(id);
  return {
    acked: result.explicitAcks.map(index).sort((a, b) => a - b),
    retried: result.retryMessages
      .map((m) => ({ index: index(m.msgId), delaySeconds: delays.get(m.msgId) }))
      .sort((a, b) => a.index - b.index),
    ids,
  };
}

/** A dead letter of the intake queue (as the consumer keeps one), returning its id. */
export async function newDeadLetter(sourceId = 'dl-src', eventId = `dl-${++messageSeq}`): Promise<number> {
  const messageId = `dead-${++messageSeq}`;
  const body = intakeMessage(sourceId, { id: eventId, type: 'message', contact: { externalId: `u_${eventId}`, name: '张三' } });
  await storeDeadLetters(env.DB, env, [{ messageId, body, attempts: 5, reason: 'a test' }], Date.now());
  return (await env.DB.prepare('SELECT id FROM intake_dead_letters WHERE message_id = ?').bind(messageId).first<number>('id'))!;
}
