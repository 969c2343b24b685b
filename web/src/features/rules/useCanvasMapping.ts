import { computed } from 'vue';
import { MarkerType, type Edge, type Node } from '@vue-flow/core';
import { useRuleDocStore } from './useRuleDocStore';
import { useRuleEditorUi } from './useRuleEditorUi';

/**
 * Turns the rule document into what Vue Flow draws. Nodes carry only their id and kind: node
 * components read everything else through `useRuleNode`, so a count or an error changing does
 * not rebuild the node list (which keeps dragging a 300-node rule smooth).
 */
export function useCanvasMapping() {
  const doc = useRuleDocStore();
  const ui = useRuleEditorUi();

  const nodes = computed<Node[]>(() =>
    doc.graph.nodes.map((n) => ({
      id: n.id,
      type: n.kind,
      position: { x: n.position?.x ?? 0, y: n.position?.y ?? 0 },
      selected: ui.selectedSet.has(n.id),
      data: null,
      deletable: false, // deleting goes through the store (undo), not Vue Flow's own key handler
    })),
  );

  const edgeErrors = computed(() => new Set(doc.errors.flatMap((e) => (e.edgeId ? [e.edgeId] : []))));
  const edges = computed<Edge[]>(() => {
    const selected = new Set(ui.selectedEdgeIds);
    return doc.graph.edges.map((e) => {
      const tone = e.sourceHandle === 'yes' ? 'yes' : e.sourceHandle === 'no' || e.sourceHandle === 'else' ? 'no' : 'plain';
      return {
        id: e.id,
        source: e.source,
        target: e.target,
        sourceHandle: e.sourceHandle ?? null,
        type: 'smoothstep',
        selected: selected.has(e.id),
        deletable: false,
        class: ['sf-edge', `sf-edge-${tone}`, edgeErrors.value.has(e.id) ? 'sf-edge-error' : ''].join(' '),
        markerEnd: MarkerType.ArrowClosed,
      };
    });
  });

  return { nodes, edges };
}
