/**
 * `audit_log` rows as statements for the same D1 batch as the change itself (a change and its
 * record commit together). Every mutating route writes its entry through here, naming the actor
 * (`actorOf(c)` from worker/src/auth/access.ts) and the address the request came from.
 */
import type { Actor } from './auth/access';
import type { AuditAction, AuditParamsByAction } from '@shared/api/audit';

interface AuditEntryBase {
  objectType:
    | 'rule'
    | 'segment'
    | 'tag'
    | 'tag_group'
    | 'contact'
    | 'user'
    | 'session'
    | 'department'
    | 'event_source'
    | 'rollback'
    | 'import'
    | 'system';
  objectId: number | string;
  /** English sentence: stored as the fallback (and searched); the screen words `params` instead. */
  summary: string;
  before?: unknown;
  after?: unknown;
  at: number;
  /** null for the system (cron, webhooks) */
  actor: Actor | null;
}

/**
 * One audit entry. `before` / `after` are stored as JSON (null when there is none); `params` are
 * the values of the action's sentence, typed per action (`AuditParamsByAction` in shared/).
 */
export type AuditEntry = {
  [A in AuditAction]: AuditEntryBase & {
    /** `rule.publish`, `segment.update`, `tag.retire`… */
    action: A;
    params: AuditParamsByAction[A];
  };
}[AuditAction];

/** `params` as stored, for the few routes that write their entry in their own SQL. */
export const auditParams = <A extends AuditAction>(_action: A, params: AuditParamsByAction[A]): string => JSON.stringify(params);

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));

const INSERT = 'INSERT INTO audit_log (at, actor_user_id, actor_ip, action, object_type, object_id, summary, params, before, after) VALUES';

/** The INSERT for one entry. */
export function auditStatement(db: D1Database, e: AuditEntry): D1PreparedStatement {
  return db
    .prepare(`${INSERT} (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    .bind(
      e.at,
      e.actor?.userId ?? null,
      e.actor?.ip ?? null,
      e.action,
      e.objectType,
      String(e.objectId),
      e.summary,
      JSON.stringify(e.params),
      json(e.before),
      json(e.after),
    );
}

/**
 * The INSERT for one entry, written only if the statement just before it in the batch changed a
 * row (`changes() > 0`): for writes that may find nothing to change (a guarded UPDATE, a
 * DELETE of a row someone else deleted first). The route then answers 404 / 409 without a
 * success entry in the log; the refusal goes to the security log instead.
 */
export function auditStatementIfChanged(db: D1Database, e: AuditEntry): D1PreparedStatement {
  return db
    .prepare(`${INSERT.replace(' VALUES', '')} SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE changes() > 0`)
    .bind(
      e.at,
      e.actor?.userId ?? null,
      e.actor?.ip ?? null,
      e.action,
      e.objectType,
      String(e.objectId),
      e.summary,
      JSON.stringify(e.params),
      json(e.before),
      json(e.after),
    );
}

/**
 * The INSERT for an entry about an object created earlier in the same batch: its id is the
 * `last_insert_rowid()` of the statement just before this one.
 */
export function auditStatementForNewRow(db: D1Database, e: DistributiveOmit<AuditEntry, 'objectId'>): D1PreparedStatement {
  return db
    .prepare(`${INSERT} (?, ?, ?, ?, ?, CAST(last_insert_rowid() AS TEXT), ?, ?, ?, ?)`)
    .bind(
      e.at,
      e.actor?.userId ?? null,
      e.actor?.ip ?? null,
      e.action,
      e.objectType,
      e.summary,
      JSON.stringify(e.params),
      json(e.before),
      json(e.after),
    );
}
