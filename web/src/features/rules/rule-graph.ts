/**
 * Pure helpers over the rule document the editor needs besides the compiler: new nodes with
 * sensible defaults, the output handles of a node, why a connection makes no sense, and a
 * layered auto-layout. No Vue, no store: the store calls these.
 */
import { RULE_SCHEMA_VERSION, type RuleEdge, type RuleGraph, type RuleNode, type RuleNodeKind } from '../../../../shared/src/rules/types';

/** Kinds in palette order. */
export const NODE_KINDS = ['trigger', 'condition', 'logic', 'score', 'branch', 'action'] as const satisfies readonly RuleNodeKind[];

/** Node ids must satisfy the schema (`[A-Za-z0-9_.-]`); short random suffixes keep pasted copies unique. */
export function newId(prefix: string): string {
  return `${prefix}_${Math.random().toString(36).slice(2, 8)}`;
}

/** A new node of `kind` at `position`, with defaults a marketer would start from. */
export function createNode(kind: RuleNodeKind, position: { x: number; y: number }, opts: { segment?: boolean } = {}): RuleNode {
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
    case 'branch':
      return { id, kind, position, cases: [{ id: newId('case'), condition: { field: '', op: '' } }] };
    case 'action':
      return { id, kind, position, action: { type: 'add_tag', tagId: 0 } };
  }
}

/** The output handles of a node, in display order; `[undefined]` = one unnamed output, `[]` = none. */
export function outputHandles(n: RuleNode): (string | undefined)[] {
  switch (n.kind) {
    case 'condition':
      return ['yes', 'no'];
    case 'branch':
      return [...n.cases.map((c) => c.id), 'else'];
    case 'score':
      return n.bands.map((b) => b.id);
    case 'action':
      return [];
    default:
      return [undefined];
  }
}

/** Why a connection is refused (an i18n key under `rules.connect`), or null when it is fine. */
export type ConnectionProblem = 'self' | 'intoTrigger' | 'fromAction' | 'duplicate' | 'cycle' | 'notInputs' | 'badHandle';

/** Checks a proposed edge against the document before it exists. */
export function connectionProblem(g: RuleGraph, e: { source: string; target: string; sourceHandle?: string | null }): ConnectionProblem | null {
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

/** Approximate rendered sizes, enough to keep layers apart. */
const COLUMN_GAP = 340;
const ROW_GAP = 40;
function heightOf(n: RuleNode): number {
  const rows = n.kind === 'branch' ? n.cases.length + 1 : n.kind === 'score' ? n.bands.length : n.kind === 'condition' ? 2 : 0;
  return 96 + rows * 28;
}

/**
 * A layered left-to-right layout: each node's column is its longest distance from a root, rows
 * follow the order of parents (a barycentre pass) so edges cross less. Good enough for rule
 * graphs, which are mostly trees with a few joins.
 */
export function layeredLayout(g: RuleGraph): Record<string, { x: number; y: number }> {
  const incoming = new Map<string, string[]>();
  const outgoing = new Map<string, RuleEdge[]>();
  for (const e of g.edges) {
    incoming.set(e.target, [...(incoming.get(e.target) ?? []), e.source]);
    outgoing.set(e.source, [...(outgoing.get(e.source) ?? []), e]);
  }
  const layer = new Map<string, number>();
  const visiting = new Set<string>();
  const depth = (id: string): number => {
    const known = layer.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return 0; // a cycle: the compiler reports it; just do not loop
    visiting.add(id);
    const parents = incoming.get(id) ?? [];
    const d = parents.length ? Math.max(...parents.map((p) => depth(p) + 1)) : 0;
    visiting.delete(id);
    layer.set(id, d);
    return d;
  };
  for (const n of g.nodes) depth(n.id);
  const columns: RuleNode[][] = [];
  for (const n of g.nodes) (columns[layer.get(n.id)!] ??= []).push(n);
  const order = new Map<string, number>();
  const positions: Record<string, { x: number; y: number }> = {};
  columns.forEach((col, ci) => {
    if (ci > 0) {
      const key = (n: RuleNode) => {
        const ps = incoming.get(n.id) ?? [];
        // handle order within a parent keeps yes above no, case 1 above case 2
        const ranks = ps.map((p) => {
          const src = g.nodes.find((x) => x.id === p);
          const edge = (outgoing.get(p) ?? []).find((e) => e.target === n.id);
          const hi = src ? outputHandles(src).indexOf(edge?.sourceHandle ?? undefined) : 0;
          return (order.get(p) ?? 0) + Math.max(0, hi) * 0.01;
        });
        return ranks.length ? ranks.reduce((a, b) => a + b, 0) / ranks.length : Number.MAX_SAFE_INTEGER;
      };
      col.sort((a, b) => key(a) - key(b));
    }
    const total = col.reduce((s, n) => s + heightOf(n) + ROW_GAP, -ROW_GAP);
    let y = -total / 2;
    col.forEach((n, i) => {
      order.set(n.id, i);
      positions[n.id] = { x: ci * COLUMN_GAP, y: Math.round(y) };
      y += heightOf(n) + ROW_GAP;
    });
  });
  return positions;
}

/** A new segment: Start (all contacts) and the End node whose reach is the audience. */
export function segmentStarterGraph(): RuleGraph {
  return {
    schemaVersion: RULE_SCHEMA_VERSION,
    nodes: [createNode('trigger', { x: 0, y: 0 }, { segment: true }), { id: newId('end'), kind: 'logic', position: { x: 700, y: 0 }, op: 'or' }],
    edges: [],
  };
}

/** An empty document with just a trigger, where every new rule starts. */
export function starterGraph(): RuleGraph {
  return { schemaVersion: RULE_SCHEMA_VERSION, nodes: [createNode('trigger', { x: 0, y: 0 })], edges: [] };
}
