/**
 * Where a tag appears in a stored rule or segment graph (`rules.draft_graph`,
 * `rule_versions.graph`, `segments.graph`): conditions on the `tags` field (condition nodes,
 * branch cases, trigger filters) and add/remove actions. Works on the parsed JSON as stored,
 * without validating it: an invalid draft must still be found and rewritten.
 */
import type { ConditionSpec, JsonLogic } from '../rules/types';

type Json = unknown;
const isObj = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every condition of a graph, wherever it sits. */
function conditionsOf(graph: Json): ConditionSpec[] {
  if (!isObj(graph) || !Array.isArray(graph.nodes)) return [];
  const out: ConditionSpec[] = [];
  for (const node of graph.nodes) {
    if (!isObj(node)) continue;
    if (isObj(node.condition)) out.push(node.condition as unknown as ConditionSpec);
    if (Array.isArray(node.cases))
      for (const c of node.cases) if (isObj(c) && isObj(c.condition)) out.push(c.condition as unknown as ConditionSpec);
    if (isObj(node.trigger) && Array.isArray(node.trigger.filters)) {
      for (const f of node.trigger.filters) if (isObj(f)) out.push(f as unknown as ConditionSpec);
    }
  }
  return out.filter((c) => c.field === 'tags');
}

function actionsOf(graph: Json): { type: string; tagId: unknown }[] {
  if (!isObj(graph) || !Array.isArray(graph.nodes)) return [];
  return graph.nodes.filter((n) => isObj(n) && isObj(n.action)).map((n) => (n as { action: { type: string; tagId: unknown } }).action);
}

/** How a graph uses tag `tagId`: in conditions, in actions, or not at all. */
export function tagUseInGraph(graph: Json, tagId: number): { conditions: number; actions: number } {
  let conditions = 0;
  for (const c of conditionsOf(graph)) {
    if (c.value === tagId || (Array.isArray(c.value) && c.value.includes(tagId))) conditions++;
  }
  const actions = actionsOf(graph).filter((a) => a.tagId === tagId).length;
  return { conditions, actions };
}

export const graphUsesTag = (graph: Json, tagId: number) => {
  const u = tagUseInGraph(graph, tagId);
  return u.conditions + u.actions > 0;
};

/**
 * A copy of the graph with tag `from` replaced by `into` everywhere it is used. A list that
 * already holds `into` keeps it once ("has any of [A, B]" merged B→A is "has any of [A]").
 * Returns the number of places changed.
 */
export function replaceTagInGraph<G>(graph: G, from: number, into: number): { graph: G; replaced: number } {
  const copy = structuredClone(graph);
  let replaced = 0;
  for (const c of conditionsOf(copy)) {
    if (c.value === from) {
      c.value = into;
      replaced++;
    } else if (Array.isArray(c.value) && c.value.includes(from)) {
      c.value = [...new Set(c.value.map((v) => (v === from ? into : v)))];
      replaced++;
    }
  }
  for (const a of actionsOf(copy)) {
    if (a.tagId === from) {
      a.tagId = into;
      replaced++;
    }
  }
  return { graph: copy, replaced };
}

const TAG_OPS = new Set(['sf_has_tag', 'sf_lacks_tag', 'sf_has_any_tag', 'sf_has_all_tags', 'sf_has_no_tag']);

/**
 * The same replacement in compiled JSON Logic (segments store it beside their graph): the
 * arguments of the tag operators, `{ sf_has_tag: [id] }` and `{ sf_has_any_tag: [[ids]] }`.
 */
export function replaceTagInLogic(logic: JsonLogic, from: number, into: number): JsonLogic {
  if (Array.isArray(logic)) return logic.map((l) => replaceTagInLogic(l, from, into));
  if (!isObj(logic)) return logic;
  const out: Record<string, JsonLogic> = {};
  for (const [op, args] of Object.entries(logic)) {
    if (TAG_OPS.has(op) && Array.isArray(args)) {
      out[op] = args.map((a) =>
        a === from ? into : Array.isArray(a) ? [...new Set(a.map((v) => (v === from ? into : v)))] : a,
      ) as JsonLogic;
    } else {
      out[op] = replaceTagInLogic(args as JsonLogic, from, into);
    }
  }
  return out;
}
