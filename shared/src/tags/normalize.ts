/**
 * Normalisation of tag names for comparison: the forms two people type for the same idea
 * ("ＶＩＰ 客户" / "vip客户", "客戶" / "客户", "北上广" / "北京上海广州") collapse to one key.
 * Names are stored as typed; only comparisons use these keys. Traditional characters and
 * readings come from well-kept dictionaries (opencc-js, pinyin-pro), not tables of our own.
 */

import * as OpenCC from 'opencc-js/t2cn';
import { pinyin } from 'pinyin-pro';

/*
 * Traditional → simplified with OpenCC's dictionaries (opencc-js): Taiwan and Hong Kong forms
 * and their variants ("裡" / "裏" → "里", "臺灣" → "台湾") become mainland simplified. The
 * hand-written table of ~90 characters this replaces missed most of what people type.
 */
let converters: ((s: string) => string)[] | null = null;

/** Traditional characters (Taiwan, Hong Kong and OpenCC's standard forms) as mainland simplified; others stay. */
export function toSimplified(s: string): string {
  // built on first use, not at import: the worker's start-up does not pay for the dictionaries' tries
  converters ??= [OpenCC.Converter({ from: 'tw', to: 'cn' }), OpenCC.Converter({ from: 'hk', to: 'cn' })];
  return converters.reduce((out, convert) => convert(out), s);
}

const readingsByChar = new Map<string, readonly string[]>();

/**
 * A character's readings in pinyin without tones, every reading of a polyphonic one ("长":
 * chang, zhang), from pinyin-pro's dictionary; none for a character that is not Chinese.
 * Cached per character: comparing a name against a few thousand tags reads each character once.
 */
export function readingsOf(ch: string): readonly string[] {
  let r = readingsByChar.get(ch);
  if (r === undefined) {
    r = /\p{Script=Han}/u.test(ch) ? pinyin(ch, { toneType: 'none', multiple: true, type: 'array' }) : [];
    readingsByChar.set(ch, r);
  }
  return r;
}

/** A reading two characters share (a homophone pair: "平" / "苹" → "ping"), or null. */
export function sharedReading(a: string, b: string): string | null {
  const rb = readingsOf(b);
  return readingsOf(a).find((r) => rb.includes(r)) ?? null;
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
