import { afterEach, describe, expect, it, vi } from 'vitest';

// the app's i18n reads the saved language and the browser's at import: a browser's globals, here in Node
vi.stubGlobal('localStorage', { getItem: () => 'zh-CN', setItem: () => undefined });
vi.stubGlobal('navigator', { languages: ['zh-CN'], language: 'zh-CN' });
const { i18n, loadMessages } = await import('../src/app/i18n');
// en is a chunk of its own, fetched when someone picks it (web/src/app/i18n.ts)
await loadMessages('en');
const { conditionText, opLabel } = await import('../src/features/rule-builder/condition-text');
const { conditionNames } = await import('../src/features/rule-builder/condition-names');
const { parseDays } = await import('../src/features/rule-builder/day-window');
const { FIELD_TYPE_OPERATORS } = await import('@shared/rules/fields');

/** What a condition node reads as, in both languages: stored values in words, days conditions unambiguous. */
describe('condition text', () => {
  const text = (locale: 'zh-CN' | 'en', c: Parameters<typeof conditionText>[0]) => {
    i18n.global.locale.value = locale;
    return conditionText(c, [], () => undefined);
  };
  afterEach(() => {
    i18n.global.locale.value = 'zh-CN';
  });

  it('says "more than N days ago" and "within the last N days", not a second 早于', () => {
    expect(text('zh-CN', { field: 'lastActiveAt', op: 'more_than_days_ago', value: 180 })).toBe('最近活跃 距今超过 180 天');
    expect(text('en', { field: 'lastActiveAt', op: 'more_than_days_ago', value: 180 })).toBe('Last active more than 180 days ago');
    expect(text('zh-CN', { field: 'lastActiveAt', op: 'within_last_days', value: 30 })).toBe('最近活跃 在最近 30 天内');
    expect(text('en', { field: 'lastActiveAt', op: 'within_last_days', value: 30 })).toBe('Last active within the last 30 days');
  });

  it('names event types and contact kinds in words', () => {
    const count = { field: 'event.count', op: 'gte', value: 3, params: { eventType: 'purchase', days: 30 } } as const;
    expect(text('zh-CN', count)).toMatch(/^近 30 天购买次数 ≥ 3$/);
    expect(text('en', count)).not.toContain('purchase ');
    expect(text('zh-CN', { field: 'kind', op: 'eq', value: 'group_member' })).toContain('群成员');
    expect(text('en', { field: 'kind', op: 'eq', value: 'group_member' })).toContain('Group member');
  });

  it('shows a department and an owner by name, not by id', () => {
    conditionNames.departments.set(2, '华东大区');
    conditionNames.users.set(7, '张丽');
    expect(text('zh-CN', { field: 'departmentId', op: 'eq', value: 2 })).toBe('所属部门 等于 华东大区');
    expect(text('en', { field: 'ownerUserId', op: 'in', value: [7] })).toBe('Owner is one of 张丽');
    // a name not known (yet, or outside the viewer's scope) reads as an id, never a bare number
    expect(text('zh-CN', { field: 'ownerUserId', op: 'eq', value: 99 })).toBe('负责人 等于 #99');
    expect(text('zh-CN', { field: 'messageCount', op: 'eq', value: 2 })).toBe('消息数 等于 2');
  });

  it('offers no two operators of one field type under the same name, in either language', () => {
    for (const locale of ['zh-CN', 'en'] as const) {
      i18n.global.locale.value = locale;
      for (const [type, ops] of Object.entries(FIELD_TYPE_OPERATORS)) {
        const labels = ops.map(opLabel);
        expect(new Set(labels).size, `${locale} ${type}: ${labels.join(' | ')}`).toBe(labels.length);
      }
    }
  });

  it('words the date operators as whole phrases in the picker', () => {
    i18n.global.locale.value = 'zh-CN';
    expect(FIELD_TYPE_OPERATORS.date.map(opLabel)).toEqual([
      '早于某日期',
      '晚于某日期',
      '在最近 N 天内',
      '距今超过 N 天',
      '为空',
      '不为空',
    ]);
    i18n.global.locale.value = 'en';
    expect(FIELD_TYPE_OPERATORS.date.map(opLabel)).toEqual([
      'before a date',
      'after a date',
      'within the last N days',
      'more than N days ago',
      'is empty',
      'is not empty',
    ]);
  });

  it('takes any whole number of days from 1 to 3660 as a window', () => {
    expect(parseDays(45)).toBe(45);
    expect(parseDays(' 45 ')).toBe(45);
    expect(parseDays('45天')).toBe(45);
    expect(parseDays('120 days')).toBe(120);
    expect(parseDays(3660)).toBe(3660);
    for (const bad of [0, -3, 2.5, 3661, 'abc', '', null, undefined]) expect(parseDays(bad), String(bad)).toBeUndefined();
  });
});

