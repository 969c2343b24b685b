/**
 * Runs the rule language's SQL (built, pure, in `shared/src/rules/sql.ts`) on D1: the preview
 * counts, a sample of matching contacts, and plain predicate counts for segments.
 */
import type { CompiledRule } from '@shared/rules/compile';
import type { RuleResult } from '@shared/rules/errors';
import type { SqlContext, SqlFrag } from '@shared/rules/operators';
import { buildPreviewCountPlan, columnValues, fillCounts, type CountRound, type PlanTuning } from '@shared/rules/preview-counts';
import { buildPreviewQuery, buildSampleQuery, compileWhere, type PreviewColumn, type PreviewOptions } from '@shared/rules/sql';
import type { JsonLogic } from '@shared/rules/types';

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
  /** The net change per tag id: gain, lose, and (tags the rule adds) holders who keep it. */
  tags: Map<number, { gain: number; lose: number; kept?: number }>;
  /** Contacts reached by both actions of each conflict of the net plan, by its index. */
  conflicts: number[];
  /** Per call-webhook / notify node id: contacts it reaches whose tags the rule changes. */
  calls: Record<string, number>;
  /** D1's rows-read meter for the statements (what D1 bills, and how long it held the database). */
  rowsRead: number;
  /** Estimated from past events (`ctx.recentEvents`): contacts in scope with such an event at all. */
  withEvents?: number;
}

/**
 * Runs the preview of a compiled rule: by default as conjunction counts in two D1 batches
 * (`buildPreviewCountPlan`: the counts without a held tag and the holder counts first, then
 * each held-tag count from its smaller side), or — for rules whose counts would be too many,
 * and with `strategy: 'single'` — as the one statement of `buildPreviewQuery`. Same counts
 * either way. An estimate from past events (`ctx.recentEvents`) is always the one statement.
 */
export async function runPreview(
  db: D1Database,
  rule: CompiledRule,
  ctx: SqlContext,
  opts: PreviewOptions & PlanTuning = {},
): Promise<RuleResult<PreviewCounts>> {
  if (opts.strategy !== 'single') {
    const plan = buildPreviewCountPlan(rule, ctx, opts);
    if (plan?.ok) {
      const counts = new Array<number>(plan.value.size).fill(0);
      let rowsRead = 0;
      const run = async (round: CountRound) => {
        if (round.statements.length === 0) return;
        const results = await db.batch<{ counts: string | number | null }>(
          round.statements.map((s) => db.prepare(s.sql).bind(...s.params)),
        );
        fillCounts(
          round,
          results.map((r) => r.results[0]?.counts),
          counts,
        );
        for (const r of results) rowsRead += r.meta.rows_read ?? 0;
      };
      await run(plan.value.first);
      if (plan.value.second) await run(plan.value.second(counts));
      return { ok: true, value: readColumns(plan.value.columns, columnValues(plan.value, counts), rowsRead) };
    }
    // No plan (too many counts) or a count over D1's limits: the one statement decides.
  }
  const q = buildPreviewQuery(rule, ctx, opts);
  if (!q.ok) return q;
  const statement = db.prepare(q.value.sql).bind(...q.value.params);
  if (ctx.recentEvents) {
    // The statement's total counts contacts with events; the share's total is counted apart.
    const scope = opts.scope;
    const [res, all] = await db.batch<{ counts?: string | number | null; n?: number }>([
      statement,
      db.prepare(`SELECT COUNT(*) AS n FROM contacts c${scope ? ` WHERE ${scope.sql}` : ''}`).bind(...(scope?.params ?? [])),
    ]);
    const counted = readColumns(
      q.value.columns,
      splitCounts(res!.results[0]?.counts),
      (res!.meta.rows_read ?? 0) + (all!.meta.rows_read ?? 0),
    );
    return { ok: true, value: { ...counted, total: all!.results[0]?.n ?? 0, withEvents: counted.total } };
  }
  const res = await statement.all<{ counts: string | number | null }>();
  return { ok: true, value: readColumns(q.value.columns, splitCounts(res.results[0]?.counts), res.meta.rows_read ?? 0) };
}

const splitCounts = (packed: string | number | null | undefined) =>
  String(packed ?? '')
    .split(',')
    .map((x) => Number(x) || 0);

function readColumns(columns: PreviewColumn[], counts: number[], rowsRead: number): PreviewCounts {
  const out: PreviewCounts = { total: 0, matched: 0, nodes: {}, edges: {}, tags: new Map(), conflicts: [], calls: {}, rowsRead };
  const tag = (id: number) => {
    let t = out.tags.get(id);
    if (!t) {
      t = { gain: 0, lose: 0 };
      out.tags.set(id, t);
    }
    return t;
  };
  columns.forEach((col, i) => {
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
      case 'tag_gain':
        tag(col.tagId).gain = n;
        break;
      case 'tag_lose':
        tag(col.tagId).lose = n;
        break;
      case 'tag_kept':
        tag(col.tagId).kept = n;
        break;
      case 'conflict':
        out.conflicts[col.index] = n;
        break;
      case 'calls':
        out.calls[col.nodeId] = n;
        break;
    }
  });
  return out;
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
