/**
 * The push: Segflow's changes of synced, Segflow-owned tags reach WeCom with mark_tag, one call
 * per follow-user relation (docs/wecom-push.md, "Pushing tag changes").
 *
 * - `drainPushes` reads the tag ledger after the connection's cursor: a row of a Segflow-owned tag
 *   (mapped for the connection, its group's policy `segflow`) whose source is not `wecom` queues its contact
 *   (one message per contact on the WeCom queue). A change that came from WeCom is never read
 *   as one to push: no loops. Messages are sent before the cursor moves, so a crash sends twice,
 *   never loses (the push is state-based, a second one finds nothing to do).
 * - `pushContact` (the queue consumer's `push` message) compares, per live relation of the
 *   customer, the mapped corp tags Segflow holds with the relation's `tag_ids` (what WeCom holds,
 *   as last read or pushed) and sends one mark_tag with the additions and removals; then writes
 *   WeCom's new state into `wecom_relations`, so the pull does not take it for a WeCom-side edit.
 *   84061 (the relation is gone in WeCom) marks the relation gone; the others are still marked.
 */
import { WecomApiError } from '../errors';
import { WecomClient } from '../client';
import type { WecomSyncMessage } from '../sync/message';

/**
 * A drain page: up to this many ledger rows after the cursor (a range of the primary key; rows of
 * other sources and tags are skipped in SQL, so a backfill's thousands of `wecom` rows cost a scan,
 * not a page each), queueing at most DRAIN_CONTACTS contacts.
 */
const DRAIN_ROWS = 50_000;
const DRAIN_CONTACTS = 5_000;
const MARK_TAG = '/cgi-bin/externalcontact/mark_tag';
/** 「全局错误码」: 不存在外部联系人的关系. */
const NO_RELATION = 84061;

/**
 * The tags a push may write, "Segflow-owned": mapped for the connection (so their group is in
 * WeCom: mirrored, or pulled) in a group whose policy is `segflow`.
 */
/*
 * `+r.connection_id` in the relation reads below: without it SQLite reads a contact's relations
 * through the primary key's (connection_id, …) prefix, every relation of the corp, instead of
 * `wecom_relations_ext_idx` (a push read 115,000 rows at 100k customers; bench/wecom.ts).
 */
const PUSHABLE_TAG = `SELECT m.segflow_id FROM wecom_tag_map m JOIN tags t ON t.id = m.segflow_id JOIN tag_groups g ON g.id = t.group_id
  WHERE m.connection_id = ?1 AND m.kind = 'tag' AND m.deleted_at IS NULL AND g.wecom_policy = 'segflow'`;

/** Segflow-owned tags of the connection: rows of (wecom_id, segflow_id), for a caller's read batch. */
export function segflowOwnedTagsStatement(db: D1Database, connectionId: number): D1PreparedStatement {
  return db
    .prepare(
      `SELECT m.wecom_id, m.segflow_id FROM wecom_tag_map m WHERE m.connection_id = ?1 AND m.kind = 'tag' AND m.segflow_id IN (${PUSHABLE_TAG})`,
    )
    .bind(connectionId);
}

/** Segflow-owned tags of the connection: WeCom tag id → Segflow tag id. */
export async function segflowOwnedTags(db: D1Database, connectionId: number): Promise<Map<string, number>> {
  const { results } = await segflowOwnedTagsStatement(db, connectionId).all<{ wecom_id: string; segflow_id: number }>();
  return new Map(results.map((r) => [r.wecom_id, r.segflow_id]));
}

/** Push messages for `contactIds` (after the caller's batch committed: the push reads what it wrote). */
export async function queuePushes(env: Pick<Env, 'WECOM_SYNC'>, connectionId: number, contactIds: readonly number[]): Promise<void> {
  for (let i = 0; i < contactIds.length; i += 100) {
    await env.WECOM_SYNC.sendBatch(
      contactIds.slice(i, i + 100).map((contactId) => ({
        body: { v: 1, type: 'push', connectionId, contactId } satisfies WecomSyncMessage,
        contentType: 'json' as const,
      })),
    );
  }
}

export interface DrainResult {
  /** ledger rows read */
  scanned: number;
  /** contacts queued */
  queued: number;
  cursor: number;
}

