/**
 * What the sync screen shows of the push and the two buttons beside it: the tag groups with their
 * WeCom settings, pushes by state, the failed ones with WeCom's errcode in words; "push now" (the
 * cron's step for one connection, instead of waiting for the minute) and "retry failed" (pushes,
 * and renames / deletions of mirrored corp tags).
 */
import type { WecomFailedPush, WecomPushNowResult, WecomPushStatus, WecomRetryResult } from '@shared/api/wecom';
import { ApiError } from '../../errors';
import type { Actor } from '../../auth/access';
import { auditStatement } from '../../audit';
import { errcodeWords } from '../words';
import { WecomApiError, WecomUnreachableError } from '../errors';
import { WECOM_MAX_CORP_TAGS } from './mapping';
import { queuePushes } from './push';
import { listGroupSettings } from './settings';
import { pushConnection } from './tick';
import { failQueuedOps, listTagOps, queueTagOps } from './tag-ops';

const FAILED_SHOWN = 20;

/**
 * `env` whose WeCom queue answers a refused send with a 503 naming it (the intake routes do the
 * same), for the two buttons below: a person pressed them and can press again.
 */
function refusingQueue(env: Env): Env {
  const queue = env.WECOM_SYNC;
  const refused = (e: unknown): never => {
    throw new ApiError(503, 'unavailable', `The WeCom queue refused the pushes: ${e instanceof Error ? e.message : String(e)}; try again`);
  };
  return {
    ...env,
    WECOM_SYNC: {
      send: (body: unknown, opts?: QueueSendOptions) => queue.send(body, opts).catch(refused),
      sendBatch: (msgs: Iterable<MessageSendRequest<unknown>>, opts?: QueueSendBatchOptions) => queue.sendBatch(msgs, opts).catch(refused),
    } as Queue,
  };
}

async function corpOf(db: D1Database, connectionId: number): Promise<{ corpId: string; canCall: boolean }> {
  const row = await db
    .prepare('SELECT corp_id, contact_secret_enc IS NOT NULL AS can_call FROM wecom_connections WHERE id = ?')
    .bind(connectionId)
    .first<{ corp_id: string; can_call: number }>();
  if (!row) throw new ApiError(404, 'not_found', `No WeCom connection with id ${connectionId}`);
  return { corpId: row.corp_id, canCall: !!row.can_call };
}

export async function pushStatus(db: D1Database, connectionId: number): Promise<WecomPushStatus> {
  await corpOf(db, connectionId);
  const [groups, tagOps, [byState, state, failed]] = await Promise.all([
    listGroupSettings(db, connectionId),
    listTagOps(db, connectionId),
    db.batch([
      db.prepare('SELECT status, count(*) AS n FROM wecom_push_log WHERE connection_id = ? GROUP BY status').bind(connectionId),
      db.prepare('SELECT * FROM wecom_push_state WHERE connection_id = ?').bind(connectionId),
      db
        .prepare(
          `SELECT l.contact_id, c.name, l.errcode, l.errmsg, l.attempts, l.updated_at FROM wecom_push_log l JOIN contacts c ON c.id = l.contact_id
           WHERE l.connection_id = ? AND l.status = 'dead' ORDER BY l.updated_at DESC, l.contact_id DESC LIMIT ${FAILED_SHOWN}`,
        )
        .bind(connectionId),
    ]),
  ]);
  const counts = { queued: 0, sent: 0, dead: 0 };
  for (const r of byState!.results as { status: keyof typeof counts; n: number }[]) counts[r.status] = r.n;
  const s = (
    state!.results as {
      marked: number;
      reverted: number;
      created_tags: number;
      wecom_tag_count: number | null;
      mirrored_at: number | null;
    }[]
  )[0];
  return {
    groups,
    tagOps,
    pushes: counts,
    marked: s?.marked ?? 0,
    reverted: s?.reverted ?? 0,
    createdTags: s?.created_tags ?? 0,
    wecomTags: s?.wecom_tag_count ?? null,
    tagLimit: WECOM_MAX_CORP_TAGS,
    mirroredAt: s?.mirrored_at ?? null,
    failed: (
      failed!.results as {
        contact_id: number;
        name: string;
        errcode: number | null;
        errmsg: string | null;
        attempts: number;
        updated_at: number;
      }[]
    ).map((r): WecomFailedPush => ({
      contactId: r.contact_id,
      contactName: r.name,
      errcode: r.errcode,
      errmsg: r.errmsg,
      words: r.errcode === null && r.errmsg === null ? null : errcodeWords(r.errcode, r.errmsg ?? ''),
      attempts: r.attempts,
      at: r.updated_at,
    })),
  };
}

