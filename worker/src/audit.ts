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
    | 'destination'
    | 'wecom_connection'
    | 'alert_rule'
    | 'alert'
    | 'rollback'
    | 'import'
    | 'system'
    | 'suggestion';
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

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A column of the entry computed by SQL inside its INSERT (over `from`), with the `?` arguments of `sql` in order. */
export class AuditSql {
  readonly args: readonly unknown[];
  constructor(
    readonly sql: string,
    ...args: unknown[]
  ) {
    this.args = args;
  }
}

/** An entry some of whose columns SQL computes: values only the batch knows (a new row's id, what the ledger wrote). */
export type ComputedAuditEntry = Computed<AuditEntry>;
type Computed<E extends AuditEntry> = E extends unknown
  ? Omit<E, 'objectId' | 'summary' | 'params'> & {
      objectId: E['objectId'] | AuditSql;
      summary: string | AuditSql;
      params: E['params'] | AuditSql;
    }
  : never;

/** Where an entry's SELECT reads from and when it writes at all; `args` bind the `?` of both, in order. */
export interface AuditSelect {
  from?: string;
  where?: string;
  args?: readonly unknown[];
}

const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));

const COLUMNS = 'INSERT INTO audit_log (at, actor_user_id, actor_ip, action, object_type, object_id, summary, params, before, after)';

/**
 * The INSERT for one entry: every audit row is written here. Plain values are bound; an
 * {@link AuditSql} column is computed in the statement, and `select` makes it an
 * `INSERT … SELECT` (from a row of the same batch, or only when a condition holds).
 */
export function auditInsert(db: D1Database, e: ComputedAuditEntry, select: AuditSelect = {}): D1PreparedStatement {
  const values: unknown[] = [
    e.at,
    e.actor?.userId ?? null,
    e.actor?.ip ?? null,
    e.action,
    e.objectType,
    e.objectId instanceof AuditSql ? e.objectId : String(e.objectId),
    e.summary,
    e.params instanceof AuditSql ? e.params : JSON.stringify(e.params),
    e.before instanceof AuditSql ? e.before : json(e.before),
    e.after instanceof AuditSql ? e.after : json(e.after),
  ];
  const args: unknown[] = [];
  const exprs = values.map((v) => {
    if (!(v instanceof AuditSql)) {
      args.push(v);
      return '?';
    }
    args.push(...v.args);
    return v.sql;
  });
  const sql =
    select.from === undefined && select.where === undefined
      ? `${COLUMNS} VALUES (${exprs.join(', ')})`
      : `${COLUMNS} SELECT ${exprs.join(', ')}${select.from ? ` FROM ${select.from}` : ''}${select.where ? ` WHERE ${select.where}` : ''}`;
  return db.prepare(sql).bind(...args, ...(select.args ?? []));
}

/** The INSERT for one entry. */
export function auditStatement(db: D1Database, e: AuditEntry): D1PreparedStatement {
  return auditInsert(db, e);
}

/**
 * The INSERT for one entry, written only if the statement just before it in the batch changed a
 * row (`changes() > 0`): for writes that may find nothing to change (a guarded UPDATE, a
 * DELETE of a row someone else deleted first). The route then answers 404 / 409 without a
 * success entry in the log; the refusal goes to the security log instead.
 */
export function auditStatementIfChanged(db: D1Database, e: AuditEntry): D1PreparedStatement {
  return auditInsert(db, e, { where: 'changes() > 0' });
}

/**
 * The INSERT for an entry about an object created earlier in the same batch: its id is the
 * `last_insert_rowid()` of the statement just before this one.
 */
export function auditStatementForNewRow(db: D1Database, e: DistributiveOmit<AuditEntry, 'objectId'>): D1PreparedStatement {
  return auditInsert(db, { ...e, objectId: new AuditSql('CAST(last_insert_rowid() AS TEXT)') });
}
