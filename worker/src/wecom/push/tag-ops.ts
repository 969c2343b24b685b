/**
 * Renaming and retiring mirrored tags in WeCom (docs/wecom-push.md, "Renames and retirements").
 * WeCom's 「管理企业标签」 (path/92117): edit_corp_tag {id, name} renames a tag or a tag group
 * (40071 when the group already has a tag of that name, or another group that name); del_corp_tag
 * {tag_id} deletes a tag, which leaves every customer holding it; an app may edit and delete only
 * the tags it created (301002).
 *
 * State, not events, as the push: a `tag_op` message names a mapped corp tag or group, and its
 * consumer compares the mapping with Segflow's tag now: retired → del_corp_tag; a WeCom name
 * (mapping.ts) that differs → edit_corp_tag; equal → nothing. So a rename then a retire, or two
 * renames, converge on one state; a redelivery finds nothing to do.
 *
 * Only tags and groups of groups marked "sync to WeCom" are asked for (a pulled group's names are
 * WeCom's, kept by the pull). A corp tag WeCom's console or another app created (`origin` wecom) is
 * never edited or deleted: the op is failed with 301002 at once, and the screen says to rename or
 * delete it in WeCom's console. The latest op per item is on `wecom_tag_ops` for the sync screen.
 */
import type { WecomTagOp, WecomTagOps } from '@shared/api/wecom';
import { WecomApiError, WecomRateLimitedError } from '../errors';
import { WecomClient } from '../client';
import { errcodeWords } from '../words';
import { tagPath, wecomGroupName, wecomTagName, type TagRow } from './mapping';

const EDIT_CORP_TAG = '/cgi-bin/externalcontact/edit_corp_tag';
const DEL_CORP_TAG = '/cgi-bin/externalcontact/del_corp_tag';
/** WeCom's answers no retry changes: 40058 bad name, 40068 no such tag, 40071 name taken, 301002 not ours. */
const FINAL_ERRCODES: ReadonlySet<number> = new Set([40058, 40068, 40071, 301002]);
const OPS_SHOWN = 20;

interface MapRow {
  connection_id: number;
  kind: 'group' | 'tag';
  wecom_id: string;
  segflow_id: number;
  name: string;
  origin: 'segflow' | 'wecom';
}

/**
 * The mapped corp tags and groups of synced groups whose WeCom state no longer matches Segflow's,
 * for a tag (itself and the tags under it: a parent's new name changes their paths) or a group.
 */
async function mismatched(db: D1Database, kind: 'group' | 'tag', segflowId: number): Promise<(MapRow & { want: Want })[]> {
  const groupId =
    kind === 'group' ? segflowId : await db.prepare('SELECT group_id FROM tags WHERE id = ?').bind(segflowId).first<number>('group_id');
  if (groupId === null) return [];
  const [g, t, mm] = await db.batch([
    db.prepare('SELECT id, name FROM tag_groups WHERE id = ? AND wecom_sync = 1').bind(groupId),
    db.prepare('SELECT id, parent_id AS parentId, name, status FROM tags WHERE group_id = ?').bind(groupId),
    db
      .prepare(
        `SELECT connection_id, kind, wecom_id, segflow_id, name, origin FROM wecom_tag_map m WHERE m.deleted_at IS NULL
         AND ((m.kind = 'group' AND m.segflow_id = ?1) OR (m.kind = 'tag' AND m.segflow_id IN (SELECT id FROM tags WHERE group_id = ?1)))`,
      )
      .bind(groupId),
  ]);
  const [group, tags, maps] = [g!.results, t!.results, mm!.results];
  if (!group.length) return [];
  const byId = new Map((tags as (TagRow & { status: string })[]).map((t) => [t.id, t]));
  // the tag and the tags under it (or the group alone)
  const under = (id: number): boolean => {
    for (let t = byId.get(id), n = 0; t && n < 4; t = t.parentId === null ? undefined : byId.get(t.parentId), n++)
      if (t.id === segflowId) return true;
    return false;
  };
  return (maps as MapRow[]).flatMap((m) => {
    if (kind === 'tag' ? m.kind !== 'tag' || !under(m.segflow_id) : m.kind !== 'group') return [];
    const want = wantOf(m, (group as { name: string }[])[0]!.name, byId);
    return want.op === 'none' ? [] : [{ ...m, want }];
  });
}

