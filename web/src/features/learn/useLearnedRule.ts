/**
 * What the rule open in the editor was learned from (issue 19): its fit (the suggestion whose tree
 * the rule holds, with every leaf's held-out numbers) and any newer refit. The canvas's leaf
 * badges, the editor's quality strip and the why-dialog's leaf line read it; the editor page
 * loads it with the rule. A rule not made by learning (or a viewer who may not read
 * suggestions) has none, and nothing extra shows.
 */
import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { SuggestionDetail, SuggestionLeaf } from '@shared/api/suggestions';
import type { RuleExplanation } from '@shared/rules/explain';
import type { ConditionSpec } from '@shared/rules/types';
import { suggestionsForRule } from '../../app/api/suggestions';
import { useRuleDocStore } from '../rule-builder/useRuleDocStore';
import { useSessionStore } from '../../app/session';

const leafKey = (from: string, handle: 'yes' | 'no' | undefined) => `${from}:${handle ?? ''}`;
/** Key-order-free equality of two conditions (the editor may rebuild one with its keys reordered). */
const same = (a: unknown, b: unknown): boolean => JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  return v;
}

export const useLearnedRule = defineStore('learnedRule', () => {
  const ruleId = ref<number | null>(null);
  const fit = shallowRef<SuggestionDetail | null>(null);
  const refit = shallowRef<SuggestionDetail | null>(null);
  const doc = useRuleDocStore();
  const session = useSessionStore();

  async function load(id: number): Promise<void> {
    ruleId.value = id;
    fit.value = null;
    refit.value = null;
    // suggestions are a department admin's: staff looking at a rule read none (no refused request)
    if (!session.can('dept_admin')) return;
    try {
      const r = await suggestionsForRule(id);
      if (ruleId.value !== id) return;
      fit.value = r.fit;
      refit.value = r.refit;
    } catch {
      // a rule deleted meanwhile: show nothing extra
    }
  }
  function clear() {
    ruleId.value = null;
    fit.value = null;
    refit.value = null;
  }

  const leaves = computed(() => new Map((fit.value?.result?.leaves ?? []).map((l) => [leafKey(l.from, l.handle), l])));
  /** The leaf at `handle` of node `from`, if the rule was learned and the leaf is still there. */
  function leafAt(from: string, handle?: 'yes' | 'no'): SuggestionLeaf | undefined {
    return leaves.value.get(leafKey(from, handle));
  }
  /**
   * Whether the person changed a condition on the way to `leaf` since it was learned: its numbers
   * then describe the learned tree, not the edited one.
   */
  function edited(leaf: SuggestionLeaf): boolean {
    return leaf.path.some((s) => {
      const n = doc.nodeById.get(s.nodeId);
      return n?.kind !== 'condition' || !same(n.condition as ConditionSpec, s.condition);
    });
  }
  /** The leaf a contact ended in, from the why-dialog's explanation (which condition it reached, and the side it took). */
  function leafOf(x: Pick<RuleExplanation, 'reached' | 'tests'>): SuggestionLeaf | undefined {
    for (const l of leaves.value.values()) {
      if (!x.reached[l.from]) continue;
      if (!l.handle) return l;
      if (l.from in x.tests && x.tests[l.from] === (l.handle === 'yes')) return l;
    }
    return undefined;
  }
  return { ruleId, fit, refit, load, clear, leafAt, edited, leafOf };
});
