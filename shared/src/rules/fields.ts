/**
 * The field catalog: every field a condition can test, with its type, and the operators each
 * type allows. The canvas builds its pickers from it; the compiler validates against it.
 */
import { CONTACT_KINDS, DEVICES, GENDERS } from '../domain';

/** The types a condition field can have. */
export const FIELD_TYPES = ['text', 'number', 'date', 'boolean', 'list', 'tags', 'aggregate', 'keyword', 'bucket', 'segment'] as const;
/** One of `FIELD_TYPES`. */
export type FieldType = (typeof FIELD_TYPES)[number];

/**
 * Operators per field type. `is_empty` / `is_not_empty` are the only operators that look at
 * null; every other comparison is false on a missing value (docs/rules.md).
 */
export const FIELD_TYPE_OPERATORS = {
  text: ['eq', 'neq', 'contains', 'starts_with', 'in', 'not_in', 'is_empty', 'is_not_empty'],
  number: ['eq', 'neq', 'lt', 'lte', 'gt', 'gte', 'between', 'in', 'not_in', 'is_empty', 'is_not_empty'],
  date: ['before', 'after', 'within_last_days', 'more_than_days_ago', 'is_empty', 'is_not_empty'],
  boolean: ['is_true', 'is_false', 'is_empty', 'is_not_empty'],
  list: ['has_item', 'lacks_item', 'is_empty', 'is_not_empty'],
  tags: ['has', 'lacks', 'has_any', 'has_all', 'has_none'],
  aggregate: ['eq', 'neq', 'lt', 'lte', 'gt', 'gte', 'between'],
  keyword: ['contains_any', 'contains_all'],
  bucket: ['in_rollout'],
  // a reference to another segment, expanded inline by the compiler (compile.ts, docs/rules.md)
  segment: ['in_segment', 'not_in_segment'],
} as const satisfies Record<FieldType, readonly string[]>;

/**
 * Operators one field allows beyond its type's: 所属部门 is a number (an id) that can also be
 * tested as "this department or any below it", a test no other number field has.
 */
export const FIELD_EXTRA_OPERATORS = {
  departmentId: ['in_department_tree'],
} as const satisfies Record<string, readonly string[]>;

/** Every condition operator. */
export type ConditionOp =
  (typeof FIELD_TYPE_OPERATORS)[FieldType][number] | (typeof FIELD_EXTRA_OPERATORS)[keyof typeof FIELD_EXTRA_OPERATORS][number];

/** Where a field's value comes from; decides its JS path and its SQL expression. */
export type FieldSource =
  | { kind: 'column'; column: string } // a typed `contacts` column (camelCase key → snake column)
  | { kind: 'custom'; key: string } // `contacts.custom` JSON
  | { kind: 'event'; prop: 'text' | 'channel' | 'amount' | 'type' } // the triggering event
  | { kind: 'tags' }
  | { kind: 'aggregate'; measure: 'count' | 'amount' }
  | { kind: 'bucket' }
  | { kind: 'segment' }; // another segment's audience, expanded by the compiler

/** One entry of the catalog. */
export interface FieldDef {
  key: string;
  type: FieldType;
  label: { zh: string; en: string };
  source: FieldSource;
  /** Values are fen (1/100 yuan); the UI shows yuan. */
  money?: boolean;
  /** A closed vocabulary (the UI offers a select). */
  enumValues?: readonly string[];
  /** Only meaningful in an event-triggered rule (reads the triggering event). */
  eventScoped?: boolean;
}

/** A declared custom attribute (`custom_fields` row). */
export interface CustomFieldDecl {
  key: string;
  labelZh: string;
  labelEn: string;
  type: 'text' | 'number' | 'date' | 'boolean' | 'list';
}

/** Custom attribute keys must be plain identifiers: they end up in JSON paths. */
export const CUSTOM_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

const col = (key: string, column: string, type: FieldType, zh: string, en: string, extra: Partial<FieldDef> = {}): FieldDef => ({
  key,
  type,
  label: { zh, en },
  source: { kind: 'column', column },
  ...extra,
});