type Want = { op: 'none' } | { op: 'delete' } | { op: 'rename'; name: string | null };

function wantOf(m: Pick<MapRow, 'kind' | 'segflow_id' | 'name'>, groupName: string, byId: Map<number, TagRow & { status: string }>): Want {
  if (m.kind === 'group') {
    const name = wecomGroupName(groupName);
    return name === m.name ? { op: 'none' } : { op: 'rename', name };
  }
  const tag = byId.get(m.segflow_id);
  if (!tag || tag.status === 'retired') return { op: 'delete' };
  const name = wecomTagName(tagPath(tag, byId));
  return name === m.name ? { op: 'none' } : { op: 'rename', name };
}

/**
 * After a rename or a retirement committed: every mirrored item it changed gets a queued op row and
 * a `tag_op` message. Answers how many were queued.
 */
export async function queueTagOps(env: Pick<Env, 'DB' | 'WECOM_SYNC'>, kind: 'group' | 'tag', segflowId: number, now = Date.now()) {
  const db = env.DB;
  const items = await mismatched(db, kind, segflowId);
  if (!items.length) return 0;
  await db.batch(
    items.map((m) =>
      opStatement(db, m, { op: m.want.op === 'delete' ? 'delete' : 'rename', name: wantName(m), status: 'queued', reset: true }, now),
    ),
  );
  for (let i = 0; i < items.length; i += 100) {
    await env.WECOM_SYNC.sendBatch(
      items.slice(i, i + 100).map((m) => ({
        body: { v: 1 as const, type: 'tag_op' as const, connectionId: m.connection_id, kind: m.kind, wecomId: m.wecom_id },
        contentType: 'json' as const,
      })),
    );
  }
  return items.length;
}

/**
 * The taxonomy routes' hook after a rename or a retirement committed: never fails the change (it
 * is made); a queue that refused leaves the ops queued-looking as failed with the reason, and the
 * next rename of the item queues them again.
 */
export async function mirrorTaxonomyChange(env: Pick<Env, 'DB' | 'WECOM_SYNC'>, kind: 'group' | 'tag', segflowId: number): Promise<void> {
  try {
    await queueTagOps(env, kind, segflowId);
  } catch (e) {
    console.error(`wecom: ${kind} ${segflowId} changed but its WeCom rename/delete was not queued`, e);
    await failQueuedOps(env.DB, kind, segflowId, e);
  }
}

/** Ops an item's `queueTagOps` marked queued but whose messages the queue refused: failed, with the reason. */
export async function failQueuedOps(db: D1Database, kind: 'group' | 'tag', segflowId: number, e: unknown): Promise<void> {
  await db
    .prepare(
      `UPDATE wecom_tag_ops SET status = 'failed', errmsg = ?, updated_at = ? WHERE segflow_id = ? AND kind = ? AND status = 'queued'`,
    )
    .bind(`the WeCom queue refused it: ${e instanceof Error ? e.message : String(e)}`.slice(0, 300), Date.now(), segflowId, kind)
    .run()
    .catch(() => undefined);
}

const wantName = (m: MapRow & { want: Want }) => (m.want.op === 'rename' ? (m.want.name ?? m.name) : m.name);

