/**
 * Publish plans as rows and as the API shows them: listing (scoped to the viewer's departments),
 * one plan with the diff from the version published now to the graph it publishes.
 */
import type { PlanDetail, PlanItem, PlanPreview, PlanReason, PlanState, PlanStep } from '@shared/api/publishing';
import type { SessionUser } from '@shared/api/auth';
import type { RuleGraph } from '@shared/rules/types';
import { ApiError } from '../errors';
import { hasRole, inScope, outOfScope, userScope } from '../auth/access';
import { diffGraphs } from '../rules/diff';
import { EMPTY_GRAPH, parse } from '../rules/detail';

/** A plan row with its rule's name and department path and the people's names. */
export interface PlanRow {
  id: number;
  rule_id: number;
  rule_name: string;
  rule_path: string | null;
  state: PlanState;
  steps: string;
  next_step: number;
  graph_hash: string;
  graph: string;
  preview: string;
  base_version: number | null;
  note: string | null;
  reason: string | null;
  requested_by: number;
  requester_name: string | null;
  requested_at: number;
  decided_by: number | null;
  decider_name: string | null;
  decided_at: number | null;
  resumed_at: number | null;
}

/** Stored step: `at` null runs as soon as the plan may. */
export interface StoredStep {
  percent: number;
  at: number | null;
}

export const PLAN_SELECT = `SELECT p.id, p.rule_id, r.name AS rule_name, d.path AS rule_path, p.state, p.steps, p.next_step, p.graph_hash,
    p.graph, p.preview, p.base_version, p.note, p.reason, p.requested_by, ru.name AS requester_name, p.requested_at, p.decided_by,
    du.name AS decider_name, p.decided_at, p.resumed_at
  FROM publish_plans p JOIN rules r ON r.id = p.rule_id LEFT JOIN departments d ON d.id = r.department_id
  LEFT JOIN users ru ON ru.id = p.requested_by LEFT JOIN users du ON du.id = p.decided_by`;

export const stepsOf = (row: Pick<PlanRow, 'steps'>): StoredStep[] => parse<StoredStep[]>(row.steps, []);

/** Plan `id` if the viewer's departments hold its rule (404 otherwise, as rules outside them do not exist). */
export async function loadPlan(db: D1Database, user: SessionUser, id: number): Promise<PlanRow> {
  const row = await db.prepare(`${PLAN_SELECT} WHERE p.id = ?`).bind(id).first<PlanRow>();
  if (!row) throw new ApiError(404, 'not_found', `No publish plan with id ${id}`);
  if (!inScope(user, row.rule_path)) throw outOfScope('publish plan', id);
  return row;
}

/** The version each applied step published, by step index. */
async function runsOf(db: D1Database, ids: number[]): Promise<Map<string, { version: number; ranAt: number }>> {
  if (!ids.length) return new Map();
  const rows = await db
    .prepare('SELECT plan_id, step, version, ran_at FROM publish_plan_runs WHERE plan_id IN (SELECT value FROM json_each(?))')
    .bind(JSON.stringify(ids))
    .all<{ plan_id: number; step: number; version: number; ran_at: number }>();
  return new Map(rows.results.map((r) => [`${r.plan_id}:${r.step}`, { version: r.version, ranAt: r.ran_at }]));
}

const LIVE = new Set<PlanState>(['awaiting_approval', 'scheduled', 'paused']);

function toItem(row: PlanRow, viewer: SessionUser, runs: Map<string, { version: number; ranAt: number }>): PlanItem {
  const steps: PlanStep[] = stepsOf(row).map((s, i) => {
    const run = runs.get(`${row.id}:${i}`);
    return { percent: s.percent, at: s.at, appliedAt: run?.ranAt ?? null, version: run?.version ?? null };
  });
  return {
    id: row.id,
    ruleId: row.rule_id,
    ruleName: row.rule_name,
    state: row.state,
    steps,
    nextStep: row.next_step,
    graphHash: row.graph_hash,
    // defaults for rows written without some fields (by hand, in tests)
    preview: {
      rolloutPercent: 100,
      total: 0,
      matched: 0,
      tags: [],
      actions: {},
      conflicts: [],
      countedAt: row.requested_at,
      ...parse<Partial<PlanPreview>>(row.preview, {}),
    },
    note: row.note,
    reason: parse<PlanReason | null>(row.reason, null),
    requestedBy: { id: row.requested_by, name: row.requester_name ?? '' },
    requestedAt: row.requested_at,
    decidedBy: row.decided_by === null ? null : { id: row.decided_by, name: row.decider_name ?? '' },
    decidedAt: row.decided_at,
    baseVersion: row.base_version,
    canDecide: viewer.role === 'super_admin' && row.state === 'awaiting_approval',
    canCancel: LIVE.has(row.state) && hasRole(viewer, 'dept_admin') && inScope(viewer, row.rule_path),
  };
}

export async function planItem(db: D1Database, viewer: SessionUser, row: PlanRow): Promise<PlanItem> {
  return toItem(row, viewer, await runsOf(db, [row.id]));
}

/** Plans of the viewer's departments' rules, newest first; `state` 'live' = awaiting approval, scheduled or paused. */
export async function listPlans(
  db: D1Database,
  viewer: SessionUser,
  q: { state: PlanState | 'live' | 'all'; ruleId?: number; limit: number },
): Promise<PlanItem[]> {
  const where: string[] = [];
  const args: unknown[] = [];
  if (q.state === 'live') where.push("p.state IN ('awaiting_approval', 'scheduled', 'paused')");
  else if (q.state !== 'all') {
    where.push('p.state = ?');
    args.push(q.state);
  }
  if (q.ruleId !== undefined) {
    where.push('p.rule_id = ?');
    args.push(q.ruleId);
  }
  const scope = userScope(viewer, 'r.department_id');
  if (scope) {
    where.push(scope.sql);
    args.push(...scope.params);
  }
  const rows = (
    await db
      .prepare(`${PLAN_SELECT}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY p.id DESC LIMIT ?`)
      .bind(...args, q.limit)
      .all<PlanRow>()
  ).results;
  const runs = await runsOf(
    db,
    rows.map((r) => r.id),
  );
  return rows.map((r) => toItem(r, viewer, runs));
}

/** One plan with the diff from the rule's version published now (a: none when never published) to the graph it publishes (b). */
export async function planDetail(db: D1Database, viewer: SessionUser, id: number): Promise<PlanDetail> {
  const row = await loadPlan(db, viewer, id);
  const current = await db
    .prepare(
      'SELECT v.version, v.graph FROM rules r JOIN rule_versions v ON v.rule_id = r.id AND v.version = r.published_version WHERE r.id = ?',
    )
    .bind(row.rule_id)
    .first<{ version: number; graph: string }>();
  const a = current ? parse<RuleGraph>(current.graph, EMPTY_GRAPH) : EMPTY_GRAPH;
  const b = parse<RuleGraph>(row.graph, EMPTY_GRAPH);
  return {
    ...(await planItem(db, viewer, row)),
    currentVersion: current?.version ?? null,
    compare: { a: { version: current?.version ?? 'draft', graph: a }, b: { version: 'draft', graph: b }, diff: diffGraphs(a, b) },
  };
}
