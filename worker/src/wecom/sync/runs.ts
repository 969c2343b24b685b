/**
 * Backfill runs (`wecom_sync_runs`): start one (super admins, audited; one running per
 * connection, 409 naming it otherwise), read the progress, resume a failed or stalled run from
 * its last page, and the bookkeeping the pages do (errors, failure).
 */
import type { WecomSyncError, WecomSyncPhase, WecomSyncRun, WecomSyncState } from '@shared/api/wecom';
import { auditStatement, auditStatementIfChanged } from '../../audit';
import type { Actor } from '../../auth/access';
import { ApiError } from '../../errors';
import { getConnection } from '../connection';
import { sendSync } from './message';

export interface RunRow {
  id: number;
  connection_id: number;
  status: WecomSyncRun['status'];
  phase: WecomSyncPhase | 'done';
  step: number;
  cursor: string;
  user_offset: number;
  pending: string;
  tag_groups: number;
  tags: number;
  follow_users: number;
  relations: number;
  customers: number;
  chats: number;
  rate_limit_waits: number;
  errors: string;
  started_by: number | null;
  starter_name?: string | null;
  started_at: number;
  updated_at: number;
  finished_at: number | null;
}

/** How many errors a run keeps (the latest). */
const KEPT_ERRORS = 20;
/** A running run whose last page is older than this may be resumed (its chain of messages was lost). */
export const STALLED_MS = 10 * 60_000;

const SELECT = `SELECT r.*, u.name AS starter_name FROM wecom_sync_runs r LEFT JOIN users u ON u.id = r.started_by`;

export function toRun(r: RunRow): WecomSyncRun {
  return {
    id: r.id,
    connectionId: r.connection_id,
    status: r.status,
    phase: r.phase,
    pages: r.step,
    counts: {
      tagGroups: r.tag_groups,
      tags: r.tags,
      followUsers: r.follow_users,
      relations: r.relations,
      customers: r.customers,
      chats: r.chats,
    },
    rateLimitWaits: r.rate_limit_waits,
    errors: JSON.parse(r.errors) as WecomSyncError[],
    startedBy: r.started_by !== null && r.starter_name ? { id: r.started_by, name: r.starter_name } : null,
    startedAt: r.started_at,
    updatedAt: r.updated_at,
    finishedAt: r.finished_at,
  };
}

export async function readRun(db: D1Database, id: number): Promise<RunRow | null> {
  return db.prepare(`${SELECT} WHERE r.id = ?`).bind(id).first<RunRow>();
}

export async function syncState(db: D1Database, connectionId: number): Promise<WecomSyncState> {
  await getConnection(db, connectionId);
  const [latest, finished] = await db.batch<RunRow>([
    db.prepare(`${SELECT} WHERE r.connection_id = ? ORDER BY r.id DESC LIMIT 1`).bind(connectionId),
    db.prepare(`${SELECT} WHERE r.connection_id = ? AND r.status = 'finished' ORDER BY r.id DESC LIMIT 1`).bind(connectionId),
  ]);
  const l = latest!.results[0];
  const f = finished!.results[0];
  return { latest: l ? toRun(l) : null, lastFinished: f ? toRun(f) : null };
}

const running = (r: RunRow) =>
  new ApiError(
    409,
    'conflict',
    `Backfill #${r.id} of this connection is running (started ${new Date(r.started_at).toISOString()}, at ${r.phase}): wait for it to finish`,
    [{ path: 'runId', message: `backfill #${r.id} is running` }],
  );