export async function drainPushes(env: Pick<Env, 'DB' | 'WECOM_SYNC'>, connectionId: number, now = Date.now()): Promise<DrainResult> {
  const db = env.DB;
  const cursor =
    (await db
      .prepare('SELECT ledger_cursor FROM wecom_push_state WHERE connection_id = ?')
      .bind(connectionId)
      .first<number>('ledger_cursor')) ?? 0;
  const window = `SELECT id, contact_id, tag_id, source FROM tag_ledger WHERE id > ?2 ORDER BY id LIMIT ?3`;
  const [span, pushable] = await db.batch([
    db.prepare(`SELECT count(*) AS n, max(id) AS last FROM (${window})`).bind(connectionId, cursor, DRAIN_ROWS),
    // each contact to push once, in the order of its first row; one more than a page holds tells where the page ends
    db
      .prepare(
        `SELECT l.contact_id, min(l.id) AS first FROM (${window}) l
         WHERE l.source <> 'wecom' AND l.tag_id IN (${PUSHABLE_TAG})
           AND EXISTS (SELECT 1 FROM contacts c JOIN wecom_relations r ON r.external_userid = c.external_id
             WHERE c.id = l.contact_id AND +r.connection_id = ?1 AND r.deleted_at IS NULL)
         GROUP BY l.contact_id ORDER BY first LIMIT ?4`,
      )
      .bind(connectionId, cursor, DRAIN_ROWS, DRAIN_CONTACTS + 1),
  ]);
  const { n, last } = span!.results[0] as { n: number; last: number | null };
  if (!n || last === null) return { scanned: 0, queued: 0, cursor };
  let rows = pushable!.results as { contact_id: number; first: number }[];
  let next = last;
  let scanned = n;
  if (rows.length > DRAIN_CONTACTS) {
    // the page ends before the first row of the contact it has no room for
    next = rows[DRAIN_CONTACTS]!.first - 1;
    rows = rows.slice(0, DRAIN_CONTACTS);
    scanned = (await db.prepare('SELECT count(*) AS n FROM tag_ledger WHERE id > ? AND id <= ?').bind(cursor, next).first<number>('n'))!;
  }
  const contacts = rows.map((r) => r.contact_id);
  await queuePushes(env, connectionId, contacts);
  await db.batch([
    db
      .prepare(
        `INSERT INTO wecom_push_log (connection_id, contact_id, status, updated_at) SELECT ?1, value, 'queued', ?2 FROM json_each(?3) WHERE true
         ON CONFLICT(connection_id, contact_id) DO UPDATE SET status = 'queued', attempts = 0, errcode = NULL, errmsg = NULL, updated_at = excluded.updated_at`,
      )
      .bind(connectionId, now, JSON.stringify(contacts)),
    db
      .prepare(
        `INSERT INTO wecom_push_state (connection_id, ledger_cursor, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(connection_id) DO UPDATE SET ledger_cursor = max(ledger_cursor, excluded.ledger_cursor), updated_at = excluded.updated_at`,
      )
      .bind(connectionId, next, now),
  ]);
  return { scanned, queued: contacts.length, cursor: next };
}

export interface PushResult {
  /** mark_tag calls WeCom accepted */
  marked: number;
  /** relations WeCom says are gone (84061), marked gone here */
  gone: number;
}

/** Runs a WeCom call when the caller allows it (e.g. a cap on mark_tag calls in flight across pushes). */
export type CallGate = <T>(call: () => Promise<T>) => Promise<T>;

