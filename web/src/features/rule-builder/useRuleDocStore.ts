import type { OutboundPreset } from './palette';
import { defineStore } from 'pinia';
import { computed, ref, shallowRef, toRaw } from 'vue';
import { compileRule, type CompiledRule } from '@shared/rules/compile';
import { browserSegmentResolver, loadSegmentOptions, segmentOptions } from '../segments/segment-options';
import type { RuleError, RuleResult } from '@shared/rules/errors';
import type { CustomFieldDecl } from '@shared/rules/fields';
import { DEFAULT_TZ_OFFSET_MINUTES } from '@shared/rules/days';
import type { RuleEdge, RuleGraph, RuleNode, RuleNodeKind } from '@shared/rules/types';
import { connectionProblem, createNode, autoLayoutPositions, newId, starterGraph, type ConnectionProblem } from './rule-graph';
import { useTagsStore } from '../tags/useTagsStore';

/** A compiler error, or one of the editor's own product checks. */
export type EditorError = Omit<RuleError, 'code'> & { code: RuleError['code'] | 'weights_sum' };

const HISTORY_LIMIT = 100;
/** Edits to the same field within this window are one undo step (typing a number is one change). */
const COALESCE_MS = 800;

/**
 * The rule document being edited, and nothing else: the graph in shared types, its undo/redo
 * history as snapshots, and what the compiler says about it. Every change goes through an
 * action here; the canvas and the inspector only call them. UI state (selection, viewport,
 * preview) lives in `useRuleEditorUi`.
 */