/** The two conditions of issue 18 that name other things: a department subtree, another segment. */
describe('condition text: department and below, in segment', async () => {
  const { segmentOptions } = await import('../src/features/segments/segment-options');
  const { fieldOperators } = await import('@shared/rules/fields');
  const { ruleErrorText } = await import('../src/features/rule-builder/error-text');
  const text = (locale: 'zh-CN' | 'en', c: Parameters<typeof conditionText>[0]) => {
    i18n.global.locale.value = locale;
    return conditionText(c, [], () => undefined);
  };
  afterEach(() => {
    i18n.global.locale.value = 'zh-CN';
  });

  it('says the department and everything under it, by name', () => {
    conditionNames.departments.set(2, '华东大区');
    const c = { field: 'departmentId', op: 'in_department_tree', value: 2 };
    expect(text('zh-CN', c)).toBe('所属部门 属于「华东大区」及其下级部门');
    expect(text('en', c)).toBe('Department is “华东大区” or any department under it');
    // the operator picker tells it apart from 等于 / 属于
    for (const locale of ['zh-CN', 'en'] as const) {
      i18n.global.locale.value = locale;
      const labels = fieldOperators({ key: 'departmentId', type: 'number' }).map(opLabel);
      expect(new Set(labels).size, labels.join(' | ')).toBe(labels.length);
    }
  });

  it('names the segment, in or not in, in both languages', () => {
    segmentOptions.items = [{ id: 12, name: '高价值', description: null, size: 40, valid: true, createdAt: 0, updatedAt: 0 }];
    expect(text('zh-CN', { field: 'segment', op: 'in_segment', value: 12 })).toBe('在分群「高价值」中');
    expect(text('zh-CN', { field: 'segment', op: 'not_in_segment', value: 12 })).toBe('不在分群「高价值」中');
    expect(text('en', { field: 'segment', op: 'in_segment', value: 12 })).toBe('In segment “高价值”');
    expect(text('en', { field: 'segment', op: 'not_in_segment', value: 12 })).toBe('Not in segment “高价值”');
    // a segment not (yet) known reads as an id, an unfinished condition as "…"
    expect(text('zh-CN', { field: 'segment', op: 'in_segment', value: 99 })).toBe('在分群「#99」中');
    expect(text('zh-CN', { field: 'segment', op: 'in_segment' })).toBe('在分群「…」中');
  });

  it('words a loop of segments with its path', () => {
    const e = { nodeId: 'c', code: 'segment_cycle' as const, message: '', path: ['A', 'B', 'A'] };
    i18n.global.locale.value = 'zh-CN';
    expect(ruleErrorText(e)).toBe('分群「A」→「B」→「A」形成循环');
    i18n.global.locale.value = 'en';
    expect(ruleErrorText(e)).toBe('Segments “A” → “B” → “A” form a loop');
  });
});

describe('quick add: the segment condition', async () => {
  const { matchQuickAdd, quickAddItems, startCondition } = await import('../src/features/rule-builder/quick-add');
  const { BUILTIN_FIELDS } = await import('@shared/rules/fields');
  const words = {
    kind: (k: string) => k,
    kindHint: () => '',
    preset: (p: string) => p,
    presetHint: () => '',
    field: (f: { label: { zh: string } }) => f.label.zh,
    condition: '条件',
  };
  it('is found by 在分群中, 不在分群中 and "in segment", in rules and segments alike, and starts as "in"', () => {
    for (const segment of [false, true]) {
      const items = quickAddItems(BUILTIN_FIELDS, words, { segment, eventTriggered: false });
      for (const q of ['在分群中', '不在分群', 'in segment'])
        expect(
          matchQuickAdd(items, q).map((i) => i.id),
          q,
        ).toContain('field:segment');
      expect(items.find((i) => i.id === 'field:segment')?.label).toBe('在分群中');
    }
    expect(startCondition(BUILTIN_FIELDS.find((f) => f.key === 'segment')!)).toEqual({ field: 'segment', op: 'in_segment' });
  });
});
