/**
 * The deliveries queue's consumer: signs and sends each delivery, records the outcome in the
 * delivery log (`deliveries`, one row per delivery id) and tells the queue what to do next.
 *
 * - A delivery id the log already holds as delivered is acknowledged without sending: a
 *   redelivered message, or the same rule run enqueued twice, reaches the receiver once.
 * - Per destination, at most `concurrency` requests are in flight within one batch; the
 *   deliveries consumer runs one invocation at a time (wrangler.toml `max_concurrency = 1`), so
 *   that is a bound for the destination as a whole.
 * - 2xx: delivered. 408, 425, 429, 5xx, a network error or a timeout: tried again after
 *   `backoffSeconds` (the queue moves the message to the dead-letter queue after its last
 *   attempt; `consumeDeadDeliveries` keeps it). Any other answer (3xx, 4xx): the receiver
 *   refuses this delivery and would refuse it again, so it is dead at once. A revoked or deleted
 *   destination: dead at once, with that reason.
 * - Outcomes are written in one D1 batch before any message is acknowledged: if the write fails,
 *   the whole batch comes again (at least once; receivers dedupe on `X-Segflow-Delivery`).
 */
import { fieldKeys, sealField } from '../crypto/fields';
import type { DeliveryRow, DestinationRow } from '../db/rows';
import { backoffBase, backoffSeconds, retryAfterSeconds } from './backoff';
import { openSecret } from './destinations';
import type { DeliveryMessage } from './enqueue';
import { signedHeaders } from './sign';

type Destination = Pick<DestinationRow, 'id' | 'kind' | 'url' | 'secret_enc' | 'timeout_ms' | 'concurrency' | 'revoked_at'>;

/** What one attempt came to. */
export type Outcome =
  | { kind: 'delivered'; status: number }
  | { kind: 'retry'; status: number | null; reason: string; retryAfter: number | null }
  | { kind: 'dead'; status: number | null; reason: string };

/** The JSON body a receiver gets. `notify` adds `toUserId`: the contact's owner, whom the message is for. */
export function payloadOf(m: DeliveryMessage): Record<string, unknown> {
  const base = {
    deliveryId: m.id,
    kind: m.kind,
    rule: m.rule,
    contact: m.contact,
    tagChanges: m.tagChanges,
    text: m.text ?? null,
    cause: m.cause,
    at: m.at,
    ...(m.alert ? { alert: m.alert } : {}),
  };
  return m.kind === 'notify' ? { ...base, toUserId: m.contact.ownerUserId } : base;
}

const RETRYABLE_4XX = new Set([408, 425, 429]);

/** One signed POST, classified. Never throws. */
export async function attempt(m: DeliveryMessage, d: Destination, secret: string, now: number): Promise<Outcome> {
  const body = JSON.stringify(payloadOf(m));
  let res: Response;
  try {
    res = await fetch(d.url, {
      method: 'POST',
      headers: await signedHeaders(secret, m.id, body, now),
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(d.timeout_ms),
    });
  } catch (e) {
    const timedOut = e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError');
    const reason = timedOut ? `no answer within ${d.timeout_ms} ms` : `network error: ${e instanceof Error ? e.message : String(e)}`;
    return { kind: 'retry', status: null, reason: reason.slice(0, 300), retryAfter: null };
  }
  const status = res.status;
  const retryAfter = retryAfterSeconds(res.headers.get('retry-after'), now);
  // the body is not read: release the connection
  await res.body?.cancel().catch(() => undefined);
  if (status >= 200 && status < 300) return { kind: 'delivered', status };
  if (status >= 500 || RETRYABLE_4XX.has(status)) return { kind: 'retry', status, reason: `answered ${status}`, retryAfter };
  if (status >= 300 && status < 400) return { kind: 'dead', status, reason: `answered ${status} (a redirect): set the final URL` };
  return { kind: 'dead', status, reason: `answered ${status}: the receiver refuses this delivery` };
}

/** Runs `tasks` with at most `limit` of them in flight. */
async function limited(tasks: (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < tasks.length) await tasks[next++]!();
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, lane));
}

