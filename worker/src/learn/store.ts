/**
 * The `rule_suggestions` rows: reading one as the API shows it (scoped like rules: outside the
 * caller's department subtree it does not exist), and the job's writes (progress, done, failed).
 */
import type { SessionUser } from '@shared/api/auth';
import type { SuggestionDetail, SuggestionErrorCode, SuggestionParams, SuggestionResult, SuggestionStatus } from '@shared/api/suggestions';
import { parseJsonOr } from '@shared/json';
import { ApiError } from '../errors';
import { inScope, outOfScope } from '../auth/access';
import type { RuleSuggestionRow } from '../db/rows';
import { sendSuggestion } from './message';

/** A row with its department's path (the scope its contacts come from). */
export type SuggestionRow = RuleSuggestionRow & { department_path: string | null };

const SELECT = `SELECT s.*, d.path AS department_path FROM rule_suggestions s LEFT JOIN departments d ON d.id = s.department_id`;

export async function readSuggestion(db: D1Database, id: number): Promise<SuggestionRow | null> {
  return db.prepare(`${SELECT} WHERE s.id = ?`).bind(id).first<SuggestionRow>();
}

/** The suggestion if the user may see it, else 404 (recorded as out of scope when it exists elsewhere). */
export async function visibleSuggestion(db: D1Database, user: SessionUser, id: number): Promise<SuggestionRow> {
  const row = await readSuggestion(db, id);
  if (!row) throw new ApiError(404, 'not_found', `No suggestion with id ${id}`);
  if (!inScope(user, row.department_path)) throw outOfScope('suggestion', id);
  return row;
}

/** The 20 most recent suggestions the user may see. */
export async function recentSuggestions(db: D1Database, user: SessionUser): Promise<SuggestionRow[]> {
  const scoped = user.role !== 'super_admin';
  const rows = await db
    .prepare(
      `${SELECT} ${scoped ? 'WHERE d.path IS NOT NULL AND instr(d.path, ?) = 1' : ''} ORDER BY s.created_at DESC, s.id DESC LIMIT 20`,
    )
    .bind(...(scoped ? [user.departmentPath ?? '\u0000'] : []))
    .all<SuggestionRow>();
  return rows.results;
}

export function toDetail(row: SuggestionRow, withResult: true): SuggestionDetail;
export function toDetail(row: SuggestionRow, withResult: false): Omit<SuggestionDetail, 'result'>;
export function toDetail(row: SuggestionRow, withResult: boolean): SuggestionDetail | Omit<SuggestionDetail, 'result'> {
  const base: Omit<SuggestionDetail, 'result'> = {
    id: row.id,
    status: row.status as SuggestionStatus,
    progress: row.progress,
    loaded: row.loaded,
    total: row.total,
    params: parseJsonOr<SuggestionParams>(row.params, {} as SuggestionParams),
    outcomeName: row.outcome_name,
    departmentId: row.department_id,
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at,
    errorCode: (row.error_code as SuggestionErrorCode | null) ?? null,
    error: row.error,
    ruleIds: parseJsonOr<number[]>(row.rule_ids, []),
  };
  return withResult ? { ...base, result: parseJsonOr<SuggestionResult | null>(row.result, null) } : base;
}

/** The job took the suggestion (a redelivery after a crash takes it again from the start). */
export function markRunning(db: D1Database, id: number, now: number): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE rule_suggestions SET status = 'running', progress = 0, loaded = 0, updated_at = ? WHERE id = ? AND status IN ('queued', 'running')`,
    )
    .bind(now, id);
}

export function markProgress(db: D1Database, id: number, p: { progress: number; loaded: number; total: number }, now: number) {
  return db
    .prepare(`UPDATE rule_suggestions SET progress = ?, loaded = ?, total = ?, updated_at = ? WHERE id = ? AND status = 'running'`)
    .bind(Math.max(0, Math.min(100, Math.floor(p.progress))), p.loaded, p.total, now, id);
}

export function markDone(db: D1Database, id: number, result: SuggestionResult, now: number): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE rule_suggestions SET status = 'done', progress = 100, result = ?, error = NULL, error_code = NULL, updated_at = ?, finished_at = ?
       WHERE id = ? AND status = 'running'`,
    )
    .bind(JSON.stringify(result), now, now, id);
}

/** Ends the suggestion `failed` with its reason, whatever it was doing (not once done). */
export function markFailed(db: D1Database, id: number, code: SuggestionErrorCode, error: string, now: number): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE rule_suggestions SET status = 'failed', error_code = ?, error = ?, updated_at = ?, finished_at = ?
       WHERE id = ? AND status IN ('queued', 'running')`,
    )
    .bind(code, error.slice(0, 1000), now, now, id);
}

/**
 * Queues a stored suggestion's training job; if the queue refuses it, the suggestion is marked
 * failed with the reason, so the person sees why instead of a job that never starts.
 */
export async function queueOrFail(env: Pick<Env, 'DB' | 'SUGGESTIONS'>, id: number): Promise<void> {
  try {
    await sendSuggestion(env, id);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    await markFailed(env.DB, id, 'job_failed', `The training job could not be queued: ${why}`, Date.now()).run();
  }
}
