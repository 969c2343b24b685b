/**
 * Ramps (gray release over days, 10% → 50% → 100%): a plan of several steps, each applied by the
 * cron through the publish path (worker/src/publishing/schedule.ts). Once under way, a ramp
 * pauses by itself while an alert (worker/src/alerts/) names its rule — raised and not cleared,
 * and raised after the ramp was last resumed, so resuming by hand after looking is possible while
 * the alert is still open. Pausing and resuming are audited like each step.
 */
import type { SessionUser } from '@shared/api/auth';
import type { PlanReason } from '@shared/api/publishing';
import { auditStatementIfChanged } from '../audit';
import { forbidden, hasRole, type Actor } from '../auth/access';
import { conflict, parse } from '../rules/detail';
import { actionTags } from '../rules/rights';
import { tagUseInGraph } from '@shared/tags';
import { loadPlan, type PlanRow } from './plans';

/**
 * The newest uncleared alert raised since the plan was last resumed that names its rule, or a
 * segment whose conditions test a tag the rule writes (the rule's segment: what a ramp of it moves).
 */
export async function pausingAlert(
  db: D1Database,
  row: Pick<PlanRow, 'rule_id' | 'resumed_at' | 'graph'>,
): Promise<{ id: number; name: string } | null> {
  const { results } = await db
    .prepare(
      `SELECT a.id, ar.name, ar.rule_id, s.graph AS segment_graph FROM alerts a JOIN alert_rules ar ON ar.id = a.alert_rule_id
       LEFT JOIN segments s ON s.id = ar.segment_id
       WHERE a.cleared_at IS NULL AND a.raised_at > ? AND (ar.rule_id = ? OR s.id IS NOT NULL) ORDER BY a.raised_at DESC`,
    )
    .bind(row.resumed_at ?? 0, row.rule_id)
    .all<{ id: number; name: string; rule_id: number | null; segment_graph: string | null }>();
  const written = actionTags(parse<unknown>(row.graph, null)).map((a) => a.tagId);
  const hit = results.find(
    (r) =>
      r.rule_id === row.rule_id ||
      (r.segment_graph !== null && written.some((t) => tagUseInGraph(parse<unknown>(r.segment_graph, null), t).conditions > 0)),
  );
  return hit ? { id: hit.id, name: hit.name } : null;
}

/** The plan paused at its next step because of `alert`, with its audit row (the system's). */
export function pauseStatements(db: D1Database, row: PlanRow, alert: { id: number; name: string }, at: number): D1PreparedStatement[] {
  const reason: PlanReason = { code: 'alert', message: `alert "${alert.name}" was raised`, step: row.next_step, alertId: alert.id };
  return [
    db
      .prepare(
        "UPDATE publish_plans SET state = 'paused', reason = ?, updated_at = ? WHERE id = ? AND state = 'scheduled' AND next_step = ?",
      )
      .bind(JSON.stringify(reason), at, row.id, row.next_step),
    auditStatementIfChanged(db, {
      actor: null,
      action: 'publish_plan.pause',
      objectType: 'rule',
      objectId: row.rule_id,
      summary: `paused plan ${row.id} of rule "${row.rule_name}" before step ${row.next_step + 1}: alert "${alert.name}" was raised`,
      params: { name: row.rule_name, step: row.next_step + 1, alert: alert.name },
      after: { plan: row.id, reason },
      at,
    }),
  ];
}

/** Resumes a paused plan by hand (department admins of the rule, super admins): alerts raised before now no longer pause it. */
export async function resumePlan(db: D1Database, user: SessionUser, actor: Actor, id: number): Promise<void> {
  const plan = await loadPlan(db, user, id);
  if (!hasRole(user, 'dept_admin')) throw forbidden(user, 'staff may not resume publishes');
  if (plan.state !== 'paused') throw conflict(`Publish plan ${id} is ${plan.state}, not paused`);
  const now = Date.now();
  const [res] = await db.batch([
    db
      .prepare(
        "UPDATE publish_plans SET state = 'scheduled', reason = NULL, resumed_at = ?, updated_at = ? WHERE id = ? AND state = 'paused'",
      )
      .bind(now, now, id),
    auditStatementIfChanged(db, {
      actor,
      action: 'publish_plan.resume',
      objectType: 'rule',
      objectId: plan.rule_id,
      summary: `resumed plan ${id} of rule "${plan.rule_name}"`,
      params: { name: plan.rule_name },
      before: { plan: id, state: 'paused', reason: plan.reason === null ? null : JSON.parse(plan.reason) },
      after: { plan: id, state: 'scheduled' },
      at: now,
    }),
  ]);
  if (!res?.meta.changes) throw conflict(`Publish plan ${id} changed meanwhile`);
}
