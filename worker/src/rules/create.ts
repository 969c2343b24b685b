/**
 * The one way a draft rule row is made. `POST /api/rules`, a learned suggestion's draft
 * (worker/src/learn/draft.ts) and the template gallery (worker/src/templates/) all insert the
 * same `draft` row: `draftRuleInsert` is that INSERT; `createDraftRule` adds what the first two
 * share around it (the rights check, the owning department, the audit entry in the same batch,
 * the name's search keys). The gallery uses only the INSERT: it checks rights per tag group and
 * creates tags in the same batch, whose ids the graph only learns inside it (`graphSql`).
 */
import type { SessionUser } from '@shared/api/auth';
import type { AuditAction } from '@shared/api/audit';
import { auditInsert, AuditSql, type ComputedAuditEntry } from '../audit';
import { ownerDepartment, type Actor } from '../auth/access';
import { batch } from '../db/rows';
import { keyCreated } from '../search/keys';
import { requireRuleRights } from './rights';

/** The INSERT of a draft rule. `graphSql` computes the stored graph in SQL from `?` = the JSON and its own args after it. */
export function draftRuleInsert(
  db: D1Database,
  r: {
    name: string;
    description: string | null;
    departmentId: number | null;
    graph: unknown;
    createdBy: number;
    at: number;
    graphSql?: { sql: string; args: readonly unknown[] };
  },
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO rules (name, description, department_id, status, draft_graph, created_by, created_at, updated_at)
       VALUES (?, ?, ?, 'draft', ${r.graphSql?.sql ?? '?'}, ?, ?, ?)`,
    )
    .bind(r.name, r.description, r.departmentId, JSON.stringify(r.graph), ...(r.graphSql?.args ?? []), r.createdBy, r.at, r.at);
}

/** The audit entry of a new rule: its id is filled in by the batch. */
type NewRuleAudit = ComputedAuditEntry extends infer E
  ? E extends { action: AuditAction }
    ? Omit<E, 'objectId' | 'objectType' | 'actor' | 'at'>
    : never
  : never;

/**
 * Makes a draft rule as `user`: 403 unless they may apply every action tag of `graph`
 * (`requireRuleRights`), owned by `departmentId` as `ownerDepartment` decides; the row, its audit
 * entry and `after` (statements that may read the new id as `last_insert_rowid()` only in their
 * first statement, or `(SELECT max(id) FROM rules)`) commit in one batch. Answers the new id.
 */
export async function createDraftRule(
  db: D1Database,
  user: SessionUser,
  actor: Actor,
  input: {
    name: string;
    description?: string | null;
    departmentId: number | null | undefined;
    graph: unknown;
    audit: (at: number) => NewRuleAudit;
    after?: (at: number) => D1PreparedStatement[];
  },
): Promise<number> {
  await requireRuleRights(db, user, input.graph);
  const owner = await ownerDepartment(db, user, input.departmentId);
  const at = Date.now();
  const [insert] = await batch(db, [
    draftRuleInsert(db, {
      name: input.name,
      description: input.description ?? null,
      departmentId: owner.id,
      graph: input.graph,
      createdBy: user.id,
      at,
    }),
    auditInsert(db, {
      ...input.audit(at),
      at,
      actor,
      objectType: 'rule',
      objectId: new AuditSql('CAST(last_insert_rowid() AS TEXT)'),
    } as ComputedAuditEntry),
    ...(input.after?.(at) ?? []),
  ]);
  const id = insert.meta.last_row_id;
  await keyCreated(db, 'rule', [{ id, name: input.name }]);
  return id;
}
