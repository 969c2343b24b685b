/** Node-level difference between two rule graphs, for "compare two versions". */
import type { CompareResponse, CompareSide } from '@shared/api/rules';
import type { RuleGraph } from '@shared/rules/types';
import { ApiError } from '../errors';
import { EMPTY_GRAPH, parse, type RuleRow } from './detail';

interface Identified {
  id: string;
  [k: string]: unknown;
}

/** JSON with sorted keys, so that key order never reads as a change. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value as object)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

const list = (g: unknown, key: 'nodes' | 'edges'): Identified[] => {
  const items = (g as Record<string, unknown> | null)?.[key];
  return Array.isArray(items)
    ? items.filter((x): x is Identified => !!x && typeof x === 'object' && typeof (x as Identified).id === 'string')
    : [];
};

/** Added / removed / changed / moved nodes and added / removed / changed edges from `a` to `b`. */
export function diffGraphs(a: unknown, b: unknown): CompareResponse['diff'] {
  const nodesA = new Map(list(a, 'nodes').map((n) => [n.id, n]));
  const nodesB = new Map(list(b, 'nodes').map((n) => [n.id, n]));
  const diff: CompareResponse['diff'] = {
    added: [],
    removed: [],
    changed: [],
    moved: [],
    edgesAdded: [],
    edgesRemoved: [],
    edgesChanged: [],
  };
  for (const [id, nb] of nodesB) {
    const na = nodesA.get(id);
    if (!na) {
      diff.added.push(id);
      continue;
    }
    const { position: pa, ...restA } = na;
    const { position: pb, ...restB } = nb;
    if (canonical(restA) !== canonical(restB)) diff.changed.push(id);
    else if (canonical(pa) !== canonical(pb)) diff.moved.push(id);
  }
  for (const id of nodesA.keys()) if (!nodesB.has(id)) diff.removed.push(id);
  const edgesA = new Map(list(a, 'edges').map((e) => [e.id, e]));
  const edgesB = new Map(list(b, 'edges').map((e) => [e.id, e]));
  for (const [id, eb] of edgesB) {
    const ea = edgesA.get(id);
    if (!ea) diff.edgesAdded.push(id);
    else if (canonical(ea) !== canonical(eb)) diff.edgesChanged.push(id);
  }
  for (const id of edgesA.keys()) if (!edgesB.has(id)) diff.edgesRemoved.push(id);
  return diff;
}

/** `GET /api/rules/:id/compare`: versions `a` and `b` of `rule` (`draft`: its draft) and the diff from `a` to `b`. */
export async function compareVersions(
  db: D1Database,
  rule: Pick<RuleRow, 'id' | 'draft_graph'>,
  a: number | 'draft',
  b: number | 'draft',
): Promise<CompareResponse> {
  const side = async (v: number | 'draft'): Promise<CompareSide> => {
    if (v === 'draft') return { version: v, graph: parse<RuleGraph>(rule.draft_graph, EMPTY_GRAPH) };
    const row = await db
      .prepare('SELECT graph FROM rule_versions WHERE rule_id = ? AND version = ?')
      .bind(rule.id, v)
      .first<{ graph: string }>();
    if (!row) throw new ApiError(404, 'not_found', `Rule ${rule.id} has no version ${v}`);
    return { version: v, graph: parse<RuleGraph>(row.graph, EMPTY_GRAPH) };
  };
  const [left, right] = await Promise.all([side(a), side(b)]);
  return { a: left, b: right, diff: diffGraphs(left.graph, right.graph) };
}
