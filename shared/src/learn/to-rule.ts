/**
 * A learned tree as a draft rule in the ordinary rule model: a schedule trigger, one condition
 * node per split (its `yes` / `no` handles are the tree's branches), and an add-tag action at
 * every leaf whose training positive rate clears the threshold. Leaves below it end nowhere (the
 * handle stays unconnected: those contacts are not tagged). Subtrees whose leaves all decide
 * alike are folded first (`foldTree`), so no condition leads to the same outcome both ways.
 *
 * The leaves' statistics are not stored in the graph: the graph schema has no field for them
 * (its zod objects strip unknown keys), so they travel beside it in `leaves`, keyed by the
 * graph's node ids and handles.
 */
import { layoutGraph } from '../templates/templates';
import { RULE_SCHEMA_VERSION, type ConditionSpec, type RuleEdge, type RuleGraph, type RuleNode } from '../rules/types';
import type { FeatureSpec } from './features';
import { foldTree, rateOf, type Split, type Tree, type TreeNode } from './tree';

/** The condition a split makes, in the field catalog's vocabulary. */
export function splitCondition(spec: FeatureSpec, split: Split): ConditionSpec {
  const base: ConditionSpec = spec.params ? { field: spec.field, op: '', params: spec.params } : { field: spec.field, op: '' };
  switch (split.op) {
    case 'ge':
      return spec.kind === 'date'
        ? { ...base, op: 'more_than_days_ago', value: split.threshold }
        : { ...base, op: 'gte', value: split.threshold };
    case 'lt':
      return spec.kind === 'date'
        ? { ...base, op: 'within_last_days', value: split.threshold }
        : { ...base, op: 'lt', value: split.threshold };
    case 'present':
      return { ...base, op: 'is_not_empty' };
    case 'true':
      if (!spec.condition) throw new Error(`feature ${spec.id} has no condition`);
      return { ...spec.condition };
    case 'in': {
      const values = split.codes.map((c) => spec.categories?.[c - 1]);
      if (spec.fieldType === 'boolean') {
        if (values.length === 2) return { ...base, op: 'is_not_empty' };
        return { ...base, op: values[0] === true ? 'is_true' : 'is_false' };
      }
      return values.length === 1 ? { ...base, op: 'eq', value: values[0] } : { ...base, op: 'in', value: values };
    }
  }
}

/** Where a leaf ends on the canvas, with its training numbers. */
export interface LeafPlacement {
  /** The leaf's id in the folded tree (`DraftRule.tree`), the key of `leafStats`. */
  leafId: number;
  /** The node whose handle leads to it: a condition, or the trigger when the tree is one leaf. */
  from: string;
  handle?: 'yes' | 'no';
  /** Its add-tag action, or null when its rate is below the threshold. */
  actionNodeId: string | null;
  /** Training sample contacts and positives reaching it. */
  train: { n: number; positives: number; rate: number };
}

/** The draft: the graph, where each leaf ended, and the folded tree it mirrors. */
export interface DraftRule {
  graph: RuleGraph;
  leaves: LeafPlacement[];
  /** Graph condition node id → tree node id. */
  conditionNodes: Record<string, number>;
  tree: Tree;
}

/** What the draft should do. */
export interface DraftOptions {
  /** The tag the positive leaves add. */
  tagId: number;
  /** A leaf adds the tag when its training positive rate is at least this (0–1). */
  threshold: number;
  /** Default daily at 03:00. */
  cron?: string;
}

/** The tree as a draft rule; `{ ok: false }` when no leaf clears the threshold (a rule needs an action). */
export function treeToDraft(tree: Tree, o: DraftOptions): { ok: true; value: DraftRule } | { ok: false; reason: 'no_positive_leaf' } {
  const t = foldTree(tree, o.threshold);
  const nodes: RuleNode[] = [{ id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: o.cron ?? '0 3 * * *' } }];
  const edges: RuleEdge[] = [];
  const leaves: LeafPlacement[] = [];
  const conditionNodes: Record<string, number> = {};
  const visit = (nd: TreeNode, from: string, handle: 'yes' | 'no' | undefined) => {
    const connect = (target: string) =>
      edges.push(
        handle
          ? { id: `e${edges.length + 1}`, source: from, target, sourceHandle: handle }
          : { id: `e${edges.length + 1}`, source: from, target },
      );
    if (nd.split) {
      const id = `c${nd.id}`;
      nodes.push({ id, kind: 'condition', condition: splitCondition(t.specs[nd.split.feature] as FeatureSpec, nd.split) });
      conditionNodes[id] = nd.id;
      connect(id);
      visit(t.nodes[nd.yes as number] as TreeNode, id, 'yes');
      visit(t.nodes[nd.no as number] as TreeNode, id, 'no');
      return;
    }
    const positive = rateOf(nd) >= o.threshold;
    let actionNodeId: string | null = null;
    if (positive) {
      actionNodeId = `a${nd.id}`;
      nodes.push({ id: actionNodeId, kind: 'action', action: { type: 'add_tag', tagId: o.tagId } });
      connect(actionNodeId);
    }
    leaves.push({
      leafId: nd.id,
      from,
      ...(handle ? { handle } : {}),
      actionNodeId,
      train: { n: nd.n, positives: nd.pos, rate: rateOf(nd) },
    });
  };
  visit(t.nodes[0] as TreeNode, 't', undefined);
  if (!leaves.some((l) => l.actionNodeId !== null)) return { ok: false, reason: 'no_positive_leaf' };
  return { ok: true, value: { graph: layoutGraph({ schemaVersion: RULE_SCHEMA_VERSION, nodes, edges }), leaves, conditionNodes, tree: t } };
}