// Long on purpose: a Pinia setup store is one function by design (its state, getters and actions
// are what it returns); each part is a short function of its own inside it.
export const useRuleDocStore = defineStore('ruleDoc', () => {
  const graph = ref<RuleGraph>(starterGraph());
  /** Segments use the same builder without actions. */
  const mode = ref<'rule' | 'segment'>('rule');
  const customFields = shallowRef<CustomFieldDecl[]>([]);
  /** The zone schedules run in (the field catalog's; Segflow's default until it has loaded). */
  const timezone = shallowRef({ name: 'Asia/Shanghai', offsetMinutes: DEFAULT_TZ_OFFSET_MINUTES });
  /** Errors only the server can find (a segment's shape: one End node); shown like the compiler's. */
  const externalErrors = shallowRef<RuleError[]>([]);
  const past = ref<string[]>([]);
  const future = ref<string[]>([]);
  const savedSnapshot = ref(JSON.stringify(graph.value));
  /**
   * The viewer may look at the document but not change it (staff; an archived rule): every edit
   * below is refused here, whatever screen or shortcut asked, and the builder offers none.
   */
  const readOnly = ref(false);
  let lastKey: string | null = null;
  let lastAt = 0;

  const snapshot = () => JSON.stringify(graph.value);
  const dirty = computed(() => snapshot() !== savedSnapshot.value);

  /** Applies one change as one undo step (or merges it into the previous one with the same key). */
  function commit(change: (g: RuleGraph) => void, coalesceKey?: string) {
    if (readOnly.value) return;
    const now = Date.now();
    const merge = coalesceKey !== undefined && coalesceKey === lastKey && now - lastAt < COALESCE_MS;
    if (!merge) {
      past.value.push(snapshot());
      if (past.value.length > HISTORY_LIMIT) past.value.shift();
    }
    future.value = [];
    change(graph.value);
    lastKey = coalesceKey ?? null;
    lastAt = now;
  }

  function load(
    g: RuleGraph,
    opts: {
      mode?: 'rule' | 'segment';
      customFields?: CustomFieldDecl[];
      timezone?: { name: string; offsetMinutes: number };
      readOnly?: boolean;
    } = {},
  ) {
    graph.value = JSON.parse(JSON.stringify(g));
    readOnly.value = !!opts.readOnly;
    if (opts.mode) mode.value = opts.mode;
    if (opts.customFields) customFields.value = opts.customFields;
    if (opts.timezone) timezone.value = opts.timezone;
    past.value = [];
    future.value = [];
    externalErrors.value = [];
    savedSnapshot.value = snapshot();
    lastKey = null;
  }
  function markSaved() {
    savedSnapshot.value = snapshot();
  }

  function undo() {
    if (readOnly.value) return;
    const prev = past.value.pop();
    if (prev === undefined) return;
    future.value.push(snapshot());
    graph.value = JSON.parse(prev) as RuleGraph;
    lastKey = null;
  }
  function redo() {
    if (readOnly.value) return;
    const next = future.value.pop();
    if (next === undefined) return;
    past.value.push(snapshot());
    graph.value = JSON.parse(next) as RuleGraph;
    lastKey = null;
  }

  const nodeById = computed(() => new Map(graph.value.nodes.map((n) => [n.id, n])));

  function addNode(kind: RuleNodeKind, position: { x: number; y: number }, preset?: OutboundPreset): RuleNode {
    const at = { x: Math.round(position.x), y: Math.round(position.y) };
    const node = createNode(kind, at, { segment: mode.value === 'segment', ...(preset ? { action: preset } : {}) });
    commit((g) => g.nodes.push(node));
    return node;
  }

  /** Changes one node in place (the inspector's edits). */
  function updateNode(id: string, change: (n: RuleNode) => void, coalesceKey?: string) {
    if (!nodeById.value.has(id)) return;
    commit(
      (g) => {
        const n = g.nodes.find((x) => x.id === id);
        if (n) change(n);
        // an output handle that disappeared (a removed case or band) takes its edges with it
        if (n && (n.kind === 'branch' || n.kind === 'score' || n.kind === 'band')) {
          const handles = new Set(n.kind === 'branch' ? [...n.cases.map((c) => c.id), 'else'] : n.bands.map((b) => b.id));
          g.edges = g.edges.filter((e) => e.source !== id || handles.has(e.sourceHandle ?? ''));
        }
      },
      coalesceKey === undefined ? undefined : `${id}:${coalesceKey}`,
    );
  }

  function moveNodes(positions: Record<string, { x: number; y: number }>) {
    const changed = Object.entries(positions).filter(([id, p]) => {
      const n = nodeById.value.get(id);
      return n && (n.position?.x !== Math.round(p.x) || n.position?.y !== Math.round(p.y));
    });
    if (!changed.length) return;
    commit((g) => {
      for (const n of g.nodes) {
        const p = positions[n.id];
        if (p) n.position = { x: Math.round(p.x), y: Math.round(p.y) };
      }
    });
  }

  /** Adds an edge, or says why not. */
  function connect(c: { source: string; target: string; sourceHandle?: string | null }): ConnectionProblem | null {
    const problem = connectionProblem(graph.value, c);
    if (problem) return problem;
    const edge: RuleEdge = { id: newId('e'), source: c.source, target: c.target };
    if (c.sourceHandle) edge.sourceHandle = c.sourceHandle;
    commit((g) => g.edges.push(edge));
    return null;
  }

  function remove(nodeIds: readonly string[], edgeIds: readonly string[] = []) {
    const nodes = new Set(nodeIds);
    const edges = new Set(edgeIds);
    if (!nodes.size && !edges.size) return;
    commit((g) => {
      g.nodes = g.nodes.filter((n) => !nodes.has(n.id));
      g.edges = g.edges.filter((e) => !edges.has(e.id) && !nodes.has(e.source) && !nodes.has(e.target));
    });
  }

  /** Pastes copied nodes (and the edges between them) with fresh ids, shifted; returns the new ids. */
  function paste(clip: { nodes: RuleNode[]; edges: RuleEdge[] }, offset = 40): string[] {
    const ids = new Map<string, string>();
    const nodes = clip.nodes.map((n) => {
      const copy = JSON.parse(JSON.stringify(n));
      copy.id = newId(n.kind);
      ids.set(n.id, copy.id);
      copy.position = { x: (n.position?.x ?? 0) + offset, y: (n.position?.y ?? 0) + offset };
      return copy;
    });
    const edges = clip.edges
      .filter((e) => ids.has(e.source) && ids.has(e.target))
      .map((e) => ({ ...e, id: newId('e'), source: ids.get(e.source)!, target: ids.get(e.target)! }));
    commit((g) => {
      g.nodes.push(...nodes);
      g.edges.push(...edges);
    });
    return nodes.map((n) => n.id);
  }

  /** Lays the graph out left to right (dagre) as one undo step; `sizes` are rendered node sizes. */
  function autoLayout(sizes: Record<string, { width: number; height: number }> = {}) {
    const positions = autoLayoutPositions(graph.value, sizes);
    const moved = graph.value.nodes.some((n) => {
      const p = positions[n.id];
      return p && (n.position?.x !== p.x || n.position?.y !== p.y);
    });
    if (!moved) return;
    commit((g) => {
      for (const n of g.nodes) n.position = positions[n.id] ?? n.position;
    });
  }

  function rename(id: string, label: string) {
    updateNode(id, (n) => (n.label = label || undefined), 'label');
  }

  const tagsStore = useTagsStore();
  /**
   * The compiler runs in the browser on every change: errors appear on their node instantly.
   * A segment has no actions; it compiles as a rule with one virtual action after its flow's
   * end so the same checks apply (the worker does the same for its count). It reruns when the
   * graph changes in anything but positions.
   */
  /** The graph as the compiler sees it: everything but positions, which move on every drag. */
  const logicKey = computed(() => JSON.stringify({ n: graph.value.nodes.map(({ position: _p, ...rest }) => rest), e: graph.value.edges }));
  /** A tag's group and whether it is exclusive: band nodes map onto one exclusive group. */
  const tagGroupOf = (id: number) => {
    const tag = tagsStore.tagsById.get(id);
    if (!tag) return undefined;
    return { groupId: tag.groupId, exclusive: !!tagsStore.groups.find((g) => g.id === tag.groupId)?.exclusive };
  };
  const compiled = computed<RuleResult<CompiledRule>>(() => {
    void logicKey.value;
    void segmentOptions.items;
    // the segments a reference may name, loaded once when a graph first has one
    if (!segmentOptions.loaded && logicKey.value.includes('"field":"segment"')) void loadSegmentOptions().catch(() => undefined);
    const tags = tagsStore.tagsById;
    // untracked (raw): a move must not recompile 300 nodes; logicKey says when it matters
    return compileRule(toRaw(graph.value), {
      customFields: customFields.value,
      tagExists: tags.size ? (id) => tags.get(id)?.status === 'active' : undefined,
      tagGroup: tags.size ? tagGroupOf : undefined,
      segment: mode.value === 'segment',
      // "in segment X": checked against the segments the viewer may see (the server expands them)
      segments: browserSegmentResolver(),
    });
  });
  const errors = computed<EditorError[]>(() => {
    const r = compiled.value;
    // a band node's bands compile to actions `<node>:<band>`: their errors belong on the band node
    const own = (e: EditorError): EditorError => (e.nodeId?.includes(':') ? { ...e, nodeId: e.nodeId.split(':')[0] ?? null } : e);
    const out: EditorError[] = r.ok
      ? []
      : mode.value === 'segment'
        ? r.errors.filter((e) => e.code !== 'no_actions' && e.code !== 'action_no_path').map(own)
        : r.errors.map(own);
    for (const e of externalErrors.value) {
      if (!out.some((x) => x.nodeId === e.nodeId && x.code === e.code)) out.push(e);
    }
    // the product asks for weights that read as percentages (a penalty's share counts by its size,
    // as the inspector's total shows: 30 + 25 + 20 + 15 and −10 is 100%); the compiler accepts any
    for (const n of graph.value.nodes) {
      if ((n.kind === 'score' || n.kind === 'band') && Math.abs(n.metrics.reduce((s, m) => s + Math.abs(m.weight), 0) - 100) > 1e-9) {
        out.push({ nodeId: n.id, code: 'weights_sum', message: 'score weights must sum to 100%' });
      }
    }
    return out;
  });
  const errorsByNode = computed(() => {
    const byNode = new Map<string, EditorError[]>();
    for (const e of errors.value) {
      if (e.nodeId) byNode.set(e.nodeId, [...(byNode.get(e.nodeId) ?? []), e]);
    }
    return byNode;
  });
  const graphErrors = computed(() => errors.value.filter((e) => !e.nodeId));

  return {
    graph,
    mode,
    customFields,
    timezone,
    externalErrors,
    readOnly,
    dirty,
    canUndo: computed(() => past.value.length > 0),
    canRedo: computed(() => future.value.length > 0),
    nodeById,
    compiled,
    errors,
    errorsByNode,
    graphErrors,
    load,
    markSaved,
    undo,
    redo,
    addNode,
    updateNode,
    moveNodes,
    connect,
    remove,
    paste,
    autoLayout,
    rename,
  };
});
