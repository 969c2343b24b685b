import { describe, expect, it } from 'vitest';
import { nameQuery, pinyinKeys, prefixEnd, storedKeys, SUFFIX_CHARS } from './pinyin';

/** Whether a query finds a name, as the SQL does: one of its keys in one of the query's prefix ranges. */
function findsIn(query: string, keys: string[]): boolean {
  const q = nameQuery(query);
  return q !== null && keys.some((k) => q.prefixes.some((p) => k >= p && k < prefixEnd(p)));
}
const finds = (query: string, name: string, person = true) => findsIn(query, pinyinKeys(name, { person }));

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

  it('finds a contact by any text inside its name or remark, as the old substring scan did, and by the remark’s pinyin', () => {
    const keys = storedKeys('contact', '张丽坤', '赵姐-华东老客户');
    for (const q of ['丽坤', '坤', '华东', '老客户', '-华东老', 'zj', 'zhaojie', 'zlk']) expect(findsIn(q, keys), q).toBe(true);
    for (const q of ['华南', '客户老', 'lkz']) expect(findsIn(q, keys), q).toBe(false);
    // punctuation and case fold away: "100%_满意" is found by "0%_满" and by "100"
    const pct = storedKeys('contact', '王芳', '100%_满意');
    for (const q of ['0%_满', '100', '满意', 'WANG']) expect(findsIn(q, pct), q).toBe(true);
    // a mix is read as pinyin and also looked for as typed
    expect(findsIn('vip客', storedKeys('contact', 'Amy', '大VIP客户'))).toBe(true);
    // a long remark is found by text in its first SUFFIX_CHARS characters
    const long = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
    expect(SUFFIX_CHARS).toBe(24);
    expect(findsIn('uvw', storedKeys('contact', '某', long))).toBe(true);
    expect(findsIn('xyz', storedKeys('contact', '某', long))).toBe(false);
    // users, tags and rules keep name keys only
    expect(storedKeys('tag', '高价值客户')).toEqual(['gaojiazhikehu', 'gjzkh', '高价值客户']);
    expect(storedKeys('contact', null)).toEqual(['']);
  });
});
