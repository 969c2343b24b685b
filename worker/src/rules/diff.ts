/** Node-level difference between two rule graphs, for "compare two versions". */
import type { CompareResponse } from '@shared/api/rules';

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
