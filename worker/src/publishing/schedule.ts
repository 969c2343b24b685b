/**
 * Scheduled publishing: a plan stores the draft as confirmed (its hash and graph), the counts the
 * requester confirmed, and its steps (a share and a local time in `TIMEZONE`). The cron
 * (`runDuePlans`, a step of worker/src/cron/scheduled.ts) applies each due step through the
 * same publish path as a person (worker/src/rules/publish.ts), so every guarantee holds:
 *
 * - as the REQUESTER, with their rights read at that moment (disabled, demoted, moved out of the
 *   rule's department, or no longer allowed the rule's tags: refused);
 * - refused when the draft is no longer the one scheduled (its hash), or the rule was archived;
 * - the counts are those of the step's time (the confirmed ones, of request time, stay with the
 *   plan and the publish's audit row records what the ledger wrote);
 * - exactly once: the step's `publish_plan_runs` row (key plan + step, inserted only while the
 *   plan is scheduled at that step) is in the publish's batch, so a second tick reaching the same
 *   step rolls its whole batch back.
 *
 * A refusal ends the plan (`failed`) with its reason and an audit row; nothing is retried.
 */
import type { SessionUser } from '@shared/api/auth';
import { localTimeToMs, type CreatePlanBody, type PlanItem, type PlanPreview, type PlanReason } from '@shared/api/publishing';
import type { FieldProblem } from '@shared/api/errors';
import { ApiError } from '../errors';
import { auditInsert, auditStatement, auditStatementIfChanged } from '../audit';
import { forbidden, hasRole, inScope, type Actor } from '../auth/access';
import { graphHash, tzOffsetMinutes } from '../rules/context';
import { conflict, getRule, parse } from '../rules/detail';
import { requireRuleRights } from '../rules/rights';
import { countForPublish, publishRule, requireConfirmed } from '../rules/publish';
import { requireNotWecomOwned } from '../wecom/push/policy';
import { needsApproval } from './approval';
import { PLAN_SELECT, loadPlan, planItem, stepsOf, type PlanRow, type StoredStep } from './plans';
import { pausingAlert, pauseStatements } from './ramp';
import { hintingAfter } from '../wecom/push/hint';

/** The steps with their times in epoch ms: 400 naming the step whose time does not exist or is not in the future. */
function stepTimes(env: Env, b: CreatePlanBody, now: number): StoredStep[] {
  const tz = tzOffsetMinutes(env);
  const problems: FieldProblem[] = [];
  const steps = b.steps.map((s, i) => {
    if (s.at === undefined) return { percent: s.percent, at: null };
    const at = localTimeToMs(s.at, tz);
    if (at === null) problems.push({ path: `steps.${i}.at`, message: 'is not a date that exists' });
    else if (at <= now) problems.push({ path: `steps.${i}.at`, message: 'must be in the future' });
    return { percent: s.percent, at };
  });
  if (problems.length) throw new ApiError(400, 'invalid_request', problems.map((p) => `${p.path} ${p.message}`).join('; '), problems);
  return steps;
}

/**
 * Requests a plan for rule `ruleId` as `user`: the same checks as publishing now (rights, the draft
 * is the one previewed, the counts at the first step's share are the ones confirmed), then stored
 * as awaiting approval (a department admin where the policy is on) or scheduled. Answers the plan;
 * `runNow` says whether its first step is due at once (the route runs it).
 */