/** Rows the log has for these ids (ids are 64 hex characters; a batch is at most 100 messages). */
async function loggedStatus(db: D1Database, ids: string[]): Promise<Map<string, DeliveryRow['status']>> {
  const out = new Map<string, DeliveryRow['status']>();
  for (let i = 0; i < ids.length; i += 90) {
    const chunk = ids.slice(i, i + 90);
    const { results } = await db
      .prepare(`SELECT id, status FROM deliveries WHERE id IN (${chunk.map(() => '?').join(', ')})`)
      .bind(...chunk)
      .all<Pick<DeliveryRow, 'id' | 'status'>>();
    for (const r of results) out.set(r.id, r.status);
  }
  return out;
}

async function destinationsOf(db: D1Database, ids: number[]): Promise<Map<number, Destination>> {
  const unique = [...new Set(ids)];
  const out = new Map<number, Destination>();
  for (let i = 0; i < unique.length; i += 90) {
    const chunk = unique.slice(i, i + 90);
    const { results } = await db
      .prepare(
        `SELECT id, kind, url, secret_enc, timeout_ms, concurrency, revoked_at FROM destinations WHERE id IN (${chunk.map(() => '?').join(', ')})`,
      )
      .bind(...chunk)
      .all<Destination>();
    for (const r of results) out.set(r.id, r);
  }
  return out;
}

/**
 * The statement recording one attempt's outcome. A row already delivered is never changed (a
 * copy that raced the successful one cannot turn it back into failed or dead). `sealed` is the
 * sealed message: kept while the row is dead (a retry needs it), dropped otherwise.
 */
export function recordStatement(
  db: D1Database,
  m: DeliveryMessage,
  o: {
    status: DeliveryRow['status'];
    httpStatus: number | null;
    reason: string | null;
    attempted: boolean;
    sealed: string | null;
    nextAttemptAt?: number;
  },
  now: number,
): D1PreparedStatement {
  const attempts = o.attempted ? 1 : 0;
  return db
    .prepare(
      `INSERT INTO deliveries (id, destination_id, kind, rule_id, rule_version, node_id, contact_id, status, attempts, last_attempt_at,
         last_status, last_reason, message_enc, next_attempt_at, created_at, delivered_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?10, CASE WHEN ?8 = 'delivered' THEN ?10 END)
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, attempts = deliveries.attempts + ?9,
         last_attempt_at = excluded.last_attempt_at, last_status = excluded.last_status, last_reason = excluded.last_reason,
         message_enc = excluded.message_enc, next_attempt_at = excluded.next_attempt_at, delivered_at = excluded.delivered_at
       WHERE deliveries.status <> 'delivered'`,
    )
    .bind(
      m.id,
      m.destinationId,
      m.kind,
      m.rule.id,
      m.rule.version,
      m.rule.nodeId,
      m.contact.id,
      o.status,
      attempts,
      now,
      o.httpStatus,
      o.reason,
      o.sealed,
      o.nextAttemptAt ?? null,
    );
}

/** The message sealed with the field key: what a dead letter keeps for its retry, never in clear (it names the contact). */
export async function sealMessage(env: Env, m: DeliveryMessage): Promise<string> {
  return sealField(await fieldKeys(env), JSON.stringify(m));
}

/**
 * The messages shaped like a `DeliveryMessage` (only `enqueueDeliveries` sends them, but a
 * message that could never be recorded would otherwise fail its whole batch every time); the
 * others are logged and acknowledged.
 */
function wellFormed(messages: readonly Message<DeliveryMessage>[]): Message<DeliveryMessage>[] {
  return messages.filter((m) => {
    const b = m.body as Partial<DeliveryMessage> | null;
    const ok =
      typeof b?.id === 'string' &&
      /^[0-9a-f]{64}$/.test(b.id) &&
      Number.isInteger(b.destinationId) &&
      Number.isInteger(b.rule?.id) &&
      Number.isInteger(b.contact?.id) &&
      (b.kind === 'call_webhook' || b.kind === 'notify');
    if (!ok) {
      console.error(`deliveries: message ${m.id} is not a delivery; dropped`);
      m.ack();
    }
    return ok;
  });
}

