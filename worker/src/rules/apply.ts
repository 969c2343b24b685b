/**
 * Applying a compiled rule to the current contacts, set-based: what publishing and scheduled runs
 * do. The rule's NET change (shared/src/rules/net-effect.ts) is written, never its actions one
 * after another: per tag, who it is removed from and who it is added to are computed from the
 * SAME state — the one the preview counted — before any tag changes; then removals, then
 * additions go through the tag writer (ledger rows, exclusive groups, no-ops), all as statements
 * for the caller's one batch. A winning tag of an exclusive group displaces its siblings there.
 */
import type { CompiledRule, Formula } from '@shared/rules/compile';
import { ruleError, type RuleResult } from '@shared/rules/errors';
import { isTagAction } from '@shared/rules/types';
import { netFormulas, type NetPlan } from '@shared/rules/net-effect';
import { buildTargetsQuery, D1_MAX_PARAMS } from '@shared/rules/sql';
import type { SqlContext, SqlFrag } from '@shared/rules/operators';
import { tagSetStatements, type TagWriteSource } from '../tagging/tag-writer';

/** The targets of one write, refused when the statement around them would pass D1's parameter limit. */
function targets(rule: CompiledRule, ctx: SqlContext, f: Formula, tagId: number, scope: SqlFrag | undefined): RuleResult<SqlFrag> {
  const q = buildTargetsQuery(rule, ctx, f, scope ? { scope } : {});
  const extra = 1; // the snapshot's run id
  if (q.ok && q.value.params.length + extra > D1_MAX_PARAMS) {
    const node = rule.actions.find((a) => isTagAction(a.action) && a.action.tagId === tagId)?.nodeId ?? null;
    return {
      ok: false,
      errors: [
        ruleError(
          node,
          'too_many_parameters',
          `applying this rule needs ${q.value.params.length + extra} SQL parameters; D1 allows ${D1_MAX_PARAMS}: simplify the rule`,
        ),
      ],
    };
  }
  return q;
}

/** Statements that apply the net change of `rule` (with its net `plan`) within `scope`. */
export function applyStatements(
  db: D1Database,
  rule: CompiledRule,
  plan: NetPlan,
  ctx: SqlContext,
  scope: SqlFrag | undefined,
  src: TagWriteSource,
): RuleResult<D1PreparedStatement[]> {
  const snapshot: D1PreparedStatement[] = [];
  const removes: D1PreparedStatement[] = [];
  const adds: D1PreparedStatement[] = [];
  const runs: string[] = [];
  const stage = (f: Formula, tagId: number, op: 'add' | 'remove'): RuleResult<null> => {
    const q = targets(rule, ctx, f, tagId, scope);
    if (!q.ok) return q;
    const run = `snap:${crypto.randomUUID()}`;
    runs.push(run);
    snapshot.push(
      db
        .prepare(`INSERT OR IGNORE INTO tag_apply_targets (run_id, contact_id) SELECT ?, t.id FROM (${q.value.sql}) AS t`)
        .bind(run, ...q.value.params),
    );
    (op === 'add' ? adds : removes).push(
      ...tagSetStatements(db, { sql: 'SELECT contact_id FROM tag_apply_targets WHERE run_id = ?', params: [run] }, tagId, op, src),
    );
    return { ok: true, value: null };
  };
  for (const f of netFormulas(rule, plan)) {
    // displaced siblings need no statement of their own: the winner's addition removes them
    for (const [formula, op] of [
      [f.remove, 'remove'],
      [f.add, 'add'],
    ] as const) {
      if (!formula) continue;
      const r = stage(formula, f.tagId, op);
      if (!r.ok) return r;
    }
  }
  if (runs.length === 0) return { ok: true, value: [] };
  const cleanup = db.prepare('DELETE FROM tag_apply_targets WHERE run_id IN (SELECT value FROM json_each(?))').bind(JSON.stringify(runs));
  return { ok: true, value: [...snapshot, ...removes, ...adds, cleanup] };
}
