/**
 * Segments are drawn with the rule builder but have no actions: a Start node (a schedule
 * trigger: "all contacts"), conditions / branches / scores / logic in between, and one End node
 * (a `logic` node with nothing after it) whose reach is the audience. See shared/src/api/segments.ts.
 *
 * Rather than a second compiler, the segment is compiled as a rule: an internal action is hung
 * off the End node, so validation, per-node counts and the SQL are exactly the rules'. Errors
 * the compiler pins on that internal node are moved to the End node.
 *
 * Here in shared/ (not the worker) because the compiler expands a condition "in segment X" into
 * X's audience by compiling X's current graph with this very function (compile.ts).
 */
import { compileGraph, type CompiledRule, type CompileOptions } from './compile';
import { ruleError, type RuleError, type RuleResult } from './errors';
import { parseRuleGraph } from './schema';
import { upgradeGraph } from './upgrade';
import type { JsonLogic, RuleGraph } from './types';

/** Id of the internal action node; not a valid id for users (they cannot start with `__`). */
export const AUDIENCE_NODE = '__audience';
/** A tag id no tag has: the internal action never runs, it only marks the audience. */
const AUDIENCE_TAG = Number.MAX_SAFE_INTEGER;

/** A compiled segment: the rule it compiles to, its End node and the audience predicate. */
export interface CompiledSegment {
  rule: CompiledRule;
  endNodeId: string;
  /** JSON Logic over one contact: is it in the audience? */
  logic: JsonLogic;
}

/** Compiles a segment graph, or says what to fix, pinned to node ids. */
export function compileSegment(input: unknown, opts: CompileOptions = {}): RuleResult<CompiledSegment> {
  const up = upgradeGraph(input);
  if (!up.ok) return up;
  const parsed = parseRuleGraph(up.value);
  if (!parsed.ok) return parsed;
  const graph: RuleGraph = parsed.value;
  const errors: RuleError[] = [];

  for (const n of graph.nodes) {
    if (n.id.startsWith('__')) errors.push(ruleError(n.id, 'invalid_document', `node ids starting with "__" are reserved`));
    if (n.kind === 'trigger' && n.trigger.type !== 'schedule') {
      errors.push(ruleError(n.id, 'invalid_document', 'a segment starts from all contacts: use the Start node, not an event trigger'));
    }
    if (n.kind === 'action') errors.push(ruleError(n.id, 'invalid_document', 'a segment has no actions: end the flow in the End node'));
    // a band node tags its bands: an action too
    if (n.kind === 'band') errors.push(ruleError(n.id, 'invalid_document', 'a segment tags no one: use a score node, not a band node'));
  }
  const hasOutput = new Set(graph.edges.map((e) => e.source));
  const ends = graph.nodes.filter((n) => n.kind === 'logic' && n.op !== 'not' && !hasOutput.has(n.id));
  if (ends.length === 0) {
    errors.push(
      ruleError(
        null,
        'no_actions',
        'connect the flow to an End node (an OR or AND node with nothing after it): its contacts are the audience',
      ),
    );
  }
  for (const extra of ends.slice(1)) errors.push(ruleError(extra.id, 'invalid_document', 'a segment has exactly one End node'));
  if (errors.length > 0) return { ok: false, errors };

  const end = ends[0] as RuleGraph['nodes'][number];
  const withAudience: RuleGraph = {
    ...graph,
    nodes: [...graph.nodes, { id: AUDIENCE_NODE, kind: 'action', action: { type: 'add_tag', tagId: AUDIENCE_TAG } }],
    edges: [...graph.edges, { id: AUDIENCE_NODE, source: end.id, target: AUDIENCE_NODE }],
  };
  const tagExists = opts.tagExists;
  // compiled without parsing again: the internal node must not count against the user's node limit
  const compiled = compileGraph(withAudience, {
    ...opts,
    tagExists: tagExists ? (id) => id === AUDIENCE_TAG || tagExists(id) : undefined,
  });
  if (!compiled.ok) {
    const seen = new Set<string>();
    const moved = compiled.errors
      .map((e) => (e.nodeId === AUDIENCE_NODE ? { ...e, nodeId: end.id } : e))
      .map((e) => (e.edgeId === AUDIENCE_NODE ? (({ edgeId: _x, ...rest }) => rest)(e) : e))
      .filter((e) => {
        const key = `${e.nodeId}|${e.code}|${e.message}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
    return { ok: false, errors: moved };
  }
  return { ok: true, value: { rule: compiled.value, endNodeId: end.id, logic: compiled.value.nodeLogic[AUDIENCE_NODE] ?? false } };
}

/** One condition "in / not in segment X" of a graph: where it is and which segment it names. */
export interface SegmentReference {
  nodeId: string;
  segmentId: number;
}

/**
 * The segments a stored graph names directly (conditions, branch cases, trigger filters), read
 * leniently: any graph, valid or not, so delete guards and scope checks see drafts too.
 */
export function segmentReferences(graph: unknown): SegmentReference[] {
  const nodes = (graph as { nodes?: unknown } | null)?.nodes;
  if (!Array.isArray(nodes)) return [];
  const out: SegmentReference[] = [];
  const take = (nodeId: string, c: unknown) => {
    const x = c as { field?: unknown; value?: unknown } | null;
    if (x && x.field === 'segment' && typeof x.value === 'number') out.push({ nodeId, segmentId: x.value });
  };
  for (const n of nodes as { id?: unknown; condition?: unknown; cases?: unknown; trigger?: { filters?: unknown } }[]) {
    if (!n || typeof n.id !== 'string') continue;
    take(n.id, n.condition);
    if (Array.isArray(n.cases)) for (const c of n.cases as { condition?: unknown }[]) take(n.id, c?.condition);
    if (Array.isArray(n.trigger?.filters)) for (const f of n.trigger.filters as unknown[]) take(n.id, f);
  }
  return out;
}
