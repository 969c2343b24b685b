import { beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { effectScope } from 'vue';
import type { RuleGraph } from '@shared/rules/types';

// the mapping formats counts through the app's i18n, which reads the saved language at import:
// give it the two browser globals it reads (an empty store, a Chinese browser)
const saved = new Map<string, string>();
Object.assign(globalThis, {
  localStorage: { getItem: (k: string) => saved.get(k) ?? null, setItem: (k: string, v: string) => void saved.set(k, v) },
  navigator: { language: 'zh-CN', languages: ['zh-CN'] },
});
const { useCanvasMapping } = await import('../src/features/rule-builder/useCanvasMapping');
const { useRuleDocStore } = await import('../src/features/rule-builder/useRuleDocStore');
const { useRuleEditorUi } = await import('../src/features/rule-builder/useRuleEditorUi');

function chain(n: number): RuleGraph {
  const nodes: RuleGraph['nodes'] = [
    { id: 't', kind: 'trigger', position: { x: 0, y: 0 }, trigger: { type: 'schedule', cron: '0 3 * * *' } },
  ];
  const edges: RuleGraph['edges'] = [];
  for (let i = 0; i < n; i++) {
    nodes.push({
      id: `c${i}`,
      kind: 'condition',
      position: { x: 300 * (i + 1), y: 0 },
      condition: { field: 'totalSpend', op: 'gte', value: i },
    });
    edges.push({ id: `e${i}`, source: i ? `c${i - 1}` : 't', target: `c${i}`, ...(i ? { sourceHandle: 'yes' } : {}) });
  }
  return { schemaVersion: 1, nodes, edges };
}

/**
 * A new node list makes Vue Flow re-create and re-render every node (a long task at 300 nodes):
 * it must be rebuilt when the graph's structure changes, never for a move or a selection.
 */
describe('canvas mapping: when the node and edge lists are rebuilt', () => {
  beforeEach(() => setActivePinia(createPinia()));
  const mapped = () => effectScope().run(() => useCanvasMapping())!;

  it('keeps the same node list through moves, undo, redo and selection', () => {
    const doc = useRuleDocStore();
    const ui = useRuleEditorUi();
    doc.load(chain(50));
    const { nodes, edges } = mapped();
    const first = nodes.value;
    const firstEdges = edges.value;
    doc.moveNodes({ c3: { x: 1000, y: 500 } });
    ui.select(['c3']);
    doc.undo();
    doc.redo();
    ui.select(['c3', 'c4']);
    ui.select(['c3', 'c4'], []);
    expect(nodes.value).toBe(first);
    // neither the moves nor re-selecting the same (empty) edges rebuild the edges
    expect(edges.value).toBe(firstEdges);
    // the document itself did move
    expect(doc.nodeById.get('c3')!.position).toEqual({ x: 1000, y: 500 });
  });

  it('rebuilds the node list when a node is added or removed, with the current positions and selection', () => {
    const doc = useRuleDocStore();
    const ui = useRuleEditorUi();
    doc.load(chain(5));
    const { nodes } = mapped();
    const first = nodes.value;
    doc.moveNodes({ c1: { x: 10, y: 20 } });
    ui.select(['c1']);
    const added = doc.addNode('action', { x: 5, y: 5 });
    expect(nodes.value).not.toBe(first);
    expect(nodes.value.map((n) => n.id)).toContain(added.id);
    const c1 = nodes.value.find((n) => n.id === 'c1')!;
    expect(c1.position).toEqual({ x: 10, y: 20 });
    expect((c1 as { selected?: boolean }).selected).toBe(true);
    doc.remove([added.id]);
    expect(nodes.value.map((n) => n.id)).not.toContain(added.id);
  });

  it('does not recompile the rule for a move, but does for a change of logic', () => {
    const doc = useRuleDocStore();
    doc.load(chain(20));
    const compiled = doc.compiled;
    doc.moveNodes({ c2: { x: 7, y: 7 } });
    expect(doc.compiled).toBe(compiled);
    doc.updateNode('c2', (n) => {
      if (n.kind === 'condition') n.condition.value = 12345;
    });
    expect(doc.compiled).not.toBe(compiled);
  });
});
