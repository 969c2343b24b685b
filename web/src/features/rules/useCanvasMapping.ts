import { computed } from 'vue';
import { MarkerType, type Edge, type Node } from '@vue-flow/core';
import { useRuleDocStore } from './useRuleDocStore';
import { useRuleEditorUi } from './useRuleEditorUi';
import { formatNumber } from '../../app/format';

const LABEL_STYLE = { fill: '#3d4d46', fontSize: '11px', fontWeight: 600 };
const LABEL_BG = { fill: '#ffffff', stroke: '#dfe6e2' };

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
    const flows = ui.counts?.edges;
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
        // how many contacts take this path: the split a condition makes, right on the line
        ...(flows && flows[e.id] !== undefined
          ? { label: formatNumber(flows[e.id]!), labelShowBg: true, labelBgPadding: [6, 2] as [number, number], labelBgBorderRadius: 8, labelStyle: LABEL_STYLE, labelBgStyle: LABEL_BG }
          : {}),
      };
    });
  });

  return { nodes, edges };
}