/** Built-in fields: typed contact columns, tags, aggregates, the triggering event, bucket. */
export const BUILTIN_FIELDS: readonly FieldDef[] = [
  col('kind', 'kind', 'text', '联系人类型', 'Contact kind', { enumValues: CONTACT_KINDS }),
  col('name', 'name', 'text', '昵称', 'Name'),
  col('remark', 'remark', 'text', '备注', 'Remark'),
  col('gender', 'gender', 'text', '性别', 'Gender', { enumValues: GENDERS }),
  col('region', 'region', 'text', '地区', 'Region'),
  col('city', 'city', 'text', '城市', 'City'),
  col('occupation', 'occupation', 'text', '职业', 'Occupation'),
  col('company', 'company', 'text', '公司', 'Company'),
  col('device', 'device', 'text', '设备', 'Device', { enumValues: DEVICES }),
  col('sourceChannel', 'source_channel', 'text', '来源渠道', 'Source channel'),
  col('departmentId', 'department_id', 'number', '所属部门', 'Department'),
  col('ownerUserId', 'owner_user_id', 'number', '负责人', 'Owner'),
  col('createdAt', 'created_at', 'date', '添加时间', 'Added at'),
  col('lastActiveAt', 'last_active_at', 'date', '最近活跃', 'Last active'),
  col('lastPurchaseAt', 'last_purchase_at', 'date', '最近购买', 'Last purchase'),
  col('messageCount', 'message_count', 'number', '消息数', 'Messages'),
  col('purchaseCount', 'purchase_count', 'number', '购买次数', 'Purchases'),
  col('totalSpend', 'total_spend', 'number', '累计消费', 'Total spend', { money: true }),
  col('inviteCount', 'invite_count', 'number', '邀请人数', 'Invites'),
  col('violationCount', 'violation_count', 'number', '违规次数', 'Violations'),
  { key: 'tags', type: 'tags', label: { zh: '标签', en: 'Tags' }, source: { kind: 'tags' } },
  {
    key: 'event.count',
    type: 'aggregate',
    label: { zh: '事件次数', en: 'Event count' },
    source: { kind: 'aggregate', measure: 'count' },
  },
  {
    key: 'event.amount',
    type: 'aggregate',
    label: { zh: '事件金额合计', en: 'Event amount total' },
    source: { kind: 'aggregate', measure: 'amount' },
    money: true,
  },
  {
    key: 'trigger.text',
    type: 'keyword',
    label: { zh: '消息关键词', en: 'Message keyword' },
    source: { kind: 'event', prop: 'text' },
    eventScoped: true,
  },
  {
    key: 'trigger.channel',
    type: 'text',
    label: { zh: '事件渠道', en: 'Event channel' },
    source: { kind: 'event', prop: 'channel' },
    eventScoped: true,
  },
  {
    key: 'trigger.amount',
    type: 'number',
    label: { zh: '事件金额', en: 'Event amount' },
    source: { kind: 'event', prop: 'amount' },
    eventScoped: true,
    money: true,
  },
  { key: 'bucket', type: 'bucket', label: { zh: '灰度分桶', en: 'Rollout bucket' }, source: { kind: 'bucket' } },
  // "在分群中": the field picker and quick add offer it as the condition it makes
  { key: 'segment', type: 'segment', label: { zh: '在分群中', en: 'In segment' }, source: { kind: 'segment' } },
];

/** Catalog entries for declared custom attributes, keyed `custom.<key>`. */
export function customFieldDefs(decls: readonly CustomFieldDecl[]): FieldDef[] {
  return decls
    .filter((d) => CUSTOM_KEY_PATTERN.test(d.key))
    .map((d) => ({
      key: `custom.${d.key}`,
      type: d.type,
      label: { zh: d.labelZh, en: d.labelEn },
      source: { kind: 'custom', key: d.key },
    }));
}

/** The whole catalog for a workspace: built-ins plus its custom attributes, by key. */
export function fieldCatalog(decls: readonly CustomFieldDecl[] = []): Map<string, FieldDef> {
  const byKey = new Map<string, FieldDef>();
  for (const f of [...BUILTIN_FIELDS, ...customFieldDefs(decls)]) byKey.set(f.key, f);
  return byKey;
}

/** Whether `op` is allowed on fields of `type`. */
export function operatorAllowed(type: FieldType, op: string): op is ConditionOp {
  return (FIELD_TYPE_OPERATORS[type] as readonly string[]).includes(op);
}

/** The operators one field allows: its type's, then its own extras (所属部门's "and below"). */
export function fieldOperators(field: Pick<FieldDef, 'key' | 'type'>): readonly ConditionOp[] {
  const extra = (FIELD_EXTRA_OPERATORS as Record<string, readonly ConditionOp[]>)[field.key] ?? [];
  return [...(FIELD_TYPE_OPERATORS[field.type] as readonly ConditionOp[]), ...extra];
}

/** Whether `op` is allowed on this field. */
export function fieldOperatorAllowed(field: Pick<FieldDef, 'key' | 'type'>, op: string): op is ConditionOp {
  return (fieldOperators(field) as readonly string[]).includes(op);
}
