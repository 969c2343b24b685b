/**
 * Intake dead letters: messages of the intake queue that were not stored (see ./consumer.ts),
 * kept in `intake_dead_letters` for super admins to read and requeue
 * (`/api/intake/dead-letters`, worker/src/routes/intake.ts).
 *
 * A message holds an event with its contact's attributes (names, remarks: personal data), so the
 * table keeps the whole message only sealed with FIELD_KEY (AES-256-GCM, ../crypto/fields.ts)
 * and, in the clear, only what the list needs: source, received time, event ids, reason,
 * attempts. Requeuing opens the seal and sends the message back to the intake queue as it was
 * (same received time); the pipeline's dedupe makes a requeue of something stored meanwhile
 * harmless.
 */
import { fieldKeys, openField, sealField } from '../crypto/fields';
import { ApiError } from '../errors';
import { auditStatementIfChanged } from '../audit';
import type { Actor } from '../auth/access';
import type { IntakeDeadLetterRow } from '../db/rows';
import type { IntakeDeadLetter, IntakeDeadLetterList } from '@shared/api/intake';
import { readPage, type PageQuery } from '../db/page';
import { MAX_DELIVERIES } from './consumer';

export interface DeadLetter {
  messageId: string;
  body: unknown;
  attempts: number;
  reason: string;
}

/** What the list shows of a body without opening it (a body that is not an intake message gives what it has). */
function describe(body: unknown): { sourceId: string; receivedAt: number | null; eventIds: string[] } {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const event = (typeof b.event === 'object' && b.event !== null ? b.event : {}) as Record<string, unknown>;
  return {
    sourceId: typeof b.sourceId === 'string' ? b.sourceId.slice(0, 64) : '',
    receivedAt: typeof b.receivedAt === 'number' ? b.receivedAt : null,
    eventIds: typeof event.id === 'string' ? [event.id] : [],
  };
}

/** Stores `letters` in one batch; a message already kept (a redelivered batch) is not kept twice. */
export async function storeDeadLetters(db: D1Database, env: Env, letters: DeadLetter[], now: number): Promise<void> {
  const keys = await fieldKeys(env);
  const stmts = await Promise.all(
    letters.map(async (l) => {
      const d = describe(l.body);
      return db
        .prepare(
          `INSERT INTO intake_dead_letters (message_id, source_id, received_at, event_ids, reason, attempts, payload_enc, dead_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING`,
        )
        .bind(
          l.messageId,
          d.sourceId,
          d.receivedAt ?? now,
          JSON.stringify(d.eventIds),
          l.reason.slice(0, 1000),
          l.attempts,
          await sealField(keys, JSON.stringify(l.body ?? null)),
          now,
        );
    }),
  );
  await db.batch(stmts);
}

/**
 * The dead-letter queue's consumer: messages whose every delivery ended without the consumer
 * settling them (it crashed or ran out of time; a message that failed with an error was kept by
 * the consumer itself, with that error).
 */
export async function consumeIntakeDead(batch: MessageBatch<unknown>, env: Env, db: D1Database = env.DB): Promise<void> {
  const reason = `delivered ${MAX_DELIVERIES} times without the consumer finishing (a crash or a time-out)`;
  try {
    await storeDeadLetters(
      db,
      env,
      batch.messages.map((m) => ({ messageId: m.id, body: m.body, attempts: MAX_DELIVERIES, reason })),
      Date.now(),
    );
    batch.ackAll();
  } catch (e) {
    console.error(`intake dead letters: cannot store ${batch.messages.length}, retried: ${String(e)}`);
    batch.retryAll({ delaySeconds: 60 });
  }
}

type ListedRow = Omit<IntakeDeadLetterRow, 'payload_enc'> & { requeued_by_email: string | null };

function toApi(r: ListedRow): IntakeDeadLetter {
  return {
    id: r.id,
    sourceId: r.source_id,
    receivedAt: r.received_at,
    eventIds: JSON.parse(r.event_ids) as string[],
    reason: r.reason,
    attempts: r.attempts,
    deadAt: r.dead_at,
    requeuedAt: r.requeued_at,
    requeuedBy: r.requeued_by === null ? null : { id: r.requeued_by, email: r.requeued_by_email },
  };
}

const LIST_SQL = `SELECT d.id, d.message_id, d.source_id, d.received_at, d.event_ids, d.reason, d.attempts, d.dead_at, d.requeued_at, d.requeued_by,
  u.email AS requeued_by_email FROM intake_dead_letters d LEFT JOIN users u ON u.id = d.requeued_by`;

/** A page of dead letters, newest first; `pending` only those not requeued yet. */
export async function listDeadLetters(db: D1Database, q: PageQuery & { pending: boolean }): Promise<IntakeDeadLetterList> {
  const where = q.pending ? ' WHERE d.requeued_at IS NULL' : '';
  const { rows, ...page } = await readPage<ListedRow>(
    db,
    q,
    `${LIST_SQL}${where} ORDER BY d.id DESC`,
    `SELECT count(*) AS n FROM intake_dead_letters d${where}`,
    [],
  );
  return { ...page, items: rows.map(toApi) };
}

/**
 * Sends a dead letter's message back to the intake queue and marks it requeued, with its audit
 * entry. A letter requeued already is a 409 (the first requeue's message may still be on its way).
 */
export async function requeueDeadLetter(db: D1Database, env: Env, id: number, actor: Actor, now: number): Promise<IntakeDeadLetter> {
  const row = await db.prepare('SELECT * FROM intake_dead_letters WHERE id = ?').bind(id).first<IntakeDeadLetterRow>();
  if (!row) throw new ApiError(404, 'not_found', `No dead letter ${id}`, [{ path: 'id', message: 'no such dead letter' }]);
  if (row.requeued_at !== null) {
    throw new ApiError(409, 'conflict', `Dead letter ${id} was requeued at ${new Date(row.requeued_at).toISOString()} already`);
  }
  const body = JSON.parse(await openField(await fieldKeys(env), row.payload_enc)) as unknown;
  try {
    await env.INTAKE.send(body, { contentType: 'json' });
  } catch (e) {
    throw new ApiError(503, 'unavailable', `The intake queue refused the message: ${(e as Error).message}; try again`);
  }
  const eventIds = JSON.parse(row.event_ids) as string[];
  // Guarded: of two requeues at once both messages go out (harmless: dedupe), one marks and audits.
  const [marked] = await db.batch([
    db
      .prepare('UPDATE intake_dead_letters SET requeued_at = ?, requeued_by = ? WHERE id = ? AND requeued_at IS NULL')
      .bind(now, actor.userId, id),
    auditStatementIfChanged(db, {
      action: 'event_source.requeue',
      objectType: 'event_source',
      objectId: row.source_id,
      summary: `Requeued dead letter ${id} of source ${row.source_id} (${eventIds.length} events)`,
      params: { id: row.source_id, letter: id, events: eventIds.length },
      at: now,
      actor,
    }),
  ]);
  if (!marked?.meta.changes) throw new ApiError(409, 'conflict', `Dead letter ${id} was requeued by someone else at the same time`);
  const listed = await db.prepare(`${LIST_SQL} WHERE d.id = ?`).bind(id).first<ListedRow>();
  if (!listed) throw new ApiError(404, 'not_found', `Dead letter ${id} no longer exists`);
  return toApi(listed);
}
