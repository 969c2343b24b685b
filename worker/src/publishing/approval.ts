/**
 * The approval policy per department: when it is on (for the rule's department or one above it),
 * a department admin's publish — now, at a time, or a ramp — becomes a plan waiting for a super
 * admin. The approver sees the draft and counts as they were requested and the diff to the
 * version published now; approving lets the plan run (a step due now publishes at once),
 * rejecting ends it with a reason the requester reads. Super admins' own publishes never wait.
 */
import { approvalRequired, type PolicyItem, type PlanReason } from '@shared/api/publishing';
import type { SessionUser } from '@shared/api/auth';
import { ApiError } from '../errors';
import { auditStatement, auditStatementIfChanged } from '../audit';
import { forbidden, type Actor } from '../auth/access';
import { graphHash } from '../rules/context';
import { conflict, getRule, parse } from '../rules/detail';
import { loadPlan, type PlanRow } from './plans';

/** Every department with its policy (off unless set). */
export async function listPolicies(db: D1Database): Promise<PolicyItem[]> {
  const rows = await db
    .prepare(
      `SELECT d.id, d.name, d.path, coalesce(p.require_approval, 0) AS on_
       FROM departments d LEFT JOIN publish_policies p ON p.department_id = d.id ORDER BY d.path`,
    )
    .all<{ id: number; name: string; path: string; on_: number }>();
  return rows.results.map((r) => ({ departmentId: r.id, departmentName: r.name, path: r.path, requireApproval: r.on_ === 1 }));
}

/** Whether `user` publishing a rule of the department at `rulePath` must go through an approval. */
export async function needsApproval(db: D1Database, user: SessionUser, rulePath: string | null): Promise<boolean> {
  if (user.role === 'super_admin' || rulePath === null) return false;
  const on = await db
    .prepare(
      `SELECT d.path, 1 AS requireApproval FROM publish_policies p JOIN departments d ON d.id = p.department_id
       WHERE p.require_approval = 1 AND instr(?, d.path) = 1`,
    )
    .bind(rulePath)
    .all<{ path: string; requireApproval: number }>();
  return approvalRequired(
    on.results.map((r) => ({ path: r.path, requireApproval: true })),
    rulePath,
  );
}

/** 409 `approval_required` for a publish now that must be requested instead (the publish path calls this). */
export async function requireNoApproval(db: D1Database, user: SessionUser, rulePath: string | null): Promise<void> {
  if (await needsApproval(db, user, rulePath))
    throw new ApiError(
      409,
      'approval_required',
      "Publishing in this department waits for a super admin's approval: request it (POST /api/publishing/plans) instead",
    );
}

/** Turns the policy of one department on or off (super admins; the route checks the role). */
export async function setPolicy(db: D1Database, actor: Actor, departmentId: number, requireApproval: boolean): Promise<PolicyItem> {
  const dept = await db
    .prepare('SELECT name, path FROM departments WHERE id = ?')
    .bind(departmentId)
    .first<{ name: string; path: string }>();
  if (!dept) throw new ApiError(404, 'not_found', `No department with id ${departmentId}`);
  const before = await db
    .prepare('SELECT require_approval FROM publish_policies WHERE department_id = ?')
    .bind(departmentId)
    .first<number>('require_approval');
  const now = Date.now();
  await db.batch([
    db
      .prepare(
        `INSERT INTO publish_policies (department_id, require_approval, updated_by, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (department_id) DO UPDATE SET require_approval = excluded.require_approval, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
      )
      .bind(departmentId, requireApproval ? 1 : 0, actor.userId, now),
    auditStatement(db, {
      actor,
      action: 'publish_policy.update',
      objectType: 'department',
      objectId: departmentId,
      summary: `${requireApproval ? 'required' : 'stopped requiring'} approval of department admins' publishes in "${dept.name}"`,
      params: { variant: requireApproval ? 'on' : 'off', name: dept.name },
      before: { requireApproval: before === 1 },
      after: { requireApproval },
      at: now,
    }),
  ]);
  return { departmentId, departmentName: dept.name, path: dept.path, requireApproval };
}

async function awaiting(db: D1Database, user: SessionUser, id: number): Promise<PlanRow> {
  if (user.role !== 'super_admin') throw forbidden(user, 'only super admins approve publishes');
  const plan = await loadPlan(db, user, id);
  if (plan.state !== 'awaiting_approval') throw conflict(`Publish request ${id} is ${plan.state}, not awaiting approval`);
  return plan;
}

/**
 * Approves plan `id`: it becomes scheduled (the caller runs a step due now). Refused (409) when
 * the draft is no longer the one requested: what is approved is what publishes.
 */
export async function approvePlan(db: D1Database, user: SessionUser, actor: Actor, id: number): Promise<void> {
  const plan = await awaiting(db, user, id);
  const rule = await getRule(db, plan.rule_id);
  if ((await graphHash(parse<unknown>(rule.draft_graph, null))) !== plan.graph_hash)
    throw conflict(`The draft of rule "${rule.name}" changed since this request: reject it, and the requester can request again`, [
      { path: 'graphHash', message: 'does not match the saved draft' },
    ]);
  const now = Date.now();
  const [res] = await db.batch([
    db
      .prepare(
        "UPDATE publish_plans SET state = 'scheduled', decided_by = ?, decided_at = ?, updated_at = ? WHERE id = ? AND state = 'awaiting_approval'",
      )
      .bind(user.id, now, now, id),
    auditStatementIfChanged(db, {
      actor,
      action: 'publish_plan.approve',
      objectType: 'rule',
      objectId: plan.rule_id,
      summary: `approved the publish request ${id} of rule "${rule.name}"`,
      params: { name: rule.name },
      before: { plan: id, state: 'awaiting_approval' },
      after: { plan: id, state: 'scheduled', graphHash: plan.graph_hash },
      at: now,
    }),
  ]);
  if (!res?.meta.changes) throw conflict(`Publish request ${id} was decided by someone else meanwhile`);
}

/** Rejects plan `id` with a reason the requester reads. */
export async function rejectPlan(db: D1Database, user: SessionUser, actor: Actor, id: number, reason: string): Promise<void> {
  const plan = await awaiting(db, user, id);
  const now = Date.now();
  const why: PlanReason = { code: 'rejected', message: reason };
  const [res] = await db.batch([
    db
      .prepare(
        "UPDATE publish_plans SET state = 'rejected', reason = ?, decided_by = ?, decided_at = ?, updated_at = ? WHERE id = ? AND state = 'awaiting_approval'",
      )
      .bind(JSON.stringify(why), user.id, now, now, id),
    auditStatementIfChanged(db, {
      actor,
      action: 'publish_plan.reject',
      objectType: 'rule',
      objectId: plan.rule_id,
      summary: `rejected the publish request ${id} of rule "${plan.rule_name}": ${reason}`,
      params: { name: plan.rule_name, reason },
      before: { plan: id, state: 'awaiting_approval' },
      after: { plan: id, state: 'rejected', reason },
      at: now,
    }),
  ]);
  if (!res?.meta.changes) throw conflict(`Publish request ${id} was decided by someone else meanwhile`);
}
