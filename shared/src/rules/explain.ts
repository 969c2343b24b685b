/**
 * "Why does this contact match?": for one contact, every condition of a compiled rule with the
 * value the contact has, whether it held, and a sentence in zh-CN and English ("近30天购买金额合计
 * = ¥1,280.00 ≥ ¥1,000.00"). Evaluated with the closure evaluator, so it says what execution does.
 */
import { formulaToLogic, type CompiledRule } from './compile';
import { compileLogic, truthy } from './evaluate';
import { fieldCatalog, type CustomFieldDecl, type FieldDef } from './fields';
import { DEFAULT_TZ_OFFSET_MINUTES } from './days';
import { bandActionId, type AggregateParams, type ConditionSpec, type EvalData } from './types';
import { ENUM_VALUE_LABELS, EVENT_TYPE_LABELS } from './labels';
import type { EventType } from '../domain';

/** One condition, evaluated for one contact. */
export interface ConditionExplanation {
  nodeId: string;
  testId: string;
  field: string;
  op: string;
  /** The operand in the rule. */
  expected: unknown;
  /** The contact's value of the field (tag ids for tag operators); null when missing. */
  actual: unknown;
  held: boolean;
  text: { zh: string; en: string };
}

/** One factor of a score for one contact: its value, how it is normalised, what it adds. */
export interface ScoreFactorExplanation {
  field: string;
  params?: AggregateParams;
  /** The factor's name in both languages ("近30天打开文章次数"). */
  label: { zh: string; en: string };
  /** The contact's value (a yes/no as 1 / 0, a date as days since); null when missing (it counts 0). */
  value: number | null;
  weight: number;
  cap: number;
  /** min(max(value, 0), cap) / cap: 0…1. */
  normalised: number;
  /** weight × normalised, the points this factor adds (negative for a penalty). */
  contribution: number;
}

/** A score (score or band node) explained for one contact. */
export interface ScoreExplanation {
  /** The score, as every evaluator computes it (the contributions summed in factor order). */
  total: number;
  factors: ScoreFactorExplanation[];
  /** The band the score lands in, null below the lowest; `tagId` for a band node's band. */
  band: { id: string; label?: string; min: number; max: number | null; tagId?: number } | null;
}

/** A rule explained for one contact. */
export interface RuleExplanation {
  /** Action node ids that fire. */
  fired: string[];
  /** Whether the flow reaches each node. */
  reached: Record<string, boolean>;
  conditions: ConditionExplanation[];
  /** Score per score / band node. */
  scores: Record<string, number>;
  /** Per score / band node: each factor's value, weight and contribution, the total and the band. */
  scoreDetails: Record<string, ScoreExplanation>;
  /**
   * Whether the contact flows along each edge (the path through the graph): a condition's yes or
   * no, the branch case taken, the score band. Absent for edges the compiler ignores.
   */
  edges: Record<string, boolean>;
  /**
   * Each predicate test's verdict, by test id: a condition's is its node id, a branch case's
   * `<node id>:<case id>`, the event trigger's its node id. Evaluated whether or not the flow
   * reaches the node (the canvas shows a verdict only where it does).
   */
  tests: Record<string, boolean>;
}

