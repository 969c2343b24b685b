/**
 * A scheduled run of a published rule at a past time, back-computed: what the cron would have
 * written then, with the apply step publishing and the cron use (`applyStatements`: the rule SQL
 * at `at`, the net change, the tag writer). The contacts are those of the rule's department that
 * existed by then; their event windows slide with `at`, everything else is today's value. Used
 * by the demo seed (scripts/seed.ts) to give the demo rules a ledger history.
 */
import type { CompiledRule } from '@shared/rules/compile';
import type { RuleResult } from '@shared/rules/errors';
import type { NetPlan } from '@shared/rules/net-effect';
import { applyStatements } from './apply';

/** The statements of the run of `rule` (version `ruleVersion`, net plan `net`) at `at`, for the caller's batch. */
export function pastRunStatements(
  db: D1Database,
  rule: CompiledRule,
  net: NetPlan,
  o: { ruleId: number; ruleVersion: number; at: number; tzOffsetMinutes: number; departmentPath: string | null; batchId: string },
): RuleResult<D1PreparedStatement[]> {
  // as inDepartmentSubtree (worker/src/auth/access.ts), which ruleScope uses for live runs
  const scope =
    o.departmentPath === null
      ? { sql: 'c.created_at <= ?', params: [o.at] }
      : {
          sql: 'c.created_at <= ? AND c.department_id IN (SELECT id FROM departments WHERE instr(path, ?) = 1)',
          params: [o.at, o.departmentPath],
        };
  return applyStatements(db, rule, net, { now: o.at, tzOffsetMinutes: o.tzOffsetMinutes }, scope, {
    source: 'rule',
    ruleId: o.ruleId,
    ruleVersion: o.ruleVersion,
    batchId: o.batchId,
    at: o.at,
  });
}
