import { describe, expect, it } from 'vitest';
import { nameQuery, pinyinKeys, prefixEnd } from './pinyin';

/** Whether a query finds a name, as the SQL does: one of its keys in the query's prefix range. */
function finds(query: string, name: string, person = true): boolean {
  const q = nameQuery(query);
  return q !== null && pinyinKeys(name, { person }).some((k) => k >= q.prefix && k < prefixEnd(q.prefix));
}

describe('pinyin search keys', () => {
  it('finds 张丽坤 by initials, full pinyin, a mix, and in either script', () => {
    for (const q of ['zlk', 'zhangl', 'zhanglikun', 'ZHANG LI', 'zhang丽', '张丽坤', '張麗坤', '张', '張麗'])
      expect(finds(q, '张丽坤'), q).toBe(true);
    // stored as typed, in traditional characters: found the same ways
    for (const q of ['zlk', 'zhangl', '张丽坤', '張麗坤', '张丽']) expect(finds(q, '張麗坤'), q).toBe(true);
  });

  it('does not find other people', () => {
    // characters are matched as characters: a homophone (张立坤) is not 张丽坤
    for (const q of ['lk', 'zk', 'zhangk', '李', '张立坤', '丽坤']) expect(finds(q, '张丽坤'), q).toBe(false);
    expect(finds('zlk', '王小明')).toBe(false);
  });

  it('reads a person’s first character as a surname too (曾 zeng, 单 shan), keeping the plain reading', () => {
    expect(pinyinKeys('曾小贤', { person: true })).toEqual(expect.arrayContaining(['zengxiaoxian', 'zxx', 'cengxiaoxian']));
    expect(finds('zxx', '曾小贤')).toBe(true);
    expect(finds('stf', '单田芳')).toBe(true);
    expect(finds('shantian', '单田芳')).toBe(true);
    // a tag is not a person: one reading
    expect(pinyinKeys('单品', { person: false })).toEqual(['danpin', 'dp', '单品']);
  });

  it('keeps letters and digits, and writes ü as v', () => {
    expect(pinyinKeys('VIP客户')).toEqual(['vipkehu', 'vipkh', 'vip客户']);
    expect(pinyinKeys('吕布')).toEqual(['lvbu', 'lb', '吕布']);
    expect(finds('lily', 'Lily王')).toBe(true);
    expect(finds('beijing', '北京客户', false)).toBe(true);
    expect(pinyinKeys('')).toEqual([]);
    expect(nameQuery('  ·  ')).toBeNull();
  });
});
