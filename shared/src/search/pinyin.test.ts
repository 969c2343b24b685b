import { describe, expect, it } from 'vitest';
import { nameQuery, pinyinKeys, prefixEnd, simplifiedKey } from './pinyin';

/** Whether a query finds a name, as the SQL does: a key in the prefix range, or the text inside the simplified name. */
function finds(query: string, name: string, person = true): boolean {
  const q = nameQuery(query);
  if (!q) return false;
  const inRange = pinyinKeys(name, { person }).some((k) => k >= q.prefix && k < prefixEnd(q.prefix));
  return inRange && (q.text === null || simplifiedKey(name).includes(q.text));
}

describe('pinyin search keys', () => {
  it('finds 张丽坤 by initials, full pinyin, a mix, and in either script', () => {
    for (const q of ['zlk', 'zhangl', 'zhanglikun', 'ZHANG LI', 'zhang丽', '张丽坤', '張麗坤', '张'])
      expect(finds(q, '张丽坤'), q).toBe(true);
  });

  it('does not find other people', () => {
    for (const q of ['lk', 'zk', 'zhangk', '李', '张立坤']) expect(finds(q, '张丽坤'), q).toBe(false);
    expect(finds('zlk', '王小明')).toBe(false);
  });

  it('reads a person’s first character as a surname too (曾 zeng, 单 shan), keeping the plain reading', () => {
    expect(pinyinKeys('曾小贤', { person: true })).toEqual(expect.arrayContaining(['zengxiaoxian', 'zxx', 'cengxiaoxian']));
    expect(finds('zxx', '曾小贤')).toBe(true);
    expect(finds('stf', '单田芳')).toBe(true);
    expect(finds('shantian', '单田芳')).toBe(true);
    // a tag is not a person: one reading
    expect(pinyinKeys('单品', { person: false })).toEqual(['danpin', 'dp']);
  });

  it('keeps letters and digits, and writes ü as v', () => {
    expect(pinyinKeys('VIP客户')).toEqual(['vipkehu', 'vipkh']);
    expect(pinyinKeys('吕布')).toEqual(['lvbu', 'lb']);
    expect(finds('lily', 'Lily王')).toBe(true);
    expect(finds('beijing', '北京客户', false)).toBe(true);
    expect(pinyinKeys('')).toEqual([]);
    expect(nameQuery('  ·  ')).toBeNull();
  });
});
