import { fieldCatalog, type CustomFieldDecl, type FieldDef } from '@shared/rules/fields';
import { CONDITION_OPERATORS } from '@shared/rules/operators';
import type { AggregateParams, ConditionSpec } from '@shared/rules/types';
import { i18n } from '../../app/i18n';
import { formatFen, formatNumber } from '../../app/format';
import { departmentName, userName } from './condition-names';
import { segmentName } from '../segments/segment-options';

const formatDate = (ms: number) => new Date(ms).toLocaleDateString(i18n.global.locale.value, { dateStyle: 'medium' });

type TagLookup = (id: number) => { name: string } | undefined;

/** A field's label in the current language. */
export function fieldLabel(f: FieldDef | undefined, key: string): string {
  if (!f) return key;
  return i18n.global.locale.value === 'en' ? f.label.en : f.label.zh;
}

/** "近 30 天 · 购买" / "purchase · last 30 days". */
export function paramsText(p: AggregateParams | undefined): string {
  if (!p) return '';
  const t = i18n.global.t;
  return t('rules.params.window', { type: t(`rules.eventType.${p.eventType}`), days: p.days });
}

function valueText(f: FieldDef, v: unknown): string {
  const t = i18n.global.t;
  const one = (x: unknown): string => {
    if (typeof x === 'number') {
      // ids read as names: 所属部门 等于 华东大区, never "= 2"
      if (f.key === 'departmentId') return departmentName(x) ?? `#${x}`;
      if (f.key === 'ownerUserId') return userName(x) ?? `#${x}`;
      if (f.money) return formatFen(x);
      if (f.type === 'date') return formatDate(x);
      return formatNumber(x);
    }
    if (typeof x === 'string' && f.enumValues) return t(`rules.enum.${f.key}.${x}`);
    return String(x);
  };
  if (Array.isArray(v)) return v.map(one).join(i18n.global.locale.value === 'en' ? ', ' : '、');
  return one(v);
}

/** "近 30 天购买金额" / "Purchase amount, last 30 days": an aggregate field with its parameters. */
export function aggregateText(f: FieldDef, p: AggregateParams): string {
  const t = i18n.global.t;
  const measure = f.source.kind === 'aggregate' ? f.source.measure : 'count';
  return t(`rules.params.${measure}`, { type: t(`rules.eventType.${p.eventType}`), days: p.days });
}

/** One line a marketer reads on the node: "累计消费 ≥ ¥1,000". Empty pieces read as "choose…". */
export function conditionText(c: ConditionSpec, customFields: readonly CustomFieldDecl[], tag: TagLookup): string {
  const t = i18n.global.t;
  if (!c.field) return t('rules.node.pickField');
  const f = fieldCatalog(customFields).get(c.field);
  const name = f ? fieldLabel(f, c.field) : c.field;
  const label = f?.type === 'aggregate' && c.params ? aggregateText(f, c.params) : name;
  if (!c.op) return label;
  const opText = t(`rules.op.${c.op}`);
  const kind = CONDITION_OPERATORS[c.op]?.value;
  if (kind === 'none' || !f) return `${label} ${opText}`;
  // "在分群「高价值」中" / "不在分群「高价值」中": the segment's name, never its id ("「…」" until picked)
  if (kind === 'segment') {
    const name = typeof c.value === 'number' ? (segmentName(c.value) ?? `#${c.value}`) : '…';
    return t(c.op === 'not_in_segment' ? 'segmentRef.notInText' : 'segmentRef.inText', { name });
  }
  if (c.value === undefined || c.value === null || c.value === '') return `${label} ${opText} …`;
  // "所属部门 属于「华东大区」及其下级部门": says the subtree, so it never reads as "= 华东大区"
  if (kind === 'department') return t('segmentRef.deptTreeText', { field: label, dept: valueText(f, c.value) });
  if (kind === 'tag' || kind === 'tags') {
    const ids = Array.isArray(c.value) ? (c.value as number[]) : [c.value as number];
    return `${opText} ${ids.map((id) => tag(id)?.name ?? `#${id}`).join('、')}`;
  }
  if (kind === 'range' && Array.isArray(c.value)) return `${label} ${opText} ${valueText(f, c.value[0])} – ${valueText(f, c.value[1])}`;
  if (kind === 'days')
    return `${label} ${t(c.op === 'within_last_days' ? 'rules.op.daysWithin' : 'rules.op.daysAgo', { n: c.value as number })}`;
  if (kind === 'rollout') return `${label} ${opText} ${(c.value as { percent: number }).percent}%`;
  return `${label} ${opText} ${valueText(f, c.value)}`;
}

/**
 * An operator's name in the operator picker: whole phrases where the bare word would be
 * ambiguous ("早于某日期", "在最近 N 天内", "距今超过 N 天"), the node's word otherwise.
 */
export function opLabel(op: string): string {
  const t = i18n.global.t;
  if (op === 'within_last_days') return t('rules.op.daysWithin', { n: 'N' });
  if (op === 'more_than_days_ago') return t('rules.op.daysAgo', { n: 'N' });
  if (op === 'before' || op === 'after') return t(`rules.opPick.${op}`);
  return t(`rules.op.${op}`);
}
