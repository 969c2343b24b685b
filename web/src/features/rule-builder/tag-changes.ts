/**
 * The preview's net change, as the screens show it: one row per tag (gain, loss, holders who
 * keep it) and, per action node, the other actions that fire for the same contacts with
 * opposite or exclusive effects (docs/rules.md, "What a rule does to a contact").
 */
import { useI18n } from 'vue-i18n';
import type { ConflictCounts, PreviewCountsBody, TagCounts } from '@shared/api/rules';
import { isTagAction } from '@shared/rules/types';
import { formatNumber } from '../../app/format';
import { useTagsStore } from '../tags/useTagsStore';
import { useRuleDocStore } from './useRuleDocStore';
import { firedAction } from './band-text';

/** One tag of the net change, with what the rule does to it. */
export interface TagChangeRow extends TagCounts {
  /** Some action adds it / removes it; neither: it can only be displaced from its exclusive group. */
  added: boolean;
  removed: boolean;
}

/** The rows of a preview's net change, in the rule's priority order. */
export function tagChangeRows(counts: Pick<PreviewCountsBody, 'tags' | 'actions'> | undefined): TagChangeRow[] {
  if (!counts) return [];
  const actions = Object.values(counts.actions);
  return counts.tags.map((t) => ({
    ...t,
    added: actions.some((a) => a.type === 'add_tag' && a.tagId === t.tagId),
    removed: actions.some((a) => a.type === 'remove_tag' && a.tagId === t.tagId),
  }));
}

/** Totals of the rows: tags added and removed over all contacts. */
export function tagChangeTotals(rows: readonly TagCounts[]): { gain: number; lose: number } {
  return rows.reduce((s, r) => ({ gain: s.gain + r.gain, lose: s.lose + r.lose }), { gain: 0, lose: 0 });
}

/** Conflicts that really occur (some contact reaches both actions), optionally those of one node. */
export function liveConflicts(conflicts: readonly ConflictCounts[] | undefined, nodeId?: string): ConflictCounts[] {
  return (conflicts ?? []).filter((c) => c.contacts > 0 && (nodeId === undefined || c.nodeIds.includes(nodeId)));
}

/** Words a conflict in the viewer's language: who reaches both actions, and which one stands. */
export function useConflictText() {
  const { t } = useI18n();
  const doc = useRuleDocStore();
  const tags = useTagsStore();
  const actionName = (nodeId: string) => {
    // an action node, or a band node's band (its add-tag action)
    const n = firedAction(doc.nodeById, nodeId);
    if (!n || !isTagAction(n.action)) return nodeId;
    const tag = tags.tagsById.get(n.action.tagId)?.name ?? `#${n.action.tagId}`;
    return n.label || t(`rules.action.${n.action.type}Named`, { tag });
  };
  return (c: ConflictCounts) =>
    t(`rules.conflict.${c.kind}`, {
      n: formatNumber(c.contacts),
      a: actionName(c.nodeIds[0]),
      b: actionName(c.nodeIds[1]),
      winner: actionName(c.winner),
    });
}
