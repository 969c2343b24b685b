import { afterEach, describe, expect, it, vi } from 'vitest';

// the app's i18n reads the saved language and the browser's at import: a browser's globals, here in Node
vi.stubGlobal('localStorage', { getItem: () => 'zh-CN', setItem: () => undefined });
vi.stubGlobal('navigator', { languages: ['zh-CN'], language: 'zh-CN' });
const { i18n } = await import('../src/app/i18n');
const { conditionText } = await import('../src/features/rule-builder/condition-text');

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
});
