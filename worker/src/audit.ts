/**
 * `audit_log` rows as statements for the same D1 batch as the change itself (a change and its
 * record commit together). Every mutating route writes its entry through here. The actor columns stay null until
 * governance adds sign-in.
 */

/** One audit entry. `before` / `after` are stored as JSON (null when there is none). */
export interface AuditEntry {
  /** `rule.publish`, `segment.update`, `tag.retire`… */
  action: string;
  objectType: 'rule' | 'segment' | 'tag' | 'tag_group' | 'contact' | 'import';
  objectId: number | string;
  summary: string;
  before?: unknown;
  after?: unknown;
  at: number;
}

const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));

/** The INSERT for one entry. */
export function auditStatement(db: D1Database, e: AuditEntry): D1PreparedStatement {
  return db
    .prepare('INSERT INTO audit_log (at, action, object_type, object_id, summary, before, after) VALUES (?, ?, ?, ?, ?, ?, ?)')
    .bind(e.at, e.action, e.objectType, String(e.objectId), e.summary, json(e.before), json(e.after));
}

/**
 * The INSERT for an entry about an object created earlier in the same batch: its id is the
 * `last_insert_rowid()` of the statement just before this one.
 */
export function auditStatementForNewRow(db: D1Database, e: Omit<AuditEntry, 'objectId'>): D1PreparedStatement {
  return db
    .prepare(
      'INSERT INTO audit_log (at, action, object_type, object_id, summary, before, after) VALUES (?, ?, ?, CAST(last_insert_rowid() AS TEXT), ?, ?, ?)',
    )
    .bind(e.at, e.action, e.objectType, e.summary, json(e.before), json(e.after));
}
