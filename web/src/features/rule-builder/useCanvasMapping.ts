import { computed, watch } from 'vue';
import { MarkerType, type Edge, type Node, type VueFlowStore } from '@vue-flow/core';
import { useRuleDocStore } from './useRuleDocStore';
import { useRuleEditorUi } from './useRuleEditorUi';
import { formatNumber } from '../../app/format';

const LABEL_STYLE = { fill: '#3d4d46', fontSize: '11px', fontWeight: 600 };
const LABEL_BG = { fill: '#ffffff', stroke: '#dfe6e2' };

/**
 * Turns the rule document into what Vue Flow draws. Nodes carry only their id and kind: node
 * components read everything else through `useRuleNode`, so a count or an error changing does
 * not rebuild the node list.
 *
 * The node list is rebuilt only when the graph's structure changes (a node added, removed or of
 * another kind). A new list makes Vue Flow re-create and re-render every node, which for 300
 * nodes is a long task; positions and selection change far more often (every drop, undo, layout,
 * click) and are pushed into Vue Flow's existing nodes one by one by `useCanvasSync`.
 */
export function useCanvasMapping() {
  const doc = useRuleDocStore();
  const ui = useRuleEditorUi();

  const structure = computed(() => doc.graph.nodes.map((n) => `${n.id}\u0000${n.kind}`).join('\u0001'));
  let builtFor: string | null = null;
  const nodes = computed<Node[]>((previous) => {
    const key = structure.value;
    // same structure: the same list, so Vue Flow keeps its nodes (a move or a selection lands
    // here and is applied by `useCanvasSync` instead)
    if (previous && key === builtFor) return previous;
    builtFor = key;
    const selected = new Set(ui.selectedNodeIds);
    return doc.graph.nodes.map((n) => ({
      id: n.id,
      type: n.kind,
      position: { x: n.position?.x ?? 0, y: n.position?.y ?? 0 },
      selected: selected.has(n.id),
      data: null,
      deletable: false, // deleting goes through the store (undo), not Vue Flow's own key handler
    }));
  });

  // a string, so that errors recomputed to the same edges do not rebuild every edge
  const edgeErrorKey = computed(() => [...new Set(doc.errors.flatMap((e) => (e.edgeId ? [e.edgeId] : [])))].sort().join('\u0000'));
  const edgeErrors = computed(() => new Set(edgeErrorKey.value ? edgeErrorKey.value.split('\u0000') : []));
  let edgesSignature = '';
  const edges = computed<Edge[]>((previous) => {
    const selected = new Set(ui.selectedEdgeIds);
    const flows = ui.counts?.edges;
    // "try a contact": the path it takes is drawn bold, the rest faded
    const trial = ui.trial?.edges;
    const trialClass = (id: string) => (trial ? (trial[id] ? 'sf-edge-trial-on' : 'sf-edge-trial-off') : '');
    const next = doc.graph.edges.map((e) => {
      const tone = e.sourceHandle === 'yes' ? 'yes' : e.sourceHandle === 'no' || e.sourceHandle === 'else' ? 'no' : 'plain';
      return {
        id: e.id,
        source: e.source,
        target: e.target,
        sourceHandle: e.sourceHandle ?? null,
        type: 'smoothstep',
        selected: selected.has(e.id),
        deletable: false,
        class: ['sf-edge', `sf-edge-${tone}`, edgeErrors.value.has(e.id) ? 'sf-edge-error' : '', trialClass(e.id)].join(' '),
        markerEnd: MarkerType.ArrowClosed,
        // how many contacts take this path: the split a condition makes, right on the line
        ...(flows && flows[e.id] !== undefined
          ? {
              label: formatNumber(flows[e.id]!),
              labelShowBg: true,
              labelBgPadding: [6, 2] as [number, number],
              labelBgBorderRadius: 8,
              labelStyle: LABEL_STYLE,
              labelBgStyle: LABEL_BG,
            }
          : {}),
      };
    });
    // an undo hands over a new (equal) edge array: keep the list Vue Flow has unless it differs
    const signature = JSON.stringify(next);
    if (previous && signature === edgesSignature) return previous;
    edgesSignature = signature;
    return next;
  });

  return { nodes, edges };
}

/**
 * Keeps Vue Flow's nodes in step with the document and the selection without rebuilding them:
 * a position the document holds (after a drop, undo, redo, auto-layout) and the selected state
 * (select all, paste, Escape) are written onto the existing node, so only that node re-renders.
 */
export function useCanvasSync(flow: VueFlowStore) {
  const doc = useRuleDocStore();
  const ui = useRuleEditorUi();
  watch(
    () => doc.graph.nodes.map((n) => `${n.position?.x ?? 0},${n.position?.y ?? 0}`).join(';'),
    () => {
      for (const n of doc.graph.nodes) {
        const g = flow.findNode(n.id);
        const x = n.position?.x ?? 0;
        const y = n.position?.y ?? 0;
        if (g && (g.position.x !== x || g.position.y !== y)) g.position = { x, y };
      }
    },
  );
  watch(
    () => ui.selectedNodeIds,
    (ids) => {
      const want = new Set(ids);
      for (const g of flow.getNodes.value) if (g.selected !== want.has(g.id)) g.selected = want.has(g.id);
    },
  );
}
