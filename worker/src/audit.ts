/**
 * `audit_log` rows as statements for the same D1 batch as the change itself (a change and its
 * record commit together). Every mutating route writes its entry through here, naming the actor
 * (`actorOf(c)` from worker/src/auth/access.ts) and the address the request came from.
 */
import type { Actor } from './auth/access';

/** One audit entry. `before` / `after` are stored as JSON (null when there is none). */
export interface AuditEntry {
  /** `rule.publish`, `segment.update`, `tag.retire`… */
  action: string;
  objectType: 'rule' | 'segment' | 'tag' | 'tag_group' | 'contact' | 'user' | 'session' | 'department' | 'event_source' | 'rollback' | 'import' | 'system';
  objectId: number | string;
  summary: string;
  before?: unknown;
  after?: unknown;
  at: number;
  /** null for the system (cron, webhooks) */
  actor: Actor | null;
}

const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));

const INSERT = 'INSERT INTO audit_log (at, actor_user_id, actor_ip, action, object_type, object_id, summary, before, after) VALUES';

/** The INSERT for one entry. */
export function auditStatement(db: D1Database, e: AuditEntry): D1PreparedStatement {
  return db
    .prepare(`${INSERT} (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    .bind(e.at, e.actor?.userId ?? null, e.actor?.ip ?? null, e.action, e.objectType, String(e.objectId), e.summary, json(e.before), json(e.after));
}

/**
 * The INSERT for an entry about an object created earlier in the same batch: its id is the
 * `last_insert_rowid()` of the statement just before this one.
 */
export function auditStatementForNewRow(db: D1Database, e: Omit<AuditEntry, 'objectId'>): D1PreparedStatement {
  return db
    .prepare(`${INSERT} (?, ?, ?, ?, ?, CAST(last_insert_rowid() AS TEXT), ?, ?, ?)`)
    .bind(e.at, e.actor?.userId ?? null, e.actor?.ip ?? null, e.action, e.objectType, e.summary, json(e.before), json(e.after));
}
