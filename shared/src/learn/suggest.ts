/**
 * One call from a labelled population to a suggestion: features, a held-out split, the tree, the
 * draft rule with each leaf's held-out numbers, and the whole rule against the best single
 * condition. What a queue job (or the browser) runs; pure and deterministic given its seeds.
 */
import type { CustomFieldDecl } from '../rules/fields';
import type { ConditionSpec, EvalData } from '../rules/types';
import { discoverFeatures, encodeFeatures, type FeatureOptions, type FeatureSpec } from './features';
import {
  bestSingleCondition,
  conditionPredicts,
  holdOut,
  leafStats,
  ruleQuality,
  treePredicts,
  type LeafStats,
  type RuleQuality,
} from './metrics';
import { splitCondition, treeToDraft, type DraftRule, type LeafPlacement } from './to-rule';
import { learnTree, type TreeOptions } from './tree';

/** A labelled population, as of D − N for a future-behaviour outcome (`snapshotAt`). */
export interface SuggestInput {
  /** Contact ids, row by row (the held-out split hashes them). */
  ids: ArrayLike<number>;
  snapshots: readonly EvalData[];
  /** 1 = has the outcome. */
  labels: Uint8Array;
  customFields?: readonly CustomFieldDecl[];
  features?: Omit<FeatureOptions, 'customFields'>;
  tree: TreeOptions;
  /** The tag the draft adds. */
  tagId: number;
  /** Leaf positive rate that earns the tag; default 0.5. */
  threshold?: number;
  /** Share of contacts held out for the numbers; default 0.3. */
  holdOutShare?: number;
  /** Seed of the held-out split; default 1. */
  splitSeed?: number;
  cron?: string;
}

/** A leaf of the draft with its numbers on held-out contacts. */
export interface SuggestedLeaf extends LeafPlacement {
  heldOut: LeafStats;
}

/** The draft and what it would have achieved. */
export interface Suggestion {
  draft: Omit<DraftRule, 'leaves'> & { leaves: SuggestedLeaf[] };
  features: FeatureSpec[];
  trainRows: number;
  heldOutRows: number;
  /** The whole rule (the tagged leaves together) on held-out contacts. */
  learned: RuleQuality;
  /** The best single condition by training F1, on the same held-out contacts. */
  baseline: { condition: ConditionSpec; quality: RuleQuality } | null;
}

/** Why there is no suggestion. */
export type SuggestFailure = 'no_contacts' | 'one_class' | 'no_positive_leaf';

/** Learns a draft rule for `labels` over `snapshots`. */
export function suggestRule(input: SuggestInput): { ok: true; value: Suggestion } | { ok: false; reason: SuggestFailure } {
  const threshold = input.threshold ?? 0.5;
  const { train, test } = holdOut(input.ids, input.holdOutShare ?? 0.3, input.splitSeed ?? 1);
  if (train.length === 0 || test.length === 0) return { ok: false, reason: 'no_contacts' };
  let pos = 0;
  for (const r of train) pos += input.labels[r] as number;
  if (pos === 0 || pos === train.length) return { ok: false, reason: 'one_class' };
  const customFields = input.customFields ?? [];
  // categories and tags are chosen from the training contacts only
  const specs = discoverFeatures(
    Array.from(train, (r) => input.snapshots[r] as EvalData),
    { ...input.features, customFields },
  );
  const m = encodeFeatures(specs, input.snapshots, customFields);
  const tree = learnTree(m, input.labels, input.tree, train);
  const draft = treeToDraft(tree, { tagId: input.tagId, threshold, cron: input.cron });
  if (!draft.ok) return draft;
  const stats = leafStats(draft.value.tree, m, input.labels, test);
  const leaves = draft.value.leaves.map((l) => ({ ...l, heldOut: stats.get(l.leafId) as LeafStats }));
  const base = bestSingleCondition(m, input.labels, train);
  return {
    ok: true,
    value: {
      draft: { ...draft.value, leaves },
      features: specs,
      trainRows: train.length,
      heldOutRows: test.length,
      learned: ruleQuality(treePredicts(draft.value.tree, m, threshold), input.labels, test),
      baseline: base
        ? {
            condition: splitCondition(specs[base.split.feature] as FeatureSpec, base.split),
            quality: ruleQuality(conditionPredicts(base, m), input.labels, test),
          }
        : null,
    },
  };
}
