/**
 * Runs the rule language's SQL (built, pure, in `shared/src/rules/sql.ts`) on D1: the preview
 * counts, a sample of matching contacts, and plain predicate counts for segments.
 */
import type { CompiledRule } from '../../../shared/src/rules/compile';
import type { RuleResult } from '../../../shared/src/rules/errors';
import type { SqlContext, SqlFrag } from '../../../shared/src/rules/operators';
import { buildPreviewQuery, buildSampleQuery, compileWhere, type PreviewOptions } from '../../../shared/src/rules/sql';
import type { JsonLogic } from '../../../shared/src/rules/types';

/** Counts for the canvas: per node, and per action the diff against who holds its tag today. */
export interface PreviewCounts {
  /** Contacts in scope. */
  total: number;
  /** Contacts for which at least one action fires. */
  matched: number;
  /** Contacts the flow reaches, per node id. */
  nodes: Record<string, number>;
  /** Contacts flowing along each edge (e.g. a condition's yes and no), per edge id. */
  edges: Record<string, number>;
  /** Per action node: add_tag → gain / holdersNotMatched; remove_tag → lose. */
  actions: Record<string, { gain?: number; lose?: number; holdersNotMatched?: number }>;
  /** D1's rows-read meter for the statement (what D1 bills, and how long it held the database). */
  rowsRead: number;
}

/** Runs the one-statement preview of a compiled rule. */
export async function runPreview(
  db: D1Database,
  rule: CompiledRule,
  ctx: SqlContext,
  opts: PreviewOptions = {},
): Promise<RuleResult<PreviewCounts>> {
  const q = buildPreviewQuery(rule, ctx, opts);
  if (!q.ok) return q;
  const res = await db
    .prepare(q.value.sql)
    .bind(...q.value.params)
    .all<{ counts: string | number | null }>();
  const counts = String(res.results[0]?.counts ?? '')
    .split(',')
    .map((x) => Number(x) || 0);
  const out: PreviewCounts = { total: 0, matched: 0, nodes: {}, edges: {}, actions: {}, rowsRead: res.meta.rows_read ?? 0 };
  q.value.columns.forEach((col, i) => {
    const n = counts[i] ?? 0;
    switch (col.kind) {
      case 'total':
        out.total = n;
        break;
      case 'matched':
        out.matched = n;
        break;
      case 'node':
        out.nodes[col.nodeId] = n;
        break;
      case 'edge':
        out.edges[col.edgeId] = n;
        break;
      case 'gain':
        (out.actions[col.nodeId] ??= {}).gain = n;
        break;
      case 'lose':
        (out.actions[col.nodeId] ??= {}).lose = n;
        break;
      case 'holders_not_matched':
        (out.actions[col.nodeId] ??= {}).holdersNotMatched = n;
        break;
    }
  });
  return { ok: true, value: out };
}

/** A sample of contacts the rule matches. */
export async function sampleMatches(
  db: D1Database,
  rule: CompiledRule,
  ctx: SqlContext,
  limit: number,
  opts: PreviewOptions = {},
): Promise<RuleResult<{ id: number; name: string }[]>> {
  const q = buildSampleQuery(rule, ctx, limit, opts);
  if (!q.ok) return q;
  const res = await db
    .prepare(q.value.sql)
    .bind(...q.value.params)
    .all<{ id: number; name: string }>();
  return { ok: true, value: res.results };
}

/** How many contacts satisfy a JSON Logic predicate (a segment), optionally within a scope. */
export async function countWhere(db: D1Database, logic: JsonLogic, ctx: SqlContext, scope?: SqlFrag): Promise<RuleResult<number>> {
  const w = compileWhere(logic, ctx);
  if (!w.ok) return w;
  const where = scope ? `${w.value.sql} AND ${scope.sql}` : w.value.sql;
  const params = [...w.value.params, ...(scope?.params ?? [])];
  const row = await db
    .prepare(`SELECT COUNT(*) AS n FROM contacts c WHERE ${where}`)
    .bind(...params)
    .first<{ n: number }>();
  return { ok: true, value: row?.n ?? 0 };
}