const OP_TEXT: Record<string, { zh: string; en: string }> = {
  eq: { zh: '=', en: '=' },
  neq: { zh: '≠', en: '≠' },
  lt: { zh: '<', en: '<' },
  lte: { zh: '≤', en: '≤' },
  gt: { zh: '>', en: '>' },
  gte: { zh: '≥', en: '≥' },
  between: { zh: '介于', en: 'between' },
  contains: { zh: '包含', en: 'contains' },
  starts_with: { zh: '开头是', en: 'starts with' },
  in: { zh: '属于', en: 'is one of' },
  not_in: { zh: '不属于', en: 'is not one of' },
  is_empty: { zh: '为空', en: 'is empty' },
  is_not_empty: { zh: '不为空', en: 'is not empty' },
  is_true: { zh: '为是', en: 'is true' },
  is_false: { zh: '为否', en: 'is false' },
  before: { zh: '早于', en: 'before' },
  after: { zh: '晚于', en: 'after' },
  within_last_days: { zh: '在最近', en: 'within the last' },
  more_than_days_ago: { zh: '距今超过', en: 'more than' },
  has_item: { zh: '包含', en: 'has' },
  lacks_item: { zh: '不包含', en: 'lacks' },
  has: { zh: '拥有标签', en: 'has tag' },
  lacks: { zh: '没有标签', en: 'lacks tag' },
  has_any: { zh: '拥有任一标签', en: 'has any of tags' },
  has_all: { zh: '拥有全部标签', en: 'has all of tags' },
  has_none: { zh: '没有这些标签', en: 'has none of tags' },
  contains_any: { zh: '包含任一关键词', en: 'contains any of' },
  contains_all: { zh: '包含全部关键词', en: 'contains all of' },
  in_rollout: { zh: '在灰度范围', en: 'is in the rollout' },
  // zh puts 属于 into the operand (no space before 「）
  in_department_tree: { zh: '', en: 'is' },
  in_segment: { zh: '在分群中', en: 'is in segment' },
  not_in_segment: { zh: '不在分群中', en: 'is not in segment' },
};

/**
 * "在分群「X」中: 是 ✓": whether the contact is in the segment now, then what the condition
 * asked (only "not in" says so, so the verdict reads right either way).
 */
function segmentSentence(c: ConditionSpec, name: string, inIt: boolean, held: boolean, lang: 'zh' | 'en'): string {
  const mark = held ? '✓' : '✗';
  if (lang === 'zh') return `在分群「${name}」中: ${inIt ? '是' : '否'}${c.op === 'not_in_segment' ? '（条件: 不在其中）' : ''} ${mark}`;
  return `In segment "${name}": ${inIt ? 'yes' : 'no'}${c.op === 'not_in_segment' ? ' (condition: not in it)' : ''} ${mark}`;
}

/**
 * Names of the ids some fields hold (所属部门, 负责人), by field key: the sentence says
 * "所属部门 = 华东大区", not "= 2". An id without a name shows as the number.
 */
export type IdNames = Partial<Record<'departmentId' | 'ownerUserId', ReadonlyMap<number, string>>>;

/** The fields whose values are ids with names. */
export const NAMED_ID_FIELDS = ['departmentId', 'ownerUserId'] as const;