export async function createPlan(
  db: D1Database,
  env: Env,
  user: SessionUser,
  actor: Actor,
  b: CreatePlanBody,
): Promise<{ plan: PlanItem; runNow: boolean }> {
  const path = await db
    .prepare('SELECT d.path FROM rules r LEFT JOIN departments d ON d.id = r.department_id WHERE r.id = ?')
    .bind(b.ruleId)
    .first<{ path: string | null }>();
  if (!path || !inScope(user, path.path))
    throw new ApiError(400, 'unknown_reference', `ruleId: no rule with id ${b.ruleId}`, [{ path: 'ruleId', message: 'no such rule' }]);
  if (!hasRole(user, 'dept_admin')) throw forbidden(user, 'staff may read rules but not publish them');
  const now = Date.now();
  const steps = stepTimes(env, b, now);
  const rule = await getRule(db, b.ruleId);
  if (rule.status === 'archived') throw conflict(`Rule ${b.ruleId} is archived and cannot be published`);
  const draft = parse<unknown>(rule.draft_graph, null);
  await requireRuleRights(db, user, draft);
  await requireNotWecomOwned(db, draft);
  if ((await graphHash(draft)) !== b.graphHash)
    throw conflict('The draft changed since the preview you confirmed: preview it again and confirm what it will change', [
      { path: 'graphHash', message: 'does not match the saved draft' },
    ]);
  const first = steps[0]!;
  const { counted, applyNow } = await countForPublish(db, env, b.ruleId, path.path, first.percent, draft, now);
  requireConfirmed(counted.counts, { ...b, rolloutPercent: first.percent }, applyNow);
  const gated = await needsApproval(db, user, path.path);
  const preview: PlanPreview = {
    rolloutPercent: first.percent,
    total: counted.counts.total,
    matched: counted.counts.matched,
    tags: counted.counts.tags,
    actions: counted.counts.actions,
    conflicts: counted.counts.conflicts,
    countedAt: now,
  };
  const state = gated ? 'awaiting_approval' : 'scheduled';
  let id: number;
  try {
    const [insert] = await db.batch([
      db
        .prepare(
          `INSERT INTO publish_plans (rule_id, state, steps, graph_hash, graph, preview, base_version, note, requested_by, requested_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .bind(
          b.ruleId,
          state,
          JSON.stringify(steps),
          b.graphHash,
          rule.draft_graph,
          JSON.stringify(preview),
          rule.published_version,
          b.note ?? null,
          user.id,
          now,
          now,
        ),
      auditInsert(db, {
        actor,
        action: 'publish_plan.create',
        objectType: 'rule',
        objectId: b.ruleId,
        summary: `${gated ? 'requested approval to publish' : 'scheduled publishing'} rule "${rule.name}" in ${steps.length} step(s)`,
        params: { variant: gated ? 'request' : 'schedule', name: rule.name, steps: steps.length },
        after: { steps, graphHash: b.graphHash, preview, state },
        at: now,
      }),
    ]);
    id = insert!.meta.last_row_id;
  } catch (e) {
    if (String((e as Error)?.message ?? e).includes('UNIQUE constraint failed: publish_plans'))
      throw conflict(`Rule "${rule.name}" already has a publish waiting or scheduled: cancel it first`);
    throw e;
  }
  const row = await loadPlan(db, user, id);
  return { plan: await planItem(db, user, row), runNow: !gated && (first.at === null || first.at <= Date.now()) };
}

/** Cancels a live plan (its requester's department admins and super admins). Applied steps stay published. */
export async function cancelPlan(db: D1Database, user: SessionUser, actor: Actor, id: number): Promise<void> {
  const plan = await loadPlan(db, user, id);
  if (!hasRole(user, 'dept_admin')) throw forbidden(user, 'staff may not cancel publishes');
  const now = Date.now();
  const [res] = await db.batch([
    db
      .prepare(
        "UPDATE publish_plans SET state = 'cancelled', updated_at = ? WHERE id = ? AND state IN ('awaiting_approval', 'scheduled', 'paused')",
      )
      .bind(now, id),
    auditStatementIfChanged(db, {
      actor,
      action: 'publish_plan.cancel',
      objectType: 'rule',
      objectId: plan.rule_id,
      summary: `cancelled the publish plan ${id} of rule "${plan.rule_name}"`,
      params: { name: plan.rule_name },
      before: { plan: id, state: plan.state },
      after: { plan: id, state: 'cancelled' },
      at: now,
    }),
  ]);
  if (!res?.meta.changes) throw conflict(`Publish plan ${id} is ${plan.state}: only a waiting, scheduled or paused plan can be cancelled`);
}

/** The requester as they are now (null: gone). */
async function requesterNow(db: D1Database, id: number): Promise<(SessionUser & { disabled: boolean }) | null> {
  const r = await db
    .prepare(
      `SELECT u.id, u.email, u.name, u.role, u.department_id, u.disabled, d.name AS department_name, d.path AS department_path
       FROM users u LEFT JOIN departments d ON d.id = u.department_id WHERE u.id = ?`,
    )
    .bind(id)
    .first<{
      id: number;
      email: string;
      name: string;
      role: SessionUser['role'];
      department_id: number | null;
      disabled: number;
      department_name: string | null;
      department_path: string | null;
    }>();
  if (!r) return null;
  return {
    id: r.id,
    email: r.email,
    name: r.name,
    role: r.role,
    departmentId: r.department_id,
    departmentName: r.department_name,
    departmentPath: r.department_path,
    disabled: r.disabled === 1,
  };
}

/** What one cron pass over the plans did. */
export interface PlansReport {
  published: { planId: number; ruleId: number; step: number; version: number }[];
  refused: { planId: number; step: number; code: string }[];
  paused: { planId: number; alertId: number }[];
  /** Steps that failed for a reason other than a refusal (tried again next tick). */
  errors: string[];
}

/** Whether the step this run wanted was taken by another tick (its run row's key or guard failed). */
const lostRace = (e: unknown) => String((e as Error)?.message ?? e).includes('publish_plan_runs');

/** Ends plan `row` at its next step as refused, with the reason (only if no other tick moved it on). */
async function refuse(db: D1Database, row: PlanRow, reason: PlanReason, at: number): Promise<void> {
  await db.batch([
    db
      .prepare(
        "UPDATE publish_plans SET state = 'failed', reason = ?, updated_at = ? WHERE id = ? AND state = 'scheduled' AND next_step = ?",
      )
      .bind(JSON.stringify(reason), at, row.id, row.next_step),
    auditStatementIfChanged(db, {
      actor: null,
      action: 'publish_plan.refuse',
      objectType: 'rule',
      objectId: row.rule_id,
      summary: `did not publish step ${row.next_step + 1} of plan ${row.id} of rule "${row.rule_name}": ${reason.message}`,
      params: { name: row.rule_name, step: row.next_step + 1, reason: reason.message },
      after: { plan: row.id, reason },
      at,
    }),
  ]);
}

/**
 * Applies the next step of plan `row` at `at` through the publish path, as its requester; a
 * refusal ends the plan with the reason. Nothing happens when another tick had the step.
 */
export async function runPlanStep(env: Env, row: PlanRow, at: number, report: PlansReport): Promise<void> {
  const db = env.DB;
  const steps = stepsOf(row);
  const i = row.next_step;
  const step = steps[i];
  if (!step) return;
  const requester = await requesterNow(db, row.requested_by);
  let why: PlanReason | null = null;
  if (!requester) why = { code: 'rights_lost', message: 'the requester no longer exists', step: i };
  else if (requester.disabled) why = { code: 'rights_lost', message: 'the requester is disabled', step: i };
  else if (!hasRole(requester, 'dept_admin') || !inScope(requester, row.rule_path))
    why = { code: 'rights_lost', message: "the requester no longer holds the rule's department", step: i };
  if (why || !requester) {
    await refuse(db, row, why!, at);
    report.refused.push({ planId: row.id, step: i, code: why!.code });
    return;
  }
  try {
    const res = await publishRule(
      db,
      env,
      requester,
      null,
      row.rule_path,
      row.rule_id,
      { rolloutPercent: step.percent, graphHash: row.graph_hash, expected: {}, confirm: true, note: row.note ?? undefined },
      {
        statements: (version) => [
          db
            .prepare(
              `INSERT INTO publish_plan_runs (plan_id, step, version, ran_at)
               VALUES (?, ?, CASE WHEN EXISTS (SELECT 1 FROM publish_plans WHERE id = ? AND state = 'scheduled' AND next_step = ?) THEN ? END, ?)`,
            )
            .bind(row.id, i, row.id, i, version, at),
          db
            .prepare(
              `UPDATE publish_plans SET next_step = next_step + 1, state = CASE WHEN next_step + 1 >= ? THEN 'done' ELSE 'scheduled' END,
               updated_at = ? WHERE id = ?`,
            )
            .bind(steps.length, at, row.id),
          auditStatement(db, {
            actor: null,
            action: 'publish_plan.step',
            objectType: 'rule',
            objectId: row.rule_id,
            summary: `published step ${i + 1} of ${steps.length} of plan ${row.id}: rule "${row.rule_name}" version ${version} at ${step.percent}%`,
            params: { name: row.rule_name, step: i + 1, steps: steps.length, share: step.percent, version },
            after: { plan: row.id, step: i, version, share: step.percent },
            at,
          }),
        ],
      },
    );
    report.published.push({ planId: row.id, ruleId: row.rule_id, step: i, version: res.version });
  } catch (e) {
    if (lostRace(e)) return;
    if (!(e instanceof ApiError)) throw e;
    const code =
      e.code === 'conflict' && e.details?.some((d) => d.path === 'graphHash') ? 'draft_changed' : e.status === 403 ? 'rights_lost' : e.code;
    await refuse(db, row, { code, message: e.message, step: i }, at);
    report.refused.push({ planId: row.id, step: i, code });
  }
}

/**
 * The cron step: pauses ramps an alert names, then applies every plan's due step (one step per
 * plan per tick, so a ramp whose times have all passed still goes in order).
 */
export async function runDuePlans(env: Env, at: number, only?: number): Promise<PlansReport> {
  const db = env.DB;
  const report: PlansReport = { published: [], refused: [], paused: [], errors: [] };
  const rows = (
    await db
      .prepare(`${PLAN_SELECT} WHERE p.state = 'scheduled'${only === undefined ? '' : ' AND p.id = ?'} ORDER BY p.id`)
      .bind(...(only === undefined ? [] : [only]))
      .all<PlanRow>()
  ).results;
  for (const row of rows) {
    const steps = stepsOf(row);
    const next = steps[row.next_step];
    if (!next) continue;
    // a ramp under way stops while an alert names its rule (resumed by hand)
    if (row.next_step > 0) {
      const alert = await pausingAlert(db, row);
      if (alert) {
        await db.batch(pauseStatements(db, row, alert, at));
        report.paused.push({ planId: row.id, alertId: alert.id });
        continue;
      }
    }
    if (next.at !== null && next.at > at) continue;
    try {
      // a step's tags on a synced group reach WeCom right after it, not at the next minute
      await hintingAfter(env, () => runPlanStep(env, row, at, report));
    } catch (e) {
      // one plan's failure (D1 unavailable mid-way) must not stop the others; the step is retried next tick
      report.errors.push(`plan ${row.id} step ${row.next_step + 1}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return report;
}