function opStatement(
  db: D1Database,
  m: Pick<MapRow, 'connection_id' | 'kind' | 'wecom_id' | 'segflow_id'>,
  s: {
    op: 'rename' | 'delete';
    name: string;
    status: 'queued' | 'done' | 'failed';
    errcode?: number | null;
    errmsg?: string | null;
    reset?: boolean;
  },
  now: number,
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO wecom_tag_ops (connection_id, kind, wecom_id, segflow_id, op, name, status, attempts, errcode, errmsg, updated_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
       ON CONFLICT(connection_id, kind, wecom_id) DO UPDATE SET segflow_id = excluded.segflow_id, op = excluded.op, name = excluded.name,
         status = excluded.status, attempts = CASE WHEN ?12 THEN 0 ELSE attempts + excluded.attempts END,
         errcode = excluded.errcode, errmsg = excluded.errmsg, updated_at = excluded.updated_at`,
    )
    .bind(
      m.connection_id,
      m.kind,
      m.wecom_id,
      m.segflow_id,
      s.op,
      s.name,
      s.status,
      s.status === 'queued' && !s.reset ? 1 : 0,
      s.errcode ?? null,
      s.errmsg ?? null,
      now,
      s.reset ? 1 : 0,
    );
}

/**
 * The `tag_op` message: the mapped item brought to Segflow's state. WeCom's final refusals (a name
 * taken, not ours, gone) are kept as failed and not retried; a rate limit and anything else throw
 * (the consumer sends again or retries, and keeps the error with {@link keepTagOpError}).
 */
export async function applyTagOp(env: Env, connectionId: number, kind: 'group' | 'tag', wecomId: string, now = Date.now()): Promise<void> {
  const db = env.DB;
  const m = await db
    .prepare(
      'SELECT connection_id, kind, wecom_id, segflow_id, name, origin FROM wecom_tag_map WHERE connection_id = ? AND kind = ? AND wecom_id = ? AND deleted_at IS NULL',
    )
    .bind(connectionId, kind, wecomId)
    .first<MapRow>();
  if (!m) {
    await db
      .prepare(`UPDATE wecom_tag_ops SET status = 'done', updated_at = ? WHERE connection_id = ? AND kind = ? AND wecom_id = ?`)
      .bind(now, connectionId, kind, wecomId)
      .run();
    return;
  }
  const groupId =
    kind === 'group'
      ? m.segflow_id
      : await db.prepare('SELECT group_id FROM tags WHERE id = ?').bind(m.segflow_id).first<number>('group_id');
  const [g, t] = await db.batch([
    db.prepare('SELECT name FROM tag_groups WHERE id = ?').bind(groupId),
    db.prepare('SELECT id, parent_id AS parentId, name, status FROM tags WHERE group_id = ?').bind(groupId),
  ]);
  const byId = new Map((t!.results as (TagRow & { status: string })[]).map((x) => [x.id, x]));
  const want = wantOf(m, (g!.results as { name: string }[])[0]?.name ?? m.name, byId);
  if (want.op === 'none') {
    await opStatement(db, m, { op: 'rename', name: m.name, status: 'done' }, now).run();
    return;
  }
  const op = want.op;
  const name = op === 'rename' ? (want.name ?? m.name) : m.name;
  const fail = (errcode: number, errmsg: string) => opStatement(db, m, { op, name, status: 'failed', errcode, errmsg }, now).run();
  if (m.origin !== 'segflow') {
    await fail(301002, 'not created by this app: rename or delete it in WeCom’s console');
    return;
  }
  if (op === 'rename' && want.name === null) {
    await fail(40058, `the new name is longer than WeCom's 30 characters`);
    return;
  }
  const client = new WecomClient(env, connectionId, 'contact');
  try {
    if (op === 'rename') await client.post(EDIT_CORP_TAG, { id: wecomId, name });
    else await client.post(DEL_CORP_TAG, { tag_id: [wecomId] });
  } catch (e) {
    if (e instanceof WecomApiError && !(e instanceof WecomRateLimitedError) && FINAL_ERRCODES.has(e.errcode)) {
      await fail(e.errcode, e.errmsg);
      return;
    }
    throw e;
  }
  await db.batch([
    op === 'rename'
      ? db
          .prepare('UPDATE wecom_tag_map SET name = ?, synced_at = ? WHERE connection_id = ? AND kind = ? AND wecom_id = ?')
          .bind(name, now, connectionId, kind, wecomId)
      : db
          .prepare('UPDATE wecom_tag_map SET deleted_at = ?, synced_at = ? WHERE connection_id = ? AND kind = ? AND wecom_id = ?')
          .bind(now, now, connectionId, kind, wecomId),
    opStatement(db, m, { op, name, status: 'done' }, now),
  ]);
}

/** A failed attempt's errcode on its op row (still queued; failed after the last, {@link failTagOp}). */
export async function keepTagOpError(
  db: D1Database,
  connectionId: number,
  kind: 'group' | 'tag',
  wecomId: string,
  e: unknown,
  dead = false,
) {
  const errcode = e instanceof WecomApiError ? e.errcode : null;
  const errmsg = e instanceof WecomApiError ? e.errmsg : e instanceof Error ? e.message.slice(0, 300) : String(e).slice(0, 300);
  await db
    .prepare(
      `UPDATE wecom_tag_ops SET status = ?, attempts = attempts + 1, errcode = coalesce(?, errcode), errmsg = coalesce(?, errmsg), updated_at = ?
       WHERE connection_id = ? AND kind = ? AND wecom_id = ?`,
    )
    .bind(dead ? 'failed' : 'queued', errcode, errmsg, Date.now(), connectionId, kind, wecomId)
    .run();
}

