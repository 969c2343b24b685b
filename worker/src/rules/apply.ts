/**
 * Applying a compiled rule to the current contacts, set-based: what publishing does now (and
 * what a scheduled run can reuse). Every action's targets are computed from the SAME state —
 * the one the preview counted — before any tag changes, then each action goes through the tag
 * writer (ledger rows, exclusive groups, no-ops), all as statements for the caller's one batch.
 */
import type { CompiledRule } from '../../../shared/src/rules/compile';
import { ruleError, type RuleResult } from '../../../shared/src/rules/errors';
import { D1_MAX_PARAMS } from '../../../shared/src/rules/sql';
import type { SqlContext, SqlFrag } from '../../../shared/src/rules/operators';
import { buildActionTargetsQuery } from '../../../shared/src/rules/apply-sql';
import { tagSetStatements, type TagWriteSource } from '../tagging/tag-writer';

/** The action's targets, refused when the statement around them would pass D1's parameter limit. */
function targets(rule: CompiledRule, ctx: SqlContext, nodeId: string, scope: SqlFrag | undefined, extra: number): RuleResult<SqlFrag> {
  const q = buildActionTargetsQuery(rule, ctx, nodeId, scope);
  if (q.ok && q.value.params.length + extra > D1_MAX_PARAMS) {
    return { ok: false, errors: [ruleError(nodeId, 'too_many_parameters', `applying this action needs ${q.value.params.length + extra} SQL parameters; D1 allows ${D1_MAX_PARAMS}: simplify the rule`)] };
  }
  return q;
}

/** Statements that apply every action of `rule` within `scope`, in node order. */
export function applyStatements(
  db: D1Database,
  rule: CompiledRule,
  ctx: SqlContext,
  scope: SqlFrag | undefined,
  src: TagWriteSource,
): RuleResult<D1PreparedStatement[]> {
  const snapshot: D1PreparedStatement[] = [];
  const writes: D1PreparedStatement[] = [];
  const runs: string[] = [];
  for (const a of rule.actions) {
    const q = targets(rule, ctx, a.nodeId, scope, 1);
    if (!q.ok) return q;
    const run = `snap:${crypto.randomUUID()}`;
    runs.push(run);
    snapshot.push(
      db.prepare(`INSERT OR IGNORE INTO tag_apply_targets (run_id, contact_id) SELECT ?, t.id FROM (${q.value.sql}) AS t`).bind(run, ...q.value.params),
    );
    writes.push(
      ...tagSetStatements(db, { sql: 'SELECT contact_id FROM tag_apply_targets WHERE run_id = ?', params: [run] }, a.action.tagId, a.action.type === 'add_tag' ? 'add' : 'remove', src),
    );
  }
  const cleanup = db.prepare('DELETE FROM tag_apply_targets WHERE run_id IN (SELECT value FROM json_each(?))').bind(JSON.stringify(runs));
  return { ok: true, value: [...snapshot, ...writes, cleanup] };
}

/**
 * Per add_tag action on an exclusive group: how many of the contacts' other tags of that group
 * applying it would remove (the tag writer displaces them). Read-only; one COUNT per such action.
 */
export async function displacedCounts(
  db: D1Database,
  rule: CompiledRule,
  ctx: SqlContext,
  scope: SqlFrag | undefined,
  exclusiveGroupOf: (tagId: number) => number | null,
): Promise<RuleResult<Record<string, number>>> {
  const out: Record<string, number> = {};
  const statements: { nodeId: string; stmt: D1PreparedStatement }[] = [];
  for (const a of rule.actions) {
    if (a.action.type !== 'add_tag') continue;
    const group = exclusiveGroupOf(a.action.tagId);
    if (group === null) continue;
    const q = targets(rule, ctx, a.nodeId, scope, 2);
    if (!q.ok) return q;
    statements.push({
      nodeId: a.nodeId,
      stmt: db
        .prepare(
          `SELECT COUNT(*) AS n FROM contact_tags ct JOIN tags s ON s.id = ct.tag_id
           WHERE ct.contact_id IN (SELECT t.id FROM (${q.value.sql}) AS t) AND ct.tag_id <> ? AND s.group_id = ?`,
        )
        .bind(...q.value.params, a.action.tagId, group),
    });
  }
  if (statements.length === 0) return { ok: true, value: out };
  const results = await db.batch<{ n: number }>(statements.map((s) => s.stmt));
  statements.forEach((s, i) => {
    out[s.nodeId] = results[i]?.results[0]?.n ?? 0;
  });
  return { ok: true, value: out };
}

/** Ledger rows one publish wrote, by tag and operation. */
export async function ledgerCounts(db: D1Database, ruleId: number, version: number, batchId: string): Promise<Map<string, number>> {
  const { results } = await db
    .prepare(
      `SELECT tag_id, op, COUNT(*) AS n FROM tag_ledger
       WHERE rule_id = ? AND rule_version = ? AND batch_id = ? GROUP BY tag_id, op`,
    )
    .bind(ruleId, version, batchId)
    .all<{ tag_id: number; op: string; n: number }>();
  return new Map(results.map((r) => [`${r.op}:${r.tag_id}`, r.n]));
}