/** Yuan with two decimals and thousands separators, from fen (no Intl: same output everywhere). */
export function formatFen(fen: number): string {
  const neg = fen < 0;
  const abs = Math.abs(Math.round(fen));
  const yuan = Math.floor(abs / 100)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${neg ? '-' : ''}¥${yuan}.${(abs % 100).toString().padStart(2, '0')}`;
}

/** `YYYY-MM-DD HH:mm` in the evaluation zone. */
export function formatLocalTime(ms: number, tzOffsetMinutes: number): string {
  return new Date(ms + tzOffsetMinutes * 60_000).toISOString().slice(0, 16).replace('T', ' ');
}

function formatValue(v: unknown, field: FieldDef | undefined, tz: number, lang: 'zh' | 'en', names: IdNames = {}): string {
  if (v === null || v === undefined) return lang === 'zh' ? '（空）' : '(missing)';
  if (Array.isArray(v)) return `[${v.map((x) => formatValue(x, field, tz, lang, names)).join(', ')}]`;
  const idName = typeof v === 'number' && field ? names[field.key as keyof IdNames]?.get(v) : undefined;
  if (idName !== undefined) return idName;
  if (typeof v === 'number' && field?.money) return formatFen(v);
  if (typeof v === 'number' && field?.type === 'date') return formatLocalTime(v, tz);
  const named = typeof v === 'string' && field ? ENUM_VALUE_LABELS[field.key as keyof typeof ENUM_VALUE_LABELS]?.[v] : undefined;
  if (named) return `“${named[lang]}”`;
  if (typeof v === 'string') return `“${v}”`;
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function fieldLabel(field: FieldDef | undefined, c: Pick<ConditionSpec, 'field' | 'params'>, lang: 'zh' | 'en'): string {
  const base = field ? field.label[lang] : c.field;
  if (!c.params) return base;
  const { eventType, days, channel } = c.params;
  const type = EVENT_TYPE_LABELS[eventType as EventType]?.[lang] ?? String(eventType);
  const ch = channel ? (lang === 'zh' ? `（渠道 ${channel}）` : ` (channel ${channel})`) : '';
  const amount = field?.source.kind === 'aggregate' && field.source.measure === 'amount';
  if (lang === 'zh') return `近${days}天${type}${amount ? '金额合计' : '次数'}${ch}`;
  return `${type} ${amount ? 'amount' : 'count'} in the last ${days} days${ch}`;
}

function sentence(
  c: ConditionSpec,
  field: FieldDef | undefined,
  actual: unknown,
  held: boolean,
  tz: number,
  lang: 'zh' | 'en',
  names: IdNames = {},
): string {
  let expected = '';
  if (c.op === 'within_last_days') expected = lang === 'zh' ? `${String(c.value)} 天内` : `${String(c.value)} days`;
  else if (c.op === 'in_department_tree') {
    // "所属部门 = 上海组 属于 「华东大区」或其下级部门 ✓": the chosen department and everything under it
    const dept = formatValue(c.value, field, tz, lang, names);
    expected = lang === 'zh' ? `属于「${dept}」或其下级部门` : `${dept} or a department under it`;
  } else if (c.op === 'more_than_days_ago') expected = lang === 'zh' ? `${String(c.value)} 天` : `${String(c.value)} days ago`;
  else if (c.value !== undefined) expected = formatValue(c.value, field, tz, lang, names);
  return [
    `${fieldLabel(field, c, lang)} = ${formatValue(actual, field, tz, lang, names)}`,
    OP_TEXT[c.op]?.[lang] ?? c.op,
    expected,
    held ? '✓' : '✗',
  ]
    .filter((part) => part !== '')
    .join(' ');
}

/**
 * A score's factors for one contact, with the arithmetic of `sf_score` (same operations, same
 * order), and the band its total lands in.
 */
function explainScore(
  nodeId: string,
  score: NonNullable<CompiledRule['tests'][number]['score']>,
  total: number,
  data: EvalData,
  catalog: ReadonlyMap<string, FieldDef>,
  bandTags: ReadonlyMap<string, number | undefined>,
): ScoreExplanation {
  const factors = score.metrics.map((m): ScoreFactorExplanation => {
    const raw = compileLogic(m.valueLogic)(data);
    const value = typeof raw === 'number' && Number.isFinite(raw) ? raw : null;
    const clamped = Math.min(Math.max(value ?? 0, 0), m.cap);
    const field = catalog.get(m.field);
    return {
      field: m.field,
      ...(m.params ? { params: m.params } : {}),
      label: {
        zh: field?.type === 'date' ? `${fieldLabel(field, m, 'zh')}距今天数` : fieldLabel(field, m, 'zh'),
        en: field?.type === 'date' ? `Days since ${fieldLabel(field, m, 'en').toLowerCase()}` : fieldLabel(field, m, 'en'),
      },
      value,
      weight: m.weight,
      cap: m.cap,
      normalised: clamped / m.cap,
      contribution: (clamped * 1.0 * m.weight) / m.cap,
    };
  });
  const b = score.bands.find((x) => total >= x.min && (x.max === null || total < x.max));
  const tagId = b ? bandTags.get(bandActionId(nodeId, b.id)) : undefined;
  const band = b ? { id: b.id, ...(b.label ? { label: b.label } : {}), min: b.min, max: b.max, ...(tagId ? { tagId } : {}) } : null;
  return { total, factors, band };
}

/** Explains a compiled rule for one contact; `names` turns department and owner ids into names. */
export function explainRule(
  rule: CompiledRule,
  data: EvalData,
  customFields: readonly CustomFieldDecl[] = [],
  names: IdNames = {},
): RuleExplanation {
  const catalog = fieldCatalog(customFields);
  const tz = data.tzOffsetMinutes ?? DEFAULT_TZ_OFFSET_MINUTES;
  const fired = compileLogic(rule.logic)(data);
  const reached: Record<string, boolean> = {};
  for (const [id, logic] of Object.entries(rule.nodeLogic)) reached[id] = truthy(compileLogic(logic)(data));
  const conditions: ConditionExplanation[] = [];
  const scores: Record<string, number> = {};
  const scoreDetails: Record<string, ScoreExplanation> = {};
  const tests: Record<string, boolean> = {};
  const bandTags = new Map(rule.actions.map((a) => [a.nodeId, a.action.type === 'add_tag' ? a.action.tagId : undefined]));
  for (const t of rule.tests) {
    if (t.kind === 'number') {
      const total = Number(compileLogic(t.logic)(data));
      scores[t.nodeId] = total;
      if (t.score) scoreDetails[t.nodeId] = explainScore(t.nodeId, t.score, total, data, catalog, bandTags);
      continue;
    }
    tests[t.id] = truthy(compileLogic(t.logic)(data));
    for (const c of t.conditions ?? []) {
      const field = catalog.get(c.condition.field);
      const isSegment = field?.source.kind === 'segment';
      const raw = field?.source.kind === 'tags' ? (data.tags ?? []) : compileLogic(c.valueLogic)(data);
      // a segment reference's value is whether the contact is in the segment
      const actual = isSegment ? truthy(raw) : raw;
      const held = truthy(compileLogic(c.logic)(data));
      const name = c.segmentName ?? String(c.condition.value);
      conditions.push({
        nodeId: t.nodeId,
        testId: t.id,
        field: c.condition.field,
        op: c.condition.op,
        expected: c.condition.value,
        actual: actual ?? null,
        held,
        text: isSegment
          ? {
              zh: segmentSentence(c.condition, name, actual === true, held, 'zh'),
              en: segmentSentence(c.condition, name, actual === true, held, 'en'),
            }
          : {
              zh: sentence(c.condition, field, actual, held, tz, 'zh', names),
              en: sentence(c.condition, field, actual, held, tz, 'en', names),
            },
      });
    }
  }
  const testsById = new Map(rule.tests.map((t) => [t.id, t]));
  const edges: Record<string, boolean> = {};
  for (const [id, f] of Object.entries(rule.edgeFlow)) edges[id] = truthy(compileLogic(formulaToLogic(f, testsById))(data));
  return { fired: Array.isArray(fired) ? (fired as string[]) : [], reached, conditions, scores, scoreDetails, edges, tests };
}

/** The ids of `NAMED_ID_FIELDS` a rule's conditions name, and the contact's own, per field: what `IdNames` must cover. */
export function namedIds(rule: CompiledRule, contact: Record<string, unknown>): Record<(typeof NAMED_ID_FIELDS)[number], number[]> {
  const out = { departmentId: new Set<number>(), ownerUserId: new Set<number>() };
  for (const t of rule.tests) {
    for (const { condition: c } of t.conditions ?? []) {
      if (c.field !== 'departmentId' && c.field !== 'ownerUserId') continue;
      for (const v of Array.isArray(c.value) ? c.value : [c.value]) if (typeof v === 'number') out[c.field].add(v);
      const own = contact[c.field];
      if (typeof own === 'number') out[c.field].add(own);
    }
  }
  return { departmentId: [...out.departmentId], ownerUserId: [...out.ownerUserId] };
}
