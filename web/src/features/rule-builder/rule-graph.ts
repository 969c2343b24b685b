/**
 * Pure helpers over the rule document the editor needs besides the compiler: new nodes with
 * sensible defaults, the output handles of a node, why a connection makes no sense, and a
 * left-to-right auto-layout. No Vue, no store: the store calls these.
 */
import dagre from '@dagrejs/dagre';
import { RULE_SCHEMA_VERSION, type ActionSpec, type RuleEdge, type RuleGraph, type RuleNode, type RuleNodeKind } from '@shared/rules/types';
import { outputHandles } from '@shared/rules/handles';

/** Kinds in palette order. */
export const NODE_KINDS = ['trigger', 'condition', 'logic', 'score', 'band', 'branch', 'action'] as const satisfies readonly RuleNodeKind[];

/** Node ids must satisfy the schema (`[A-Za-z0-9_.-]`); short random suffixes keep pasted copies unique. */
export function newId(prefix: string): string {
  return `${prefix}_${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * A new band node's bands, top first. The lowest starts at −100, below any score whose penalties
 * stay within the UI's −100…100 weights, so "< 40" really means below 40.
 */
export const DEFAULT_BANDS: readonly { min: number; max: number | null }[] = [
  { min: 80, max: null },
  { min: 60, max: 80 },
  { min: 40, max: 60 },
  { min: -100, max: 40 },
];

/** A new node of `kind` at `position`, with defaults a marketer would start from. */
export function createNode(
  kind: RuleNodeKind,
  position: { x: number; y: number },
  opts: { segment?: boolean; action?: ActionSpec['type'] } = {},
): RuleNode {
  const id = newId(kind);
  switch (kind) {
    case 'trigger':
      // a segment's Start is a schedule trigger meaning "all contacts"; its cron is not used
      return { id, kind, position, trigger: { type: 'schedule', cron: opts.segment ? 'segment' : '0 3 * * *' } };
    case 'condition':
      return { id, kind, position, condition: { field: '', op: '' } };
    case 'logic':
      return { id, kind, position, op: 'and' };
    case 'score':
      return {
        id,
        kind,
        position,
        metrics: [
          { field: 'event.count', params: { eventType: 'message', days: 30 }, weight: 50, cap: 30 },
          { field: 'event.amount', params: { eventType: 'purchase', days: 90 }, weight: 50, cap: 100_000 },
        ],
        bands: [
          { id: newId('band'), label: '', min: 60, max: null },
          { id: newId('band'), label: '', min: 0, max: 60 },
        ],
      };
    case 'band':
      // seed 003's bands (> 80, 60–80, 40–60, < 40); factors and the group's tags are picked in the inspector
      return {
        id,
        kind,
        position,
        metrics: [],
        bands: DEFAULT_BANDS.map((b) => ({ id: newId('band'), min: b.min, max: b.max, tagId: 0 })),
      };
    case 'branch':
      return { id, kind, position, cases: [{ id: newId('case'), condition: { field: '', op: '' } }] };
    case 'action':
      return { id: newId(opts.action === undefined ? kind : opts.action), kind, position, action: emptyAction(opts.action ?? 'add_tag') };
  }
}

/**
 * An action of `type` not set up yet (0 = nothing picked: the compiler names the node until it
 * is); switching an action's type in the inspector starts from this too.
 */
export function emptyAction(type: ActionSpec['type']): ActionSpec {
  switch (type) {
    case 'add_tag':
    case 'remove_tag':
      return { type, tagId: 0 };
    case 'call_webhook':
      return { type, destinationId: 0 };
    case 'notify':
      return { type, destinationId: 0, text: '' };
  }
}

/** The output handles of a node (shared with the compiler). */
export { outputHandles };

/** Why a connection is refused (an i18n key under `rules.connect`), or null when it is fine. */
export type ConnectionProblem = 'self' | 'intoTrigger' | 'fromAction' | 'duplicate' | 'cycle' | 'notInputs' | 'badHandle';

/** Checks a proposed edge against the document before it exists. */
export function connectionProblem(
  g: RuleGraph,
  e: { source: string; target: string; sourceHandle?: string | null },
): ConnectionProblem | null {
  if (e.source === e.target) return 'self';
  const source = g.nodes.find((n) => n.id === e.source);
  const target = g.nodes.find((n) => n.id === e.target);
  if (!source || !target) return 'badHandle';
  if (target.kind === 'trigger') return 'intoTrigger';
  if (source.kind === 'action') return 'fromAction';
  const handle = e.sourceHandle ?? undefined;
  if (!outputHandles(source).includes(handle)) return 'badHandle';
  if (g.edges.some((x) => x.source === e.source && x.target === e.target && (x.sourceHandle ?? undefined) === handle)) return 'duplicate';
  if (target.kind === 'logic' && target.op === 'not' && g.edges.some((x) => x.target === target.id)) return 'notInputs';
  // a path target → … → source would close a loop
  const out = new Map<string, string[]>();
  for (const x of g.edges) out.set(x.source, [...(out.get(x.source) ?? []), x.target]);
  const seen = new Set<string>();
  const stack = [e.target];
  while (stack.length) {
    const id = stack.pop()!;
    if (id === e.source) return 'cycle';
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...(out.get(id) ?? []));
  }
  return null;
}

/** Approximate rendered sizes, used for nodes the canvas has not measured (yet). */
const NODE_WIDTH = 240;
function heightOf(n: RuleNode): number {
  const rows =
    n.kind === 'branch' ? n.cases.length + 1 : n.kind === 'score' || n.kind === 'band' ? n.bands.length : n.kind === 'condition' ? 2 : 0;
  return 96 + rows * 28;
}

/**
 * A left-to-right layout by dagre (layers, crossing reduction, compact placement). Siblings from
 * one node keep their handle order top to bottom (yes above no, case 1 above case 2) through
 * dagre's order constraints. `sizes` are the nodes' rendered sizes where the canvas knows them.
 * Returns top-left positions, as Vue Flow and the document store them.
 */
export function autoLayoutPositions(
  g: RuleGraph,
  sizes: Record<string, { width: number; height: number }> = {},
): Record<string, { x: number; y: number }> {
  const dg = new dagre.graphlib.Graph({ multigraph: true });
  dg.setGraph({ rankdir: 'LR', ranksep: 80, nodesep: 40, edgesep: 20 });
  dg.setDefaultEdgeLabel(() => ({}));
  const size = (n: RuleNode) => {
    const s = sizes[n.id];
    return s && s.width > 0 && s.height > 0 ? s : { width: NODE_WIDTH, height: heightOf(n) };
  };
  for (const n of g.nodes) dg.setNode(n.id, { ...size(n) });
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const handleRank = (e: RuleEdge) => {
    const src = byId.get(e.source);
    return src ? Math.max(0, outputHandles(src).indexOf(e.sourceHandle ?? undefined)) : 0;
  };
  // inserted in handle order: dagre's initial order follows insertion
  const edges = g.edges.filter((e) => byId.has(e.source) && byId.has(e.target) && e.source !== e.target);
  for (const e of [...edges].sort((a, b) => (a.source === b.source ? handleRank(a) - handleRank(b) : 0))) {
    dg.setEdge(e.source, e.target, {}, e.id);
  }
  dagre.layout(dg, { constraints: siblingOrder(g, edges, handleRank) });
  const positions: Record<string, { x: number; y: number }> = {};
  for (const n of g.nodes) {
    const p = dg.node(n.id) as { x: number; y: number; width: number; height: number };
    // dagre gives centres; snap to the canvas's 10px grid
    positions[n.id] = { x: Math.round((p.x - p.width / 2) / 10) * 10, y: Math.round((p.y - p.height / 2) / 10) * 10 };
  }
  return positions;
}

/**
 * "A above B" for the targets of one node's consecutive handles, when nothing else points at
 * them (a shared target's place is decided by all its parents, so it gets no constraint).
 */
function siblingOrder(g: RuleGraph, edges: RuleEdge[], handleRank: (e: RuleEdge) => number): { left: string; right: string }[] {
  const indegree = new Map<string, number>();
  for (const e of edges) indegree.set(e.target, (indegree.get(e.target) ?? 0) + 1);
  const out: { left: string; right: string }[] = [];
  for (const n of g.nodes) {
    const targets = edges
      .filter((e) => e.source === n.id && indegree.get(e.target) === 1)
      .sort((a, b) => handleRank(a) - handleRank(b))
      .map((e) => e.target);
    for (let i = 1; i < targets.length; i++) out.push({ left: targets[i - 1]!, right: targets[i]! });
  }
  return out;
}

/** A new segment: Start (all contacts) and the End node whose reach is the audience. */
export function segmentStarterGraph(): RuleGraph {
  return {
    schemaVersion: RULE_SCHEMA_VERSION,
    nodes: [
      createNode('trigger', { x: 0, y: 0 }, { segment: true }),
      { id: newId('end'), kind: 'logic', position: { x: 700, y: 0 }, op: 'or' },
    ],
    edges: [],
  };
}

/** An empty document with just a trigger, where every new rule starts. */
export function starterGraph(): RuleGraph {
  return { schemaVersion: RULE_SCHEMA_VERSION, nodes: [createNode('trigger', { x: 0, y: 0 })], edges: [] };
}
