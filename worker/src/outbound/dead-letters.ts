/**
 * The dead-letter list and its retries. A dead row keeps the delivery's queue message sealed
 * (consume.ts `sealMessage`); a retry opens it, puts it back on the deliveries queue under the
 * same delivery id, and marks the row `queued`, with its audit entry in the same batch.
 */
import { DEAD_LETTER_PAGE, type DeadLetter, type DeadLetterList } from '@shared/api/destinations';
import { AuditSql, auditInsert } from '../audit';
import type { Actor } from '../auth/access';
import { fieldKeys, openField } from '../crypto/fields';
import { batch, typed, type CountRow, type DeliveryRow } from '../db/rows';
import { ApiError } from '../errors';
import { enqueueDeliveries, type DeliveryMessage } from './enqueue';
import { getDestination } from './destinations';

type Row = Pick<
  DeliveryRow,
  | 'id'
  | 'destination_id'
  | 'kind'
  | 'rule_id'
  | 'rule_version'
  | 'node_id'
  | 'contact_id'
  | 'attempts'
  | 'last_attempt_at'
  | 'last_status'
  | 'last_reason'
> & { destination_name: string; rule_name: string | null };

const SELECT = `SELECT d.id, d.destination_id, t.name AS destination_name, d.kind, d.rule_id, d.rule_version, d.node_id,
    (SELECT name FROM rules WHERE id = d.rule_id) AS rule_name, d.contact_id, d.attempts, d.last_attempt_at, d.last_status, d.last_reason
  FROM deliveries d JOIN destinations t ON t.id = d.destination_id`;

const toDeadLetter = (r: Row): DeadLetter => ({
  deliveryId: r.id,
  destination: { id: r.destination_id, name: r.destination_name },
  kind: r.kind,
  rule: { id: r.rule_id, version: r.rule_version, name: r.rule_name, nodeId: r.node_id },
  contactId: r.contact_id,
  attempts: r.attempts,
  lastAttemptAt: r.last_attempt_at,
  lastStatus: r.last_status,
  reason: r.last_reason,
});

/** Dead letters, the most recent failure first; of one destination when `destinationId` is given. */
export async function listDeadLetters(db: D1Database, destinationId: number | undefined): Promise<DeadLetterList> {
  const where = destinationId === undefined ? "d.status = 'dead'" : "d.status = 'dead' AND d.destination_id = ?";
  const args = destinationId === undefined ? [] : [destinationId];
  const [rows, count] = await batch(db, [
    typed<Row>(
      db
        .prepare(`${SELECT} WHERE ${where} ORDER BY d.last_attempt_at IS NULL, d.last_attempt_at DESC, d.id LIMIT ${DEAD_LETTER_PAGE}`)
        .bind(...args),
    ),
    typed<CountRow>(db.prepare(`SELECT COUNT(*) AS n FROM deliveries d WHERE ${where}`).bind(...args)),
  ]);
  return { items: rows.results.map(toDeadLetter), total: count.results[0]?.n ?? 0 };
}

/** Most dead letters one "retry all" puts back on the queue; the screen says when more remain. */
export const RETRY_ALL_LIMIT = 500;

async function requeue(env: Env, rows: Pick<DeliveryRow, 'id' | 'message_enc'>[]): Promise<DeliveryMessage[]> {
  const keys = await fieldKeys(env);
  const out: DeliveryMessage[] = [];
  for (const r of rows) {
    if (!r.message_enc) continue;
    try {
      out.push(JSON.parse(await openField(keys, r.message_enc)) as DeliveryMessage);
    } catch {
      // sealed with a field key since rotated: nothing to send; it stays in the list
      console.error(`dead letter ${r.id}: its message cannot be opened with the current FIELD_KEY`);
    }
  }
  return out;
}

/**
 * Puts dead letters back on the queue: one (`deliveryId`) or all of a destination. The rows turn
 * `queued` in the batch that writes the audit entry; the queue then has the messages. Should
 * the send fail after that, the rows say `queued` without a message in flight: the error
 * reaches the caller, and the rows keep their sealed messages for another retry.
 */
export async function retryDeadLetters(
  env: Env,
  target: { deliveryId: string } | { destinationId: number },
  actor: Actor,
  now: number,
): Promise<number> {
  const db = env.DB;
  const rows =
    'deliveryId' in target
      ? (
          await db
            .prepare(`SELECT id, destination_id, message_enc FROM deliveries WHERE id = ? AND status = 'dead'`)
            .bind(target.deliveryId)
            .all<Pick<DeliveryRow, 'id' | 'destination_id' | 'message_enc'>>()
        ).results
      : (
          await db
            .prepare(
              `SELECT id, destination_id, message_enc FROM deliveries WHERE destination_id = ? AND status = 'dead' ORDER BY last_attempt_at LIMIT ${RETRY_ALL_LIMIT}`,
            )
            .bind(target.destinationId)
            .all<Pick<DeliveryRow, 'id' | 'destination_id' | 'message_enc'>>()
        ).results;
  if ('deliveryId' in target && !rows.length) throw new ApiError(404, 'not_found', `No dead letter with delivery id ${target.deliveryId}`);
  const destinationId = 'deliveryId' in target ? rows[0]!.destination_id : target.destinationId;
  const destination = await getDestination(db, destinationId);
  if (destination.revokedAt !== null)
    throw new ApiError(409, 'conflict', `Destination "${destination.name}" is revoked: its dead letters cannot be sent again`, [
      { path: 'destinationId', message: 'revoked' },
    ]);
  const messages = await requeue(env, rows);
  if (!messages.length) return 0;
  // Only the rows this request turns from dead to queued are sent: a retry racing another one
  // (two admins, one click twice) sends each dead letter once, and its entry counts what it sent.
  const variant = 'deliveryId' in target ? 'one' : 'all';
  const [flipped] = await db.batch<{ id: string }>([
    db
      .prepare(`UPDATE deliveries SET status = 'queued' WHERE status = 'dead' AND id IN (SELECT value FROM json_each(?)) RETURNING id`)
      .bind(JSON.stringify(messages.map((m) => m.id))),
    auditInsert(
      db,
      {
        actor,
        action: 'destination.retry',
        objectType: 'destination',
        objectId: destinationId,
        summary: new AuditSql(`'Sent ' || changes() || ' dead letter(s) to ' || ? || ' again'`, destination.name),
        params: new AuditSql(`json_object('variant', ?, 'name', ?, 'count', changes())`, variant, destination.name),
        at: now,
      },
      { where: 'changes() > 0' },
    ),
  ]);
  const sent = new Set(flipped!.results.map((r) => r.id));
  const toSend = messages.filter((m) => sent.has(m.id));
  await enqueueDeliveries(env, toSend);
  return toSend.length;
}
