/**
 * The preview behind `POST /api/rules/preview` and the check before a publish: compile, count
 * (`runPreview`: per node, gain / lose per action) within the gray-release share, and how many
 * exclusive-group siblings an add would displace. Publishing recomputes exactly this and refuses
 * when it differs from what the user confirmed.
 */
import { inDepartmentSubtree } from '../auth/access';
import type { ActionCounts, PreviewCountsBody } from '../../../shared/src/api/rules';
import { compileRule, type CompiledRule } from '../../../shared/src/rules/compile';
import type { RuleError } from '../../../shared/src/rules/errors';
import type { SqlContext, SqlFrag } from '../../../shared/src/rules/operators';
import { rolloutSql } from '../../../shared/src/rollout';
import { compileOptions, type Workspace } from './context';
import { displacedCounts } from './apply';
import { runPreview } from './preview';

/** Salt-free share for a graph not saved as a rule yet (the share of rule id 0). */
const UNSAVED_RULE_ID = 0;

/** The share of contacts a rule at `percent` reaches; undefined at 100% (no restriction). */
export function rolloutScope(ruleId: number | undefined, percent: number): SqlFrag | undefined {
  if (percent >= 100) return undefined;
  return rolloutSql(ruleId ?? UNSAVED_RULE_ID, percent);
}

/** Both restrictions (either may be absent). */
export function bothScopes(a: SqlFrag | undefined, b: SqlFrag | undefined): SqlFrag | undefined {
  if (!a) return b;
  if (!b) return a;
  return { sql: `(${a.sql}) AND (${b.sql})`, params: [...a.params, ...b.params] };
}

/**
 * The contacts a rule acts on: its gray-release share, within its department's subtree
 * (`departmentPath`; null: a company-wide rule). Preview, publish, scheduled runs and the
 * webhook path (execution/evaluate.ts) all restrict the same way.
 */
export function ruleScope(ruleId: number | undefined, percent: number, departmentPath: string | null): SqlFrag | undefined {
  return bothScopes(rolloutScope(ruleId, percent), departmentPath === null ? undefined : inDepartmentSubtree('c.department_id', departmentPath));
}

/**
 * Whether publishing applies the rule to current contacts now. An event-triggered rule whose
 * tests read the triggering event (its filters, a message keyword) would otherwise tag everyone
 * who passes the other conditions before anyone sent the event; such rules act only on events.
 */
export function appliesNow(rule: CompiledRule): boolean {
  if (rule.trigger.type !== 'event') return true;
  if (rule.trigger.filters.length > 0) return false;
  // the trigger's own test only checks the event's type, which publishing may take as given
  return !rule.tests.some((t) => t.eventScoped && t.nodeId !== rule.triggerNodeId);
}

/** A compiled rule with its counts. */
export interface CountedRule {
  rule: CompiledRule;
  counts: PreviewCountsBody;
  rowsRead: number;
  tookMs: number;
}

/** Compiles `graph` for the workspace and counts it; errors are pinned to node ids. */
export async function countRule(
  db: D1Database,
  ws: Workspace,
  graph: unknown,
  ctx: SqlContext,
  scope: SqlFrag | undefined,
): Promise<{ ok: true; value: CountedRule } | { ok: false; errors: RuleError[] }> {
  const compiled = compileRule(graph, compileOptions(ws));
  if (!compiled.ok) return compiled;
  const rule = compiled.value;
  const started = Date.now();
  const counted = await runPreview(db, rule, ctx, { scope });
  const tookMs = Date.now() - started;
  if (!counted.ok) return counted;
  const exclusiveGroup = new Map(ws.tags.filter((t) => t.groupExclusive).map((t) => [t.id, t.groupId]));
  const displaced = await displacedCounts(db, rule, ctx, scope, (tagId) => exclusiveGroup.get(tagId) ?? null);
  if (!displaced.ok) return displaced;
  const actions: Record<string, ActionCounts> = {};
  for (const a of rule.actions) {
    const c = counted.value.actions[a.nodeId] ?? {};
    actions[a.nodeId] =
      a.action.type === 'add_tag'
        ? {
            type: 'add_tag',
            tagId: a.action.tagId,
            gain: c.gain ?? 0,
            holdersNotMatched: c.holdersNotMatched ?? 0,
            ...(displaced.value[a.nodeId] !== undefined ? { displaced: displaced.value[a.nodeId] } : {}),
          }
        : { type: 'remove_tag', tagId: a.action.tagId, lose: c.lose ?? 0 };
  }
  return {
    ok: true,
    value: {
      rule,
      counts: { total: counted.value.total, matched: counted.value.matched, nodes: counted.value.nodes, edges: counted.value.edges, actions },
      rowsRead: counted.value.rowsRead,
      tookMs,
    },
  };
}
