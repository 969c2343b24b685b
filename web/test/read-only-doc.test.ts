import { beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { starterGraph } from '../src/features/rule-builder/rule-graph';
import { useRuleDocStore } from '../src/features/rule-builder/useRuleDocStore';

/**
 * A document opened read only (staff, an archived rule) refuses every edit in the store itself,
 * whatever screen, shortcut or paste asked: the builder hides its edit controls, and this is what
 * holds when one is missed.
 */
describe('a read-only rule document', () => {
  beforeEach(() => setActivePinia(createPinia()));

  it('refuses adds, edits, moves, connections, removals, pastes, layout and undo', () => {
    const doc = useRuleDocStore();
    doc.load(starterGraph(), { readOnly: true });
    const before = JSON.stringify(doc.graph);
    const [first] = doc.graph.nodes;
    doc.addNode('condition', { x: 500, y: 0 });
    doc.updateNode(first!.id, (n) => (n.label = 'changed'));
    doc.moveNodes({ [first!.id]: { x: 900, y: 900 } });
    doc.rename(first!.id, 'renamed');
    doc.paste({ nodes: [{ ...first!, id: 'copy' }], edges: [] });
    doc.autoLayout();
    doc.remove(doc.graph.nodes.map((n) => n.id));
    doc.undo();
    expect(JSON.stringify(doc.graph)).toBe(before);
    expect(doc.dirty).toBe(false);
    expect(doc.canUndo).toBe(false);
  });

  it('takes edits again once a document is loaded for editing', () => {
    const doc = useRuleDocStore();
    doc.load(starterGraph(), { readOnly: true });
    doc.load(starterGraph());
    const n = doc.graph.nodes.length;
    doc.addNode('condition', { x: 500, y: 0 });
    expect(doc.graph.nodes.length).toBe(n + 1);
    expect(doc.dirty).toBe(true);
  });
});
