/**
 * What one rule does to one contact: the NET change of every action that fires for it.
 *
 * A rule's actions are not applied one after another. For one contact, all actions that fire
 * are combined into one change, and only that change is written (no add-then-remove rows):
 *
 * 1. A removal wins over an addition of the same tag: if "add T" and "remove T" both fire,
 *    T is removed (or stays absent).
 * 2. Of the tags of one exclusive group the rule would add (after 1), the first in the rule's
 *    priority order wins; the others are not added. Priority order is the order of each tag's
 *    first add action in the graph's node order (the order the canvas created them), shown on
 *    the canvas as "以…为准" wherever two such actions overlap.
 * 3. A winning tag of an exclusive group displaces the contact's other tags of that group (the
 *    tag writer's rule), so they count as lost.
 *
 * The same plan drives every path: the preview's per-tag counts (SQL, `preview-counts.ts` and
 * `sql.ts`), publishing and scheduled runs (set-based writes over `add` / `remove` targets), and
 * the webhook path and the tests' reference (`netChange`, JS). See docs/rules.md.
 */
import type { CompiledAction, CompiledRule, Formula } from './compile';

/** What the net change needs to know of a tag: its group, and whether the group is exclusive. */
export interface TagFacts {
  groupId: number;
  exclusive: boolean;
}

/** Facts of a tag (undefined: unknown tag, treated as non-exclusive). */
export type TagFactsOf = (tagId: number) => TagFacts | undefined;

/** One tag the rule touches, or a tag of an exclusive group the rule adds into. */
export interface NetTag {
  tagId: number;
  /** Its exclusive group's id, when its group is exclusive. */
  exclusiveGroup: number | null;
  /** Action node ids that add it / remove it, in node order. */
  addNodes: string[];
  removeNodes: string[];
}

/** Two actions that can fire for the same contact with opposite or exclusive effects. */
export interface NetConflict {
  kind: 'add_remove' | 'exclusive';
  /** The two action node ids, in node order. */
  nodeIds: [string, string];
  /** The action whose effect stands where both fire. */
  winner: string;
}

/** The structure of a rule's net effect, in priority order. */
export interface NetPlan {
  /**
   * Tags with an add action first (in order of their first add action), then tags only removed,
   * then the other tags of exclusive groups the rule adds into (they can only be displaced).
   */
  tags: NetTag[];
  conflicts: NetConflict[];
}

/** At most this many conflict pairs are counted (a rule with more gets the first ones). */
export const MAX_CONFLICTS = 24;

/**
 * The net plan of a rule's actions. `groupTags` lists the tags of an exclusive group (any
 * status: a held retired tag is displaced all the same), so that tags the rule does not name but
 * would displace are counted too.
 */
export function netPlan(
  actions: readonly CompiledAction[],
  factsOf: TagFactsOf,
  groupTags: (groupId: number) => readonly number[] = () => [],
): NetPlan {
  const byTag = new Map<number, NetTag>();
  const tagOf = (tagId: number): NetTag => {
    let t = byTag.get(tagId);
    if (!t) {
      const f = factsOf(tagId);
      t = { tagId, exclusiveGroup: f?.exclusive ? f.groupId : null, addNodes: [], removeNodes: [] };
      byTag.set(tagId, t);
    }
    return t;
  };
  // Tags with an add action, in order of their first add, then the rest in order of appearance.
  for (const a of actions) if (a.action.type === 'add_tag') tagOf(a.action.tagId).addNodes.push(a.nodeId);
  for (const a of actions) if (a.action.type === 'remove_tag') tagOf(a.action.tagId).removeNodes.push(a.nodeId);
  const addedGroups = [
    ...new Set(
      [...byTag.values()].filter((t) => t.addNodes.length > 0 && t.exclusiveGroup !== null).map((t) => t.exclusiveGroup as number),
    ),
  ];
  for (const g of addedGroups) {
    for (const tagId of groupTags(g)) if (!byTag.has(tagId)) byTag.set(tagId, { tagId, exclusiveGroup: g, addNodes: [], removeNodes: [] });
  }
  const tags = [...byTag.values()];

  const conflicts: NetConflict[] = [];
  const order = new Map(actions.map((a, i) => [a.nodeId, i]));
  const pair = (kind: NetConflict['kind'], x: string, y: string, winner: string) => {
    const [first, second] = (order.get(x) ?? 0) <= (order.get(y) ?? 0) ? [x, y] : [y, x];
    if (conflicts.length < MAX_CONFLICTS) conflicts.push({ kind, nodeIds: [first, second], winner });
  };
  for (const t of tags) for (const a of t.addNodes) for (const r of t.removeNodes) pair('add_remove', a, r, r);
  for (let i = 0; i < tags.length; i++) {
    const t = tags[i] as NetTag;
    if (t.exclusiveGroup === null) continue;
    for (let j = i + 1; j < tags.length; j++) {
      const s = tags[j] as NetTag;
      if (s.exclusiveGroup !== t.exclusiveGroup) continue;
      // t comes first in priority order, so t's add wins where both fire (and neither is removed).
      for (const a of t.addNodes) for (const b of s.addNodes) pair('exclusive', a, b, a);
    }
  }
  return { tags, conflicts };
}

