/**
 * The preview behind `POST /api/rules/preview` and the check before a publish: compile, count
 * (`runPreview`: per node, gain / lose per action) within the gray-release share, and how many
 * exclusive-group siblings an add would displace. Publishing recomputes exactly this and refuses
 * when it differs from what the user confirmed.
 */
import { inDepartmentSubtree } from '../auth/access';
import { ESTIMATE_DAYS, type ActionCounts, type ConflictCounts, type PreviewCountsBody, type TagCounts } from '@shared/api/rules';
import { netPlanOver, type NetPlan, type NetTag } from '@shared/rules/net-effect';
import { compileRule, type CompiledRule } from '@shared/rules/compile';
import { isTagAction } from '@shared/rules/types';
import type { RuleError } from '@shared/rules/errors';
import type { RecentEvents, SqlContext, SqlFrag } from '@shared/rules/operators';
import { DAY_MS } from '@shared/time';
import { rolloutSql } from '@shared/rollout';
import { compileOptions, type Workspace } from './context';
import { runPreview } from './preview';
import { graphDestinationIds, usableDestinations } from '../outbound/destinations-read';

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
  return bothScopes(
    rolloutScope(ruleId, percent),
    departmentPath === null ? undefined : inDepartmentSubtree('c.department_id', departmentPath),
  );
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

/** The past events an event rule that reads its event is previewed by (null: counted as it applies). */
export function recentEventsFor(rule: CompiledRule, now: number): RecentEvents | null {
  if (rule.trigger.type !== 'event' || appliesNow(rule)) return null;
  return { type: rule.trigger.eventType, days: ESTIMATE_DAYS, fromMs: now - ESTIMATE_DAYS * DAY_MS, toMs: now };
}

/** A compiled rule with its counts. */
export interface CountedRule {
  rule: CompiledRule;
  /** Its net plan over the workspace's tags: what publishing writes is computed from the same one. */
  net: NetPlan;
  counts: PreviewCountsBody;
  rowsRead: number;
  tookMs: number;
}

/** A tag an action of the rule names (not one it could only displace). */
export const named = (t: NetTag) => t.addNodes.length > 0 || t.removeNodes.length > 0;

/** The net plan of a compiled rule over the workspace's tag groups. */
export function netPlanOf(rule: CompiledRule, ws: Workspace): NetPlan {
  return netPlanOver(
    rule.actions,
    ws.tags.map((t) => ({ id: t.id, groupId: t.groupId, exclusive: t.groupExclusive })),
  );
}

/** Compiles `graph` for the workspace and counts it; errors are pinned to node ids. */
export async function countRule(
  db: D1Database,
  ws: Workspace,
  graph: unknown,
  ctx: SqlContext,
  scope: SqlFrag | undefined,
): Promise<{ ok: true; value: CountedRule } | { ok: false; errors: RuleError[] }> {
  // the destinations outbound actions name must exist (one query, only for rules that have some)
  const usable = await usableDestinations(db, graphDestinationIds(graph));
  const compiled = compileRule(graph, { ...compileOptions(ws), destinationExists: (id, kind) => usable.has(`${kind}:${id}`) });
  if (!compiled.ok) return compiled;
  const rule = compiled.value;
  const net = netPlanOf(rule, ws);
  const started = Date.now();
  // A rule that reads its event changes nothing at publish: its counts are estimated from the
  // contacts' own events of the last ESTIMATE_DAYS days, never "as if everyone sent it next".
  const recent = recentEventsFor(rule, ctx.now);
  const counted = await runPreview(db, rule, recent ? { ...ctx, recentEvents: recent } : ctx, { scope, net });
  const tookMs = Date.now() - started;
  if (!counted.ok) return counted;
  const actions: Record<string, ActionCounts> = {};
  for (const a of rule.actions) {
    const x = a.action;
    actions[a.nodeId] = isTagAction(x)
      ? { type: x.type, tagId: x.tagId }
      : // a rule that does not apply at publish (it reads its event) calls nobody then: its calls come with events
        { type: x.type, destinationId: x.destinationId, calls: appliesNow(rule) ? (counted.value.calls[a.nodeId] ?? 0) : 0 };
  }
  // A tag of an exclusive group the rule only could displace is listed when someone would lose it.
  const tags: TagCounts[] = net.tags
    .map((t) => ({ tagId: t.tagId, gain: 0, lose: 0, ...counted.value.tags.get(t.tagId) }))
    .filter((t, i) => named(net.tags[i] as NetTag) || t.lose > 0);
  const conflicts: ConflictCounts[] = net.conflicts.map((c, i) => ({ ...c, contacts: counted.value.conflicts[i] ?? 0 }));
  return {
    ok: true,
    value: {
      rule,
      net,
      counts: {
        total: counted.value.total,
        matched: counted.value.matched,
        nodes: counted.value.nodes,
        edges: counted.value.edges,
        actions,
        tags,
        conflicts,
        ...(recent ? { estimate: { days: recent.days, eventType: recent.type, withEvents: counted.value.withEvents ?? 0 } } : {}),
      },
      rowsRead: counted.value.rowsRead,
      tookMs,
    },
  };
}
