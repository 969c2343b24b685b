/**
 * Normalisation of tag names for comparison: the forms two people type for the same idea
 * ("ＶＩＰ 客户" / "vip客户", "客戶" / "客户", "北上广" / "北京上海广州") collapse to one key.
 * Names are stored as typed; only comparisons use these keys.
 */

/**
 * Traditional → simplified for the characters that occur in tag names (customer, region,
 * product, lifecycle and marketing words). A deliberately small table, not a full converter:
 * a missed character only weakens a warning, it never blocks a name.
 */
const TRAD_TO_SIMP: Record<string, string> = Object.fromEntries(
  [
    '戶户',
    '門门',
    '廣广',
    '東东',
    '會会',
    '員员',
    '買买',
    '賣卖',
    '價价',
    '貴贵',
    '費费',
    '購购',
    '車车',
    '動动',
    '躍跃',
    '級级',
    '組组',
    '銷销',
    '單单',
    '與与',
    '廠厂',
    '區区',
    '華华',
    '蘇苏',
    '號号',
    '聯联',
    '繫系',
    '係系',
    '體体',
    '們们',
    '個个',
    '來来',
    '時时',
    '長长',
    '開开',
    '關关',
    '點点',
    '線线',
    '網网',
    '電电',
    '話话',
    '寶宝',
    '媽妈',
    '學学',
    '醫医',
    '療疗',
    '藥药',
    '護护',
    '膚肤',
    '妝妆',
    '興兴',
    '愛爱',
    '潛潜',
    '熱热',
    '業业',
    '務务',
    '經经',
    '營营',
    '質质',
    '優优',
    '專专',
    '屬属',
    '歷历',
    '氣气',
    '現现',
    '實实',
    '際际',
    '閱阅',
    '讀读',
    '訂订',
    '論论',
    '評评',
    '認认',
    '識识',
    '證证',
    '億亿',
    '萬万',
    '進进',
    '還还',
    '這这',
    '過过',
    '運运',
    '達达',
    '選选',
    '邊边',
    '銀银',
    '錢钱',
    '說说',
    '語语',
    '讓让',
    '寫写',
    '書书',
    '圖图',
    '團团',
    '國国',
    '園园',
    '場场',
    '報报',
    '幣币',
    '險险',
    '陽阳',
    '隊队',
    '階阶',
    '層层',
    '舊旧',
    '觀观',
    '視视',
    '覺觉',
    '親亲',
    '頻频',
    '顧顾',
    '額额',
    '風风',
    '飛飞',
    '馬马',
    '魚鱼',
    '龍龙',
    '鄉乡',
    '縣县',
    '鎮镇',
    '顏颜',
    '復复',
    '複复',
    '發发',
    '髮发',
    '裡里',
    '後后',
    '範范',
    '積积',
    '極极',
    '標标',
    '籤签',
    '簽签',
    '羣群',
    '訊讯',
    '類类',
    '別别',
    '參参',
    '獎奖',
    '勵励',
    '禮礼',
    '紅红',
    '滬沪',
    '韓韩',
    '歐欧',
    '灣湾',
    '衛卫',
    '齡龄',
    '黃黄',
    '廳厅',
    '餐餐',
    '飲饮',
    '費费',
    '貨货',
    '幾几',
    '氫氢',
    '紙纸',
    '樂乐',
    '鞋鞋',
    '裝装',
    '務务',
    '資资',
    '產产',
    '權权',
    '條条',
    '義义',
    '戲戏',
    '遊游',
    '機机',
    '腦脑',
    '測测',
    '試试',
    '課课',
    '講讲',
    '師师',
    '產产',
    '車车',
    '環环',
  ].map((pair) => [...pair] as [string, string]),
);

/** Characters with a simplified form in the table above become it; others stay. */
export function toSimplified(s: string): string {
  let out = '';
  for (const ch of s) out += TRAD_TO_SIMP[ch] ?? ch;
  return out;
}

/**
 * Width, case, punctuation and spacing: NFKC folds full-width letters, digits and punctuation
 * into their ASCII forms, then case is folded and every space, punctuation mark and symbol
 * (`_`, `-`, `·`, `/`, `【】`…) is dropped.
 */
export function normalizeWidthCasePunct(s: string): string {
  return s
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\s\p{P}\p{S}]/gu, '');
}

/**
 * Groups of words that name the same thing in tag names; the first of each group is the form
 * the others are rewritten to. Kept small and explicit: a synonym here makes two tags a
 * near-duplicate, so only pairs that a team would never want side by side belong here.
 */
export const SYNONYM_GROUPS: readonly (readonly string[])[] = [
  ['北京上海广州深圳', '北上广深'],
  ['北京上海广州', '北上广'],
  ['江苏浙江上海', '江浙沪'],
  ['客户', '用户', '顾客', '买家'],
  ['vip', '贵宾'],
  ['潜在客户', '潜客'],
  ['宝妈', '妈妈'],
  ['复购', '回购'],
  ['沉睡', '休眠', '沉默'],
  ['一线城市', '一线'],
  ['小程序', 'miniprogram'],
  ['公众号', '服务号', '订阅号'],
];

/** Longest alternatives first, so "北上广深" is not read as "北上广" + "深". */
const SYNONYM_REWRITES: { from: string; to: string }[] = SYNONYM_GROUPS.flatMap((group) =>
  group.slice(1).map((from) => ({ from, to: group[0]! })),
).sort((a, b) => b.from.length - a.from.length);

/** Rewrites every synonym to its group's first form; returns the key and the rewrites used. */
export function applySynonyms(s: string): { key: string; used: { from: string; to: string }[] } {
  let key = s;
  const used: { from: string; to: string }[] = [];
  for (const r of SYNONYM_REWRITES) {
    if (key.includes(r.from)) {
      key = key.split(r.from).join(r.to);
      used.push(r);
    }
  }
  return { key, used };
}

/** The keys a name is compared by, from the mildest to the broadest normalisation. */
export interface NameKeys {
  /** trimmed as typed */
  raw: string;
  /** width, case and punctuation folded */
  folded: string;
  /** … and traditional characters simplified */
  simplified: string;
  /** … and synonyms rewritten */
  canonical: string;
  synonymsUsed: { from: string; to: string }[];
}

export function nameKeys(name: string): NameKeys {
  const raw = name.trim();
  const folded = normalizeWidthCasePunct(raw);
  const simplified = toSimplified(folded);
  const { key, used } = applySynonyms(simplified);
  return { raw, folded, simplified, canonical: key, synonymsUsed: used };
}
