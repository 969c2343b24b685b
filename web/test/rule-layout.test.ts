import { beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import type { RuleGraph } from '@shared/rules/types';
import { autoLayoutPositions } from '../src/features/rule-builder/rule-graph';
import { useRuleDocStore } from '../src/features/rule-builder/useRuleDocStore';

/** trigger → condition; yes → tag A, no → branch (case → tag B, else → tag C): drawn in a heap. */
function heap(): RuleGraph {
  const at = { x: 0, y: 0 };
  return {
    schemaVersion: 1,
    nodes: [
      { id: 'aYes', kind: 'action', position: at, action: { type: 'add_tag', tagId: 1 } },
      { id: 'cond', kind: 'condition', position: at, condition: { field: 'totalSpend', op: 'gte', value: 1 } },
      { id: 'br', kind: 'branch', position: at, cases: [{ id: 'k1', condition: { field: 'gender', op: 'eq', value: 'male' } }] },
      { id: 't', kind: 'trigger', position: at, trigger: { type: 'schedule', cron: '0 3 * * *' } },
      { id: 'aCase', kind: 'action', position: at, action: { type: 'add_tag', tagId: 2 } },
      { id: 'aElse', kind: 'action', position: at, action: { type: 'add_tag', tagId: 3 } },
    ],
    edges: [
      // deliberately listed "no" before "yes" and else before the case
      { id: 'e2', source: 'cond', target: 'br', sourceHandle: 'no' },
      { id: 'e1', source: 'cond', target: 'aYes', sourceHandle: 'yes' },
      { id: 'e0', source: 't', target: 'cond' },
      { id: 'e4', source: 'br', target: 'aElse', sourceHandle: 'else' },
      { id: 'e3', source: 'br', target: 'aCase', sourceHandle: 'k1' },
    ],
  };
}

const sizes = {
  t: { width: 240, height: 90 },
  cond: { width: 240, height: 150 },
  br: { width: 240, height: 180 },
  aYes: { width: 240, height: 100 },
  aCase: { width: 240, height: 100 },
  aElse: { width: 240, height: 100 },
};

describe('auto-layout (dagre, left to right)', () => {
  const p = autoLayoutPositions(heap(), sizes);

  it('puts every node right of the nodes that feed it', () => {
    for (const e of heap().edges) expect(p[e.target]!.x).toBeGreaterThanOrEqual(p[e.source]!.x + 240);
  });

  it('keeps handle order top to bottom: yes above no, a case above else', () => {
    expect(p.aYes!.y).toBeLessThan(p.br!.y);
    expect(p.aCase!.y).toBeLessThan(p.aElse!.y);
  });

  it('leaves no two rendered nodes overlapping, on the 10px grid', () => {
    const ids = Object.keys(sizes) as (keyof typeof sizes)[];
    for (const a of ids) {
      expect(p[a]!.x % 10).toBe(0);
      expect(p[a]!.y % 10).toBe(0);
      for (const b of ids) {
        if (a >= b) continue;
        const apart =
          p[a]!.x + sizes[a].width <= p[b]!.x ||
          p[b]!.x + sizes[b].width <= p[a]!.x ||
          p[a]!.y + sizes[a].height <= p[b]!.y ||
          p[b]!.y + sizes[b].height <= p[a]!.y;
        expect(apart, `${a} and ${b} overlap`).toBe(true);
      }
    }
  });
});

describe('auto-layout in the document store', () => {
  beforeEach(() => setActivePinia(createPinia()));

  it('is one undo step, and redo lays it out again', () => {
    const doc = useRuleDocStore();
    doc.load(heap());
    const before = JSON.stringify(doc.graph.nodes.map((n) => n.position));
    doc.autoLayout(sizes);
    const after = JSON.stringify(doc.graph.nodes.map((n) => n.position));
    expect(after).not.toBe(before);
    expect(doc.canUndo).toBe(true);
    doc.undo();
    expect(JSON.stringify(doc.graph.nodes.map((n) => n.position))).toBe(before);
    doc.redo();
    expect(JSON.stringify(doc.graph.nodes.map((n) => n.position))).toBe(after);
  });

  it('adds no undo step when the layout changes nothing', () => {
    const doc = useRuleDocStore();
    doc.load(heap());
    doc.autoLayout(sizes);
    doc.undo();
    doc.redo();
    const depth = () => {
      let n = 0;
      while (doc.canUndo) {
        doc.undo();
        n++;
      }
      for (let i = 0; i < n; i++) doc.redo();
      return n;
    };
    expect(depth()).toBe(1);
    doc.autoLayout(sizes);
    expect(depth()).toBe(1);
  });
});