export async function pushContact(
  env: Env,
  connectionId: number,
  contactId: number,
  now = Date.now(),
  gate: CallGate = (call) => call(),
): Promise<PushResult> {
  const db = env.DB;
  const [pushable, held, relations] = await db.batch([
    db
      .prepare(
        `SELECT m.wecom_id, m.segflow_id FROM wecom_tag_map m WHERE m.connection_id = ?1 AND m.kind = 'tag' AND m.segflow_id IN (${PUSHABLE_TAG})`,
      )
      .bind(connectionId),
    db.prepare('SELECT tag_id FROM contact_tags WHERE contact_id = ?').bind(contactId),
    db
      .prepare(
        `SELECT r.userid, r.external_userid, r.tag_ids FROM wecom_relations r JOIN contacts c ON c.external_id = r.external_userid
         WHERE c.id = ?2 AND +r.connection_id = ?1 AND r.deleted_at IS NULL ORDER BY r.userid`,
      )
      .bind(connectionId, contactId),
  ]);
  const wecomIdOf = new Map((pushable!.results as { wecom_id: string; segflow_id: number }[]).map((m) => [m.segflow_id, m.wecom_id]));
  const managed = new Set(wecomIdOf.values());
  const want = new Set((held!.results as { tag_id: number }[]).flatMap((h) => (wecomIdOf.has(h.tag_id) ? [wecomIdOf.get(h.tag_id)!] : [])));
  const client = new WecomClient(env, connectionId, 'contact');
  const out: PushResult = { marked: 0, gone: 0 };
  const todo = (relations!.results as { userid: string; external_userid: string; tag_ids: string }[]).flatMap((r) => {
    const have: string[] = JSON.parse(r.tag_ids);
    const add = [...want].filter((id) => !have.includes(id));
    const remove = have.filter((id) => managed.has(id) && !want.has(id));
    return add.length || remove.length ? [{ r, have, add, remove }] : [];
  });
  // the log row goes with the last relation's write (one D1 round trip fewer per push), or alone
  let logged = false;
  for (const [i, { r, have, add, remove }] of todo.entries()) {
    try {
      await gate(() => client.post(MARK_TAG, { userid: r.userid, external_userid: r.external_userid, add_tag: add, remove_tag: remove }));
    } catch (e) {
      if (e instanceof WecomApiError && e.errcode === NO_RELATION) {
        await db
          .prepare(
            'UPDATE wecom_relations SET deleted_at = ? WHERE connection_id = ? AND userid = ? AND external_userid = ? AND deleted_at IS NULL',
          )
          .bind(now, connectionId, r.userid, r.external_userid)
          .run();
        out.gone++;
        continue;
      }
      throw e;
    }
    const next = [...have.filter((id) => !remove.includes(id)), ...add];
    const last = i === todo.length - 1;
    await db.batch([
      db
        .prepare('UPDATE wecom_relations SET tag_ids = ?, synced_at = ? WHERE connection_id = ? AND userid = ? AND external_userid = ?')
        .bind(JSON.stringify(next), now, connectionId, r.userid, r.external_userid),
      db.prepare('UPDATE wecom_push_state SET marked = marked + 1, updated_at = ? WHERE connection_id = ?').bind(now, connectionId),
      ...(last ? doneStatements(db, connectionId, contactId, now) : []),
    ]);
    logged = last;
    out.marked++;
  }
  if (!logged) await db.batch(doneStatements(db, connectionId, contactId, now));
  return out;
}

/**
 * A push that went through: its log row sent, and the WeCom-side edits of the customer it found
 * pending reverted (every live relation now holds Segflow's state of the Segflow-owned tags).
 */
function doneStatements(db: D1Database, connectionId: number, contactId: number, now: number): D1PreparedStatement[] {
  return [
    markLogStatement(db, connectionId, contactId, { status: 'sent' }, now),
    db
      .prepare(
        `UPDATE wecom_push_overrides SET reverted_at = ?3 WHERE connection_id = ?1 AND reverted_at IS NULL
         AND external_userid = (SELECT external_id FROM contacts WHERE id = ?2)`,
      )
      .bind(connectionId, contactId, now),
  ];
}

/** The push log row of a contact: sent, or the error of an attempt (still queued; `dead` after the last). */
export async function markLog(
  db: D1Database,
  connectionId: number,
  contactId: number,
  s: { status: 'queued' | 'sent' | 'dead'; errcode?: number | null; errmsg?: string | null },
  now = Date.now(),
): Promise<void> {
  await markLogStatement(db, connectionId, contactId, s, now).run();
}

function markLogStatement(
  db: D1Database,
  connectionId: number,
  contactId: number,
  s: { status: 'queued' | 'sent' | 'dead'; errcode?: number | null; errmsg?: string | null },
  now: number,
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO wecom_push_log (connection_id, contact_id, status, attempts, errcode, errmsg, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
       ON CONFLICT(connection_id, contact_id) DO UPDATE SET status = excluded.status, attempts = attempts + excluded.attempts,
         errcode = CASE WHEN excluded.status = 'sent' THEN NULL ELSE coalesce(excluded.errcode, errcode) END,
         errmsg = CASE WHEN excluded.status = 'sent' THEN NULL ELSE coalesce(excluded.errmsg, errmsg) END, updated_at = excluded.updated_at`,
    )
    .bind(connectionId, contactId, s.status, s.status === 'queued' ? 1 : 0, s.errcode ?? null, s.errmsg ?? null, now);
}