/** The dead-letter consumer's: the op failed every attempt. */
export async function failTagOp(db: D1Database, connectionId: number, kind: 'group' | 'tag', wecomId: string): Promise<void> {
  await db
    .prepare(`UPDATE wecom_tag_ops SET status = 'failed', updated_at = ? WHERE connection_id = ? AND kind = ? AND wecom_id = ?`)
    .bind(Date.now(), connectionId, kind, wecomId)
    .run();
}

/** The sync screen's list: ops by state, the latest first, failed ones with WeCom's errcode in words. */
export async function listTagOps(db: D1Database, connectionId: number): Promise<WecomTagOps> {
  const [counts, rows] = await db.batch([
    db.prepare('SELECT status, count(*) AS n FROM wecom_tag_ops WHERE connection_id = ? GROUP BY status').bind(connectionId),
    db
      .prepare(
        `SELECT o.kind, o.wecom_id, o.segflow_id, o.op, o.name, o.status, o.attempts, o.errcode, o.errmsg, o.updated_at,
           CASE o.kind WHEN 'tag' THEN (SELECT name FROM tags WHERE id = o.segflow_id) ELSE (SELECT name FROM tag_groups WHERE id = o.segflow_id) END AS segflow_name
         FROM wecom_tag_ops o WHERE o.connection_id = ? ORDER BY (o.status = 'failed') DESC, o.updated_at DESC LIMIT ${OPS_SHOWN}`,
      )
      .bind(connectionId),
  ]);
  const byStatus = { queued: 0, done: 0, failed: 0 };
  for (const r of counts!.results as { status: keyof typeof byStatus; n: number }[]) byStatus[r.status] = r.n;
  return {
    counts: byStatus,
    items: (
      rows!.results as {
        kind: 'group' | 'tag';
        wecom_id: string;
        segflow_id: number;
        op: 'rename' | 'delete';
        name: string;
        status: 'queued' | 'done' | 'failed';
        attempts: number;
        errcode: number | null;
        errmsg: string | null;
        updated_at: number;
        segflow_name: string | null;
      }[]
    ).map((r): WecomTagOp => ({
      kind: r.kind,
      wecomId: r.wecom_id,
      segflowId: r.segflow_id,
      segflowName: r.segflow_name,
      op: r.op,
      name: r.name,
      status: r.status,
      attempts: r.attempts,
      errcode: r.errcode,
      words: r.errcode === null ? null : errcodeWords(r.errcode, r.errmsg ?? ''),
      at: r.updated_at,
    })),
  };
}

/** What retiring a tag does in WeCom, per connected corp: the customers and relations losing the corp tag (del_corp_tag). */
export async function retireImpact(db: D1Database, tagId: number) {
  const { results } = await db
    .prepare(
      `SELECT m.connection_id, c.corp_id, m.wecom_id, m.origin,
         (SELECT count(*) FROM wecom_relations r WHERE +r.connection_id = m.connection_id AND r.deleted_at IS NULL
            AND EXISTS (SELECT 1 FROM json_each(r.tag_ids) j WHERE j.value = m.wecom_id)) AS relations,
         (SELECT count(DISTINCT r.external_userid) FROM wecom_relations r WHERE +r.connection_id = m.connection_id AND r.deleted_at IS NULL
            AND EXISTS (SELECT 1 FROM json_each(r.tag_ids) j WHERE j.value = m.wecom_id)) AS customers
       FROM wecom_tag_map m JOIN wecom_connections c ON c.id = m.connection_id JOIN tags t ON t.id = m.segflow_id
       JOIN tag_groups g ON g.id = t.group_id
       WHERE m.kind = 'tag' AND m.segflow_id = ? AND m.deleted_at IS NULL AND g.wecom_sync = 1 ORDER BY m.connection_id`,
    )
    .bind(tagId)
    .all<{ connection_id: number; corp_id: string; wecom_id: string; origin: string; relations: number; customers: number }>();
  return results.map((r) => ({
    connectionId: r.connection_id,
    corpId: r.corp_id,
    wecomId: r.wecom_id,
    deletable: r.origin === 'segflow',
    customers: r.customers,
    relations: r.relations,
  }));
}