/** The cron's push step for this connection, now. 409 when WeCom's tag limit stopped the mirror. */
export async function pushNow(env: Env, connectionId: number, actor: Actor, now: number): Promise<WecomPushNowResult> {
  const { corpId, canCall } = await corpOf(env.DB, connectionId);
  if (!canCall) throw new ApiError(409, 'conflict', 'The connection has no 客户联系 secret: Segflow cannot call WeCom for it');
  const r = await pushConnection(refusingQueue(env), connectionId, now).catch((e: unknown) => {
    if (e instanceof WecomApiError) {
      const words = errcodeWords(e.errcode, e.errmsg);
      throw new ApiError(502, 'unavailable', `WeCom answered errcode ${e.errcode}: ${words.en} (${words['zh-CN']})`);
    }
    if (e instanceof WecomUnreachableError) throw new ApiError(502, 'unavailable', `${e.message}; try again`);
    throw e;
  });
  await auditStatement(env.DB, {
    actor,
    action: 'wecom_connection.push',
    objectType: 'wecom_connection',
    objectId: connectionId,
    summary: `Pushed to WeCom ${corpId} now: ${r.queued} customers queued`,
    params: { variant: 'now', corpId, count: r.queued },
    at: now,
  }).run();
  if (r.status === 'limit')
    throw new ApiError(
      409,
      'conflict',
      `WeCom allows ${r.limit} corp tags per company: ${corpId} holds ${r.wecomTags} and the synced groups add ${r.toCreate}. Nothing was created; pushes of tags already in WeCom went on`,
    );
  return { createdTags: r.createdTags, queued: r.queued };
}

/** Failed (dead) pushes sent again: their log rows back to queued, one message per contact. */
export async function retryFailedPushes(env: Env, connectionId: number, actor: Actor, now: number): Promise<WecomRetryResult> {
  const db = env.DB;
  const { corpId } = await corpOf(db, connectionId);
  const { results } = await db
    .prepare(`SELECT contact_id FROM wecom_push_log WHERE connection_id = ? AND status = 'dead'`)
    .bind(connectionId)
    .all<{ contact_id: number }>();
  const ids = results.map((r) => r.contact_id);
  const tagOps = await retryFailedTagOps(env, connectionId, now);
  // sent before the rows change: a failed send leaves them dead (shown, retried again), never
  // queued without a message; a push that runs first marks its row sent, which the update skips
  await queuePushes(refusingQueue(env), connectionId, ids);
  await db.batch([
    db
      .prepare(
        `UPDATE wecom_push_log SET status = 'queued', attempts = 0, updated_at = ?2
         WHERE connection_id = ?1 AND status = 'dead' AND contact_id IN (SELECT value FROM json_each(?3))`,
      )
      .bind(connectionId, now, JSON.stringify(ids)),
    auditStatement(db, {
      actor,
      action: 'wecom_connection.push',
      objectType: 'wecom_connection',
      objectId: connectionId,
      summary: `Retried ${ids.length} failed pushes${tagOps ? ` and ${tagOps} corp tag renames / deletions` : ''} to WeCom ${corpId}`,
      params: tagOps ? { variant: 'retryOps', corpId, count: ids.length, tagOps } : { variant: 'retry', corpId, count: ids.length },
      at: now,
    }),
  ]);
  return { requeued: ids.length, tagOps };
}

/**
 * Failed renames and deletions of mirrored corp tags, asked for again: each item still apart
 * from WeCom is queued anew (a name WeCom refused, 40071, goes through once the clash is gone in
 * WeCom's console); a failed op whose item now matches (renamed back) is done. Answers how many
 * were queued.
 */
async function retryFailedTagOps(env: Env, connectionId: number, now: number): Promise<number> {
  const db = env.DB;
  const { results } = await db
    .prepare(`SELECT DISTINCT kind, segflow_id FROM wecom_tag_ops WHERE connection_id = ? AND status = 'failed'`)
    .bind(connectionId)
    .all<{ kind: 'group' | 'tag'; segflow_id: number }>();
  let queued = 0;
  for (const r of results) {
    try {
      queued += await queueTagOps(refusingQueue(env), r.kind, r.segflow_id, now);
    } catch (e) {
      await failQueuedOps(db, r.kind, r.segflow_id, e); // not left queued without a message: the person may retry
      throw e;
    }
  }
  // what was not queued again has nothing left to do (an op queued above carries `now`, or later if it failed again since)
  await db
    .prepare(`UPDATE wecom_tag_ops SET status = 'done', updated_at = ?2 WHERE connection_id = ?1 AND status = 'failed' AND updated_at < ?2`)
    .bind(connectionId, now)
    .run();
  return queued;
}
