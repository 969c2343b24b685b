import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { RuleEdge, RuleNode } from '@shared/rules/types';
import type { ActionCounts, ConflictCounts, TagCounts } from '@shared/api/rules';

/** What the preview endpoint said about the current document (see `RulePreviewPanel`). */
export interface NodeCounts {
  nodes: Record<string, number>;
  /** Contacts flowing along each edge: the yes / no / case split. */
  edges: Record<string, number>;
  /** The net change per tag: an action node shows its tag's. */
  tags: TagCounts[];
  /** Pairs of actions that fire together with opposite or exclusive effects. */
  conflicts: ConflictCounts[];
  /** Per action node: what it does; call-webhook / notify nodes carry the calls publishing makes. */
  actions: Record<string, ActionCounts>;
}

/** A node's verdict for the contact being tried (`RuleTrialPanel`): see `trial.ts`. */
export interface TrialVerdict {
  state: 'passed' | 'failed' | 'unreached';
  /** A short word beside the badge: a score, the branch case taken. */
  detail?: string;
}

/** The result of "try a contact" shown on the canvas: each node's verdict and the edges the contact flows along. */
export interface TrialView {
  contactId: number;
  verdicts: Record<string, TrialVerdict>;
  edges: Record<string, boolean>;
}

/**
 * The editor's UI state, kept apart from the document: which nodes and edges are selected, the
 * clipboard, and the latest preview counts the nodes show as badges. Undo never touches it.
 */
export const useRuleEditorUi = defineStore('ruleEditorUi', () => {
  const selectedNodeIds = ref<string[]>([]);
  const selectedEdgeIds = ref<string[]>([]);
  const clipboard = shallowRef<{ nodes: RuleNode[]; edges: RuleEdge[] } | null>(null);
  const counts = shallowRef<NodeCounts | null>(null);
  /** The preview is running for the document as it is now (counts may be stale). */
  const counting = ref(false);
  /** "Try a contact": verdicts on the nodes and the path on the edges (null: no trial shown). */
  const trial = shallowRef<TrialView | null>(null);
  /** The trial is being recomputed for the document as it is now. */
  const trialing = ref(false);

  const selectedSet = computed(() => new Set(selectedNodeIds.value));
  /** The inspector shows a node only when exactly one is selected. */
  const inspectedId = computed(() => (selectedNodeIds.value.length === 1 ? selectedNodeIds.value[0]! : null));

  /** Replaces a list only when it changes: a new (even equal) array re-renders every edge. */
  function select(nodeIds: string[], edgeIds: string[] = []) {
    const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
    if (!same(selectedNodeIds.value, nodeIds)) selectedNodeIds.value = nodeIds;
    if (!same(selectedEdgeIds.value, edgeIds)) selectedEdgeIds.value = edgeIds;
  }
  function clear() {
    select([], []);
    counts.value = null;
    clipboard.value = null;
    trial.value = null;
  }

  return { selectedNodeIds, selectedEdgeIds, selectedSet, inspectedId, clipboard, counts, counting, trial, trialing, select, clear };
});
