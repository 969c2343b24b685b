import { fieldCatalog, type CustomFieldDecl } from '@shared/rules/fields';
import { bandActionId, type ActionNode, type RuleNode, type ScoreMetric } from '@shared/rules/types';
import { i18n } from '../../app/i18n';
import { aggregateText, fieldLabel } from './condition-text';

/** A factor's measure in the viewer's language: "消息数", "近 30 天打开文章次数", "最近活跃距今天数". */
export function factorLabel(m: Pick<ScoreMetric, 'field' | 'params'>, customFields: readonly CustomFieldDecl[]): string {
  const f = fieldCatalog(customFields).get(m.field);
  if (f?.type === 'date') return i18n.global.t('band.measureDays', { field: fieldLabel(f, m.field) });
  return f && m.params ? aggregateText(f, m.params) : fieldLabel(f, m.field);
}

/** A band's range: "≥ 80", "60 – 80"; the lowest of several reads "< 40" when it starts at −100 or below. */
export function bandRangeText(b: { min: number; max: number | null }, lowest = false): string {
  const t = i18n.global.t;
  if (b.max === null) return t('band.atLeast', { min: b.min });
  if (lowest && b.min <= -100) return t('band.below', { max: b.max });
  return t('band.range', { min: b.min, max: b.max });
}

/**
 * The action a fired id names: an action node, or a band node's band (`<node>:<band>`, as the
 * compiler lowers it) read as the add-tag action it is. Undefined for anything else.
 */
export function firedAction(nodeById: ReadonlyMap<string, RuleNode>, id: string): ActionNode | undefined {
  const n = nodeById.get(id);
  if (n) return n.kind === 'action' ? n : undefined;
  const cut = id.indexOf(':');
  const band = cut > 0 ? nodeById.get(id.slice(0, cut)) : undefined;
  if (band?.kind !== 'band') return undefined;
  const b = band.bands.find((x) => bandActionId(band.id, x.id) === id);
  return b ? { id, kind: 'action', action: { type: 'add_tag', tagId: b.tagId } } : undefined;
}
