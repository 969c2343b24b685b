import { describe, expect, it } from 'vitest';
import { compileRule } from './compile';
import { buildPreviewQuery } from './sql';
import { MAX_GRAPH_NODES, type RuleEdge, type RuleNode } from './types';

/** Ten chains of 29 spend conditions, each ending in an action: a 301-node rule. */
function bigRule(): { schemaVersion: 1; nodes: RuleNode[]; edges: RuleEdge[] } {
  const nodes: RuleNode[] = [{ id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } }];
  const edges: RuleEdge[] = [];
  for (let r = 0; r < 10; r++) {
    for (let c = 0; c < 29; c++) {
      nodes.push({ id: `c${r}_${c}`, kind: 'condition', condition: { field: 'totalSpend', op: 'gte', value: (r * 29 + c) * 100 } });
      edges.push({ id: `e${r}_${c}`, source: c ? `c${r}_${c - 1}` : 't', target: `c${r}_${c}`, ...(c ? { sourceHandle: 'yes' } : {}) });
    }
    nodes.push({ id: `a${r}`, kind: 'action', action: { type: 'add_tag', tagId: r + 1 } });
    edges.push({ id: `ea${r}`, source: `c${r}_28`, target: `a${r}`, sourceHandle: 'yes' });
  }
  return { schemaVersion: 1, nodes, edges };
}

describe('graph size limits', () => {
  it('compiles a 300-node rule (the canvas promises such rules stay usable)', () => {
    const graph = bigRule();
    expect(graph.nodes.length).toBeGreaterThan(300);
    const compiled = compileRule(graph);
    expect(compiled.ok).toBe(true);
    if (!compiled.ok) return;
    expect(compiled.value.actions).toHaveLength(10);
    // the SQL either builds within D1's limits or refuses with an error pinned to a node: never a throw
    const q = buildPreviewQuery(compiled.value, { now: 0, tzOffsetMinutes: 480 });
    if (!q.ok) expect(q.errors[0]?.code).toBe('too_complex');
  });

  it('refuses a graph over the node limit with an error, not a throw', () => {
    const graph = bigRule();
    while (graph.nodes.length <= MAX_GRAPH_NODES) graph.nodes.push({ id: `x${graph.nodes.length}`, kind: 'logic', op: 'or' });
    const compiled = compileRule(graph);
    expect(compiled.ok).toBe(false);
  });
});