/**
 * One contact's net change: which tags the rule adds (the tag writer skips those already held,
 * and displaces the other tags of an exclusive group) and which it removes (skipped when not
 * held). Removals are applied before additions.
 */
export function netChange(plan: NetPlan, fired: Iterable<string>): { add: number[]; remove: number[] } {
  const on = new Set(fired);
  const add: number[] = [];
  const remove: number[] = [];
  const taken = new Set<number>();
  for (const t of plan.tags) {
    const removed = t.removeNodes.some((n) => on.has(n));
    if (removed) remove.push(t.tagId);
    const wanted = !removed && t.addNodes.some((n) => on.has(n));
    if (!wanted) continue;
    if (t.exclusiveGroup !== null) {
      if (taken.has(t.exclusiveGroup)) continue;
      taken.add(t.exclusiveGroup);
    }
    add.push(t.tagId);
  }
  return { add, remove };
}

/** A tag's net effect as formulas over the rule's tests (for SQL: counts and write targets). */
export interface NetFormulas {
  tagId: number;
  /** The rule adds the tag (it wins): contacts not holding it gain it. */
  add: Formula | null;
  /** A remove action fires: holders lose it. */
  remove: Formula | null;
  /** Another tag of its exclusive group wins: holders lose it. */
  displaced: Formula | null;
}

const TRUE: Formula = { t: 'true' };
const FALSE: Formula = { t: 'not', of: TRUE };
const or = (of: Formula[]): Formula | null => (of.length === 0 ? null : of.length === 1 ? (of[0] as Formula) : { t: 'or', of });
const and = (of: Formula[]): Formula => (of.length === 1 ? (of[0] as Formula) : { t: 'and', of });
const not = (f: Formula): Formula => ({ t: 'not', of: f });

/** The formulas of every tag of `plan` (same order), from the rule's action reaches. */
export function netFormulas(rule: CompiledRule, plan: NetPlan): NetFormulas[] {
  const reachOf = (nodeId: string) => rule.reach[nodeId] ?? FALSE;
  const wanted = new Map<number, Formula[]>(); // exclusive group → what its tags so far want (priority order)
  const winners = new Map<number, { tagId: number; f: Formula }[]>(); // exclusive group → its tags' winning formulas
  const out = plan.tags.map((t): NetFormulas => {
    const removed = or(t.removeNodes.map(reachOf));
    const asked = or(t.addNodes.map(reachOf));
    let add = asked === null ? null : removed === null ? asked : and([asked, not(removed)]);
    if (add !== null && t.exclusiveGroup !== null) {
      // it wins unless a tag before it in the group is wanted too
      const before = or(wanted.get(t.exclusiveGroup) ?? []);
      wanted.set(t.exclusiveGroup, [...(wanted.get(t.exclusiveGroup) ?? []), add]);
      if (before !== null) add = and([add, not(before)]);
      winners.set(t.exclusiveGroup, [...(winners.get(t.exclusiveGroup) ?? []), { tagId: t.tagId, f: add }]);
    }
    return { tagId: t.tagId, add, remove: removed, displaced: null };
  });
  // Displaced: a different tag of the group wins (at most one tag wins per group).
  plan.tags.forEach((t, i) => {
    const f = out[i] as NetFormulas;
    if (t.exclusiveGroup !== null)
      f.displaced = or((winners.get(t.exclusiveGroup) ?? []).filter((w) => w.tagId !== t.tagId).map((w) => w.f));
  });
  return out;
}

/** Both actions of a conflict fire. */
export function conflictFormula(rule: CompiledRule, c: NetConflict): Formula {
  return and(c.nodeIds.map((n) => rule.reach[n] ?? FALSE));
}

/** A tag as a workspace lists it. */
export interface TagRow {
  id: number;
  groupId: number;
  exclusive: boolean;
}

/** The net plan of `actions` over a workspace's tags (every path builds it this way). */
export function netPlanOver(actions: readonly CompiledAction[], tags: Iterable<TagRow>): NetPlan {
  const byId = new Map<number, TagRow>();
  const byGroup = new Map<number, number[]>();
  for (const t of tags) {
    byId.set(t.id, t);
    if (t.exclusive) byGroup.set(t.groupId, [...(byGroup.get(t.groupId) ?? []), t.id]);
  }
  return netPlan(
    actions,
    (id) => byId.get(id),
    (g) => byGroup.get(g) ?? [],
  );
}
