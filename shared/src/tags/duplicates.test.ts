import { describe, expect, it } from 'vitest';
import { compareNames, editDistance, findNearDuplicates } from './duplicates';
import { nameKeys, toSimplified } from './normalize';

/** Real-looking pairs from tag lists like the ones in the source articles: these must warn. */
const SHOULD_WARN: [string, string, string][] = [
  ['北上广客户', '北京上海广州用户', 'synonym'],
  ['北上广深用户', '北京上海广州深圳客户', 'synonym'],
  ['江浙沪宝妈', '江苏浙江上海妈妈', 'synonym'],
  ['VIP客户', 'vip客户', 'normalized'],
  ['ＶＩＰ客户', 'VIP客户', 'normalized'],
  ['高价值 客户', '高价值客户', 'normalized'],
  ['部门_销售', '部门-销售', 'normalized'],
  ['【重要】客户', '重要客户', 'normalized'],
  ['活躍客戶', '活跃客户', 'traditional'],
  ['護膚愛好者', '护肤爱好者', 'traditional'],
  ['潜在客户', '潜客', 'synonym'],
  ['复购客户', '回购用户', 'synonym'],
  ['沉睡客户', '休眠用户', 'synonym'],
  ['高净值客户', '高净值客', 'edit_distance'],
  ['母婴用品', '母婴产品', 'edit_distance'],
  ['iPhone用户', 'iphome用户', 'edit_distance'],
  ['护肤爱好者', '爱好护肤者', 'shared_chars'],
  ['双十一购买用户', '双十一已购买用户', 'edit_distance'],
  ['抖音渠道来源', '来源抖音渠道', 'shared_chars'],
  ['活跃客户', '活跃客户', 'exact'],
];

/** Siblings and unrelated names that look alike on the surface: these must NOT warn. */
const SHOULD_NOT_WARN: [string, string][] = [
  ['高价值客户', '低价值客户'],
  ['活跃客户', '沉睡客户'],
  ['华东大区', '华南大区'],
  ['上海一组', '上海二组'],
  ['近30天购买', '近60天购买'],
  ['2024双十一', '2025双十一'],
  ['男', '女'],
  ['已购买', '未购买'],
  ['新客户', '老客户'],
  ['A类客户', 'B类客户'],
  ['美妆', '美食'],
  ['护肤', '抗老'],
  ['VIP1', 'VIP2'],
  ['北京客户', '上海客户'],
  ['iOS', 'Android'],
  ['宝妈', '宝爸群'],
  ['群主', '群成员'],
  ['公众号粉丝', '视频号粉丝'],
  ['意向客户', '成交客户'],
  ['健身', '健康'],
];

describe('near-duplicate tag names', () => {
  it.each(SHOULD_WARN)('warns: %s ~ %s (%s)', (a, b, kind) => {
    expect(compareNames(a, b)?.kind).toBe(kind);
    // symmetric: the order of typing does not matter
    expect(compareNames(b, a)?.kind).toBe(kind);
  });

  it.each(SHOULD_NOT_WARN)('does not warn: %s vs %s', (a, b) => {
    expect(compareNames(a, b)).toBeNull();
    expect(compareNames(b, a)).toBeNull();
  });

  it('names the synonyms that made two names equal', () => {
    expect(compareNames('北上广客户', '北京上海广州用户')).toEqual({
      kind: 'synonym',
      pairs: expect.arrayContaining([
        { from: '北上广', to: '北京上海广州' },
        { from: '用户', to: '客户' },
      ]),
    });
  });

  it('returns the existing tag to use instead, strongest reason first, skipping the tag being renamed', () => {
    const existing = [
      { id: 1, name: '北京上海广州用户', groupId: 1 },
      { id: 2, name: '北上广客户', groupId: 1 },
      { id: 3, name: '美妆', groupId: 2 },
      { id: 4, name: '北上广客戶', groupId: 2, status: 'retired' as const },
    ];
    const found = findNearDuplicates('北上广客户', existing);
    expect(found.map((m) => [m.tag.id, m.reason.kind])).toEqual([
      [2, 'exact'],
      [4, 'traditional'],
      [1, 'synonym'],
    ]);
    expect(findNearDuplicates('北上广客户', existing, { excludeId: 2 }).map((m) => m.tag.id)).toEqual([4, 1]);
    expect(findNearDuplicates('美食', existing)).toEqual([]);
  });
});

describe('normalisation pieces', () => {
  it('simplifies the traditional characters in the table and leaves others alone', () => {
    expect(toSimplified('會員購買廣東')).toBe('会员购买广东');
    expect(toSimplified('abc客户')).toBe('abc客户');
  });

  it('folds width, case and punctuation before comparing', () => {
    expect(nameKeys(' ＶＩＰ·客户！ ').folded).toBe('vip客户');
  });

  it('counts edit distance in characters, not UTF-16 units', () => {
    expect(editDistance('客户', '用户')).toBe(1);
    expect(editDistance('𠮷野家', '吉野家')).toBe(1);
    expect(editDistance('', '美妆')).toBe(2);
  });
});