/** The deliveries queue's batch. Throws only when D1 cannot record the outcomes (the queue then retries the batch). */
export async function consumeDeliveries(batch: MessageBatch<DeliveryMessage>, env: Env): Promise<void> {
  const db = env.DB;
  const base = backoffBase(env);
  const messages = wellFormed(batch.messages);
  const logged = await loggedStatus(
    db,
    messages.map((m) => m.body.id),
  );
  const dests = await destinationsOf(
    db,
    messages.map((m) => m.body.destinationId),
  );
  const secrets = new Map<number, Promise<string>>();
  const secretOf = (d: Destination) => {
    let s = secrets.get(d.id);
    if (!s) secrets.set(d.id, (s = openSecret(env, d.secret_enc)));
    return s;
  };

  const statements: D1PreparedStatement[] = [];
  const settle: (() => void)[] = [];
  const seen = new Set<string>();
  const byDestination = new Map<number, (() => Promise<void>)[]>();

  const dead = async (m: Message<DeliveryMessage>, httpStatus: number | null, reason: string, attempted: boolean) => {
    statements.push(
      recordStatement(db, m.body, { status: 'dead', httpStatus, reason, attempted, sealed: await sealMessage(env, m.body) }, Date.now()),
    );
    settle.push(() => m.ack());
  };

  for (const m of messages) {
    const d = dests.get(m.body.destinationId);
    // delivered before, or a second copy of the same id in this batch: acknowledged, not sent again
    if (logged.get(m.body.id) === 'delivered' || seen.has(m.body.id)) {
      m.ack();
      continue;
    }
    seen.add(m.body.id);
    if (!d) {
      await dead(m, null, `destination ${m.body.destinationId} does not exist`, false);
      continue;
    }
    if (d.revoked_at !== null) {
      await dead(m, null, `destination revoked at ${new Date(d.revoked_at).toISOString()}`, false);
      continue;
    }
    const tasks = byDestination.get(d.id) ?? [];
    tasks.push(async () => {
      const now = Date.now();
      const o = await attempt(m.body, d, await secretOf(d), now);
      if (o.kind === 'delivered') {
        statements.push(
          recordStatement(db, m.body, { status: 'delivered', httpStatus: o.status, reason: null, attempted: true, sealed: null }, now),
        );
        settle.push(() => m.ack());
      } else if (o.kind === 'dead') {
        await dead(m, o.status, o.reason, true);
      } else {
        const delaySeconds = backoffSeconds(m.attempts, base, o.retryAfter);
        const failed = { status: 'failed' as const, httpStatus: o.status, reason: o.reason, attempted: true, sealed: null };
        statements.push(recordStatement(db, m.body, { ...failed, nextAttemptAt: now + delaySeconds * 1000 }, now));
        settle.push(() => m.retry({ delaySeconds }));
      }
    });
    byDestination.set(d.id, tasks);
  }

  await Promise.all([...byDestination].map(([id, tasks]) => limited(tasks, Math.max(1, dests.get(id)!.concurrency))));
  for (let i = 0; i < statements.length; i += 50) await db.batch(statements.slice(i, i + 50));
  for (const s of settle) s();
}

/**
 * The dead-letter queue's batch: deliveries that failed every attempt. Their log row becomes
 * `dead`, keeping the last failure's reason and the sealed message for a retry from the screen.
 * A row already delivered stays delivered.
 */
export async function consumeDeadDeliveries(batch: MessageBatch<DeliveryMessage>, env: Env): Promise<void> {
  const db = env.DB;
  const now = Date.now();
  const statements: D1PreparedStatement[] = [];
  for (const m of wellFormed(batch.messages)) {
    const sealed = await sealMessage(env, m.body);
    statements.push(
      db
        .prepare(
          `INSERT INTO deliveries (id, destination_id, kind, rule_id, rule_version, node_id, contact_id, status, attempts, last_attempt_at,
             last_reason, message_enc, created_at)
           VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'dead', 0, NULL, 'failed every attempt', ?8, ?9)
           ON CONFLICT (id) DO UPDATE SET status = 'dead', message_enc = excluded.message_enc,
             last_reason = COALESCE(deliveries.last_reason, excluded.last_reason)
           WHERE deliveries.status <> 'delivered'`,
        )
        .bind(
          m.body.id,
          m.body.destinationId,
          m.body.kind,
          m.body.rule.id,
          m.body.rule.version,
          m.body.rule.nodeId,
          m.body.contact.id,
          sealed,
          now,
        ),
    );
  }
  for (let i = 0; i < statements.length; i += 50) await db.batch(statements.slice(i, i + 50));
  batch.ackAll();
}
