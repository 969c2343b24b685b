import { computed } from 'vue';
import { isTagAction, type RuleNode } from '@shared/rules/types';
import { useRuleDocStore, type EditorError } from './useRuleDocStore';
import { useRuleEditorUi } from './useRuleEditorUi';
import { liveConflicts } from './tag-changes';

/** One shared empty list: a fresh `[]` per recompute would re-render every node on every edit. */
const NO_ERRORS: readonly EditorError[] = Object.freeze([]);

/**
 * Everything a node component knows about its node, in one place: the document node, its
 * compiler errors, its preview count, whether it is selected. Node components read nothing else.
 */
export function useRuleNode<K extends RuleNode['kind']>(id: string, _kind?: K) {
  const doc = useRuleDocStore();
  const ui = useRuleEditorUi();
  const node = computed(() => doc.nodeById.get(id) as Extract<RuleNode, { kind: K }> | undefined);
  const errors = computed(() => doc.errorsByNode.get(id) ?? (NO_ERRORS as EditorError[]));
  const count = computed(() => ui.counts?.nodes[id]);
  /** An action node: its tag's net change, and the actions it conflicts with for some contacts. */
  const tagCounts = computed(() => {
    const n = node.value as RuleNode | undefined;
    if (n?.kind !== 'action' || !isTagAction(n.action)) return undefined;
    const tagId = n.action.tagId;
    return ui.counts?.tags.find((t) => t.tagId === tagId);
  });
  /** A call-webhook / notify node: the calls publishing makes through it (undefined before a preview). */
  const calls = computed(() => {
    const a = ui.counts?.actions[id];
    return a && 'calls' in a ? a.calls : undefined;
  });
  const conflicts = computed(() => liveConflicts(ui.counts?.conflicts, id));
  const counting = computed(() => ui.counting);
  /** Its verdict for the contact being tried ("try a contact"), undefined when no trial is shown. */
  const trial = computed(() => ui.trial?.verdicts[id]);
  return { node, errors, count, tagCounts, calls, conflicts, counting, trial };
}