/** Starts a backfill: the run row and its audit entry in one batch, then its first page on the queue. */
export async function startSync(env: Env, connectionId: number, actor: Actor, now: number): Promise<WecomSyncRun> {
  const db = env.DB;
  const conn = await getConnection(db, connectionId);
  if (!conn.secrets.contact.set) {
    throw new ApiError(409, 'conflict', `WeCom connection ${conn.corpId} has no 客户联系 secret: set it first`, [
      { path: 'contactSecret', message: 'is not set' },
    ]);
  }
  const current = await db.prepare(`${SELECT} WHERE r.connection_id = ? AND r.status = 'running'`).bind(connectionId).first<RunRow>();
  if (current) throw running(current);
  let id: number;
  try {
    const [inserted] = await db.batch([
      db
        .prepare(
          `INSERT INTO wecom_sync_runs (connection_id, status, phase, started_by, started_at, updated_at) VALUES (?, 'running', 'tags', ?, ?, ?)`,
        )
        .bind(connectionId, actor.userId, now, now),
      auditStatement(db, {
        actor,
        action: 'wecom_connection.sync',
        objectType: 'wecom_connection',
        objectId: connectionId,
        summary: `Started a backfill from WeCom corp ${conn.corpId}`,
        params: { corpId: conn.corpId },
        at: now,
      }),
    ]);
    id = Number(inserted!.meta.last_row_id);
  } catch (e) {
    // another start won the race (the partial unique index allows one running run per connection)
    if (e instanceof Error && /UNIQUE constraint failed/i.test(e.message)) {
      const other = await db.prepare(`${SELECT} WHERE r.connection_id = ? AND r.status = 'running'`).bind(connectionId).first<RunRow>();
      if (other) throw running(other);
    }
    throw e;
  }
  await firstPage(env, id, 0, now);
  return toRun((await readRun(db, id))!);
}

/** Resumes the latest run of a connection from its last page: a failed one, or a running one whose pages stopped. */
export async function resumeSync(env: Env, connectionId: number, actor: Actor, now: number): Promise<WecomSyncRun> {
  const db = env.DB;
  const conn = await getConnection(db, connectionId);
  const r = await db.prepare(`${SELECT} WHERE r.connection_id = ? ORDER BY r.id DESC LIMIT 1`).bind(connectionId).first<RunRow>();
  const stalled = r?.status === 'running' && now - r.updated_at > STALLED_MS;
  if (!r || (r.status !== 'failed' && !stalled)) {
    throw new ApiError(409, 'conflict', r?.status === 'running' ? running(r).message : 'There is no failed backfill to resume: start one', [
      { path: 'runId', message: 'nothing to resume' },
    ]);
  }
  try {
    await db.batch([
      db
        .prepare(`UPDATE wecom_sync_runs SET status = 'running', finished_at = NULL, updated_at = ? WHERE id = ? AND status = ?`)
        .bind(now, r.id, r.status),
      auditStatementIfChanged(db, {
        actor,
        action: 'wecom_connection.sync',
        objectType: 'wecom_connection',
        objectId: connectionId,
        summary: `Resumed backfill #${r.id} from WeCom corp ${conn.corpId} at ${r.phase}`,
        params: { corpId: conn.corpId },
        at: now,
      }),
    ]);
  } catch (e) {
    if (e instanceof Error && /UNIQUE constraint failed/i.test(e.message))
      throw new ApiError(409, 'conflict', 'Another backfill of this connection is running');
    throw e;
  }
  await firstPage(env, r.id, r.step, now);
  return toRun((await readRun(db, r.id))!);
}

/** Queues a run's page; if the queue refuses it, the run fails at once (resumable) rather than wait as running for nothing. */
async function firstPage(env: Env, runId: number, step: number, now: number): Promise<void> {
  try {
    await sendSync(env, { v: 1, type: 'step', runId, step });
  } catch (e) {
    await failRun(env.DB, runId, step, now);
    throw new ApiError(
      503,
      'unavailable',
      `The sync queue refused the backfill's page (${e instanceof Error ? e.message : String(e)}): resume it in a moment`,
    );
  }
}

/** Adds an error to a run (the latest few are kept), without moving its page. */
export async function recordRunError(db: D1Database, run: RunRow, error: WecomSyncError): Promise<void> {
  const errors = [...(JSON.parse(run.errors) as WecomSyncError[]), error].slice(-KEPT_ERRORS);
  await db
    .prepare('UPDATE wecom_sync_runs SET errors = ?, updated_at = ? WHERE id = ?')
    .bind(JSON.stringify(errors), error.at, run.id)
    .run();
}

/** A page that failed every delivery: its run fails (only if it is still at that page). */
export async function failRun(db: D1Database, runId: number, step: number, now: number): Promise<void> {
  await db
    .prepare(
      `UPDATE wecom_sync_runs SET status = 'failed', finished_at = ?, updated_at = ? WHERE id = ? AND step = ? AND status = 'running'`,
    )
    .bind(now, now, runId, step)
    .run();
}
