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
  // homophone typos of a pinyin keyboard: every differing character shares a reading
  ['平果控', '苹果控', 'homophone'],
  ['高价植客户', '高价值客户', 'homophone'],
  ['活越客户', '活跃客户', 'homophone'],
  ['意象客户', '意向客户', 'homophone'],
  ['复够客户', '复购客户', 'homophone'],
  ['会圆卡', '会员卡', 'homophone'],
  ['直博间粉丝', '直播间粉丝', 'homophone'],
  ['护夫爱好者', '护肤爱好者', 'homophone'],
  ['沉水客户', '沉睡客户', 'homophone'],
  ['深镇门店', '深圳门店', 'homophone'],
  ['活越客戶', '活跃客户', 'homophone'], // traditional and a homophone at once
  // traditional forms of Taiwan, Hong Kong and OpenCC's standard, all read as simplified
  ['會員卡', '会员卡', 'traditional'],
  ['臺灣客戶', '台湾客户', 'traditional'],
  ['直播間粉絲', '直播间粉丝', 'traditional'],
  ['優惠券用戶', '优惠券用户', 'traditional'],
  ['裏程會員', '里程会员', 'traditional'],
  ['線下門店', '线下门店', 'traditional'],
  ['價格敏感', '价格敏感', 'traditional'],
  ['廣東區域', '广东区域', 'traditional'],
  ['復購客戶', '复购客户', 'traditional'],
  ['試用裝領取', '试用装领取', 'traditional'],
  ['醫美諮詢', '医美咨询', 'traditional'],
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
  // alike in sound somewhere, but not character by character
  ['美容', '美荣誉'],
  ['重庆客户', '崇庆客户门店'],
  ['长期客户', '短期客户'],
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
  it('simplifies Taiwan, Hong Kong and standard traditional forms and leaves others alone', () => {
    expect(toSimplified('會員購買廣東')).toBe('会员购买广东');
    expect(toSimplified('臺灣')).toBe('台湾');
    expect(toSimplified('裡')).toBe('里');
    expect(toSimplified('裏')).toBe('里');
    expect(toSimplified('abc客户')).toBe('abc客户');
  });

  it('names the characters read alike and their reading', () => {
    expect(compareNames('平果控', '苹果控')).toEqual({ kind: 'homophone', pairs: [{ from: '平', to: '苹', reading: 'ping' }] });
    // a polyphonic character matches on any of its readings: 长 is chang and zhang
    expect(compareNames('涨期客户', '长期客户')).toEqual({ kind: 'homophone', pairs: [{ from: '涨', to: '长', reading: 'zhang' }] });
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
