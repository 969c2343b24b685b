/**
 * A push right after a change: when a tag write on a synced, Segflow-owned tag commits (a publish,
 * rule execution, a manual edit, an import, a rollback), a `drain` hint goes on the WeCom queue,
 * so the change reaches WeCom within seconds instead of at the next cron minute
 * (docs/wecom-push.md, "When").
 *
 * - `hintPushes` runs after the write committed (the request, queue batch or publish step that
 *   wrote tags): per connection, if the tag ledger holds a row to push after what the last hint
 *   looked at, and no hint is pending, it claims the pending slot in D1 (`hint_due_at`) and sends
 *   one `drain` message delayed by HINT_DELAY_SECONDS. A burst of writes (webhook events) while
 *   a hint is pending sends nothing more: the pending drain reads them all. So at most one
 *   message per connection per HINT_DELAY_SECONDS.
 * - `consumeDrainHint` (the queue's `drain` message) frees the slot FIRST, then drains: a write
 *   committed before the slot was freed is read by this drain; one after it claims a new hint.
 *   Nothing is lost between the two; a hint whose message was lost is taken as gone after
 *   HINT_STALE_MS, and the cron's drain every minute stays the safety net.
 * - No loops: only ledger rows whose source is not `wecom` count, as in the drain itself.
 */
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../../app-env';
import { tagWrites } from '../../tagging/tag-writer';
import { sendSync } from '../sync/message';
import { drainPushes } from './push';

/** A hint waits this long on the queue: writes of the next seconds ride on the same drain. */
export const HINT_DELAY_SECONDS = 2;
/** A hint pending longer than this is taken as lost (its message dropped): the next write hints again. */
export const HINT_STALE_MS = 5 * 60_000;
/** Drain pages per hint (5,000 contacts each); a fuller ledger sends the next hint at once. */
const HINT_PAGES = 5;

/** The Segflow-owned tags of connection `s.connection_id` (as push.ts's PUSHABLE_TAG, correlated). */
const OWNED_OF_STATE = `SELECT m.segflow_id FROM wecom_tag_map m JOIN tags t ON t.id = m.segflow_id JOIN tag_groups g ON g.id = t.group_id
  WHERE m.connection_id = s.connection_id AND m.kind = 'tag' AND m.deleted_at IS NULL AND g.wecom_policy = 'segflow'`;

/**
 * Sends a drain hint for every connection with a change to push that has none pending. Call it
 * after a tag write committed; it never throws (a failed hint leaves the change to the cron).
 * Answers the connections hinted.
 */
export async function hintPushes(env: Pick<Env, 'DB' | 'WECOM_SYNC'>, now = Date.now()): Promise<number[]> {
  try {
    const db = env.DB;
    const [claimed] = await db.batch([
      db
        .prepare(
          `UPDATE wecom_push_state AS s SET hint_due_at = ?1 + ?2 * 1000, updated_at = ?1
           WHERE (s.hint_due_at IS NULL OR s.hint_due_at < ?1 - ?3)
             AND EXISTS (SELECT 1 FROM wecom_connections c WHERE c.id = s.connection_id AND c.contact_secret_enc IS NOT NULL)
             AND EXISTS (SELECT 1 FROM tag_ledger l WHERE l.id > max(s.ledger_cursor, s.hint_seen_id) AND l.source <> 'wecom'
               AND l.tag_id IN (${OWNED_OF_STATE}))
           RETURNING connection_id`,
        )
        .bind(now, HINT_DELAY_SECONDS, HINT_STALE_MS),
      // what was looked at is not looked at again (a pending hint's drain reads from the cursor, not from here)
      db.prepare(
        `UPDATE wecom_push_state SET hint_seen_id = (SELECT coalesce(max(id), 0) FROM tag_ledger)
         WHERE hint_seen_id < (SELECT coalesce(max(id), 0) FROM tag_ledger)`,
      ),
    ]);
    const ids = (claimed!.results as { connection_id: number }[]).map((r) => r.connection_id);
    for (const connectionId of ids) {
      try {
        await sendSync(env, { v: 1, type: 'drain', connectionId }, HINT_DELAY_SECONDS);
      } catch (e) {
        // the slot is freed so the next write hints again; the cron drains meanwhile
        console.error(`wecom push hint for connection ${connectionId} not sent`, e);
        await db.prepare('UPDATE wecom_push_state SET hint_due_at = NULL WHERE connection_id = ?').bind(connectionId).run();
      }
    }
    return ids;
  } catch (e) {
    console.error('wecom push hints failed; the cron drains within a minute', e);
    return [];
  }
}

/** The `drain` message: the slot freed, then the ledger drained into push messages. */
export async function consumeDrainHint(env: Env, connectionId: number, now = Date.now()): Promise<void> {
  await env.DB.prepare('UPDATE wecom_push_state SET hint_due_at = NULL WHERE connection_id = ?').bind(connectionId).run();
  for (let page = 0; page < HINT_PAGES; page++) {
    const d = await drainPushes(env, connectionId, now);
    if (d.scanned === 0) return;
  }
  // more than a hint drains: the rest at once, as another hint
  await sendSync(env, { v: 1, type: 'drain', connectionId });
}

/**
 * Runs `work` and hints the push after it when it prepared tag writes (not from WeCom) in this
 * isolate: for the entry points that are not requests (a queue batch, a publish step).
 */
export async function hintingAfter<T>(env: Pick<Env, 'DB' | 'WECOM_SYNC'>, work: () => Promise<T>): Promise<T> {
  const before = tagWrites.count;
  try {
    return await work();
  } finally {
    if (tagWrites.count !== before) await hintPushes(env);
  }
}

/**
 * The API's hook: a write request that prepared tag writes hints the push after its answer
 * (waitUntil, so the answer does not wait for it). Another request of the isolate moving the count
 * only costs a hint that finds nothing.
 */
export const hintPushesAfterWrites = createMiddleware<AppEnv>(async (c, next) => {
  const before = tagWrites.count;
  await next();
  if (c.req.method === 'GET' || tagWrites.count === before) return;
  const hint = hintPushes(c.env);
  try {
    c.executionCtx.waitUntil(hint);
  } catch {
    await hint; // no execution context (app.request in a test): wait here
  }
});
