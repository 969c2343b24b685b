/**
 * Near-duplicate detection for tag names: when a tag is created or renamed, which existing
 * tags look like the same idea, and why. The reasons are data (the UI words them in zh-CN/en).
 */
import { nameKeys, sharedReading, type NameKeys } from './normalize';

/** Why two names look alike, from the strongest reason to the weakest. */
export type DuplicateReason =
  | { kind: 'exact' }
  | { kind: 'normalized' } // equal after width/case/punctuation folding
  | { kind: 'traditional' } // equal once traditional characters are simplified
  | { kind: 'synonym'; pairs: { from: string; to: string }[] } // equal once synonyms are rewritten
  | { kind: 'homophone'; pairs: { from: string; to: string; reading: string }[] } // read alike: "平果控" / "苹果控"
  | { kind: 'edit_distance'; distance: number }
  | { kind: 'shared_chars'; shared: string; ratio: number };

export const REASON_ORDER: DuplicateReason['kind'][] = [
  'exact',
  'normalized',
  'traditional',
  'synonym',
  'homophone',
  'edit_distance',
  'shared_chars',
];

/** An existing tag to compare against. */
export interface ExistingTagName {
  id: number;
  name: string;
  groupId: number;
  status?: 'active' | 'retired';
}

export interface DuplicateMatch<T extends ExistingTagName = ExistingTagName> {
  /** the existing tag to use instead */
  tag: T;
  reason: DuplicateReason;
}

/** Levenshtein distance over code points (CJK characters count as one). */
export function editDistance(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[y.length]!;
}

/**
 * Characters whose difference is the whole point of the name: numbers and ordinals
 * ("近30天" / "近60天", "一组" / "二组"), directions ("华东" / "华南") and opposites
 * ("高价值" / "低价值", "已购" / "未购"). Two names that differ only in one of these are
 * siblings, not duplicates.
 */
const CONTRAST_SETS: readonly string[] = [
  '0123456789零一二三四五六七八九十百千万两',
  '东南西北中',
  '高低中',
  '男女',
  '大小',
  '新老旧',
  '多少',
  '上下',
  '长短',
  '已未',
  '有无',
  '是否非',
  '内外',
  '前后',
  '入出',
  '冷热温',
  '强弱',
  '好差坏',
  '早晚',
  '正负',
  '买卖',
  '增减',
  '加退',
  '男女',
  '春夏秋冬',
  '日周月年季',
];

const LATIN = /[a-z]/;

function contrasting(a: string, b: string): boolean {
  return CONTRAST_SETS.some((set) => set.includes(a) && set.includes(b));
}

/** Same length, and every differing position is a contrasting pair. */
function differsOnlyInContrast(a: string, b: string): boolean {
  const x = [...a];
  const y = [...b];
  if (x.length !== y.length) return false;
  let differs = false;
  for (let i = 0; i < x.length; i++) {
    if (x[i] === y[i]) continue;
    // a lone letter is a label ("A类" / "B类"); a letter inside a word is a typo ("iphome")
    const loneLetters = LATIN.test(x[i]!) && LATIN.test(y[i]!) && !LATIN.test(x[i - 1] ?? '') && !LATIN.test(x[i + 1] ?? '');
    if (!loneLetters && !contrasting(x[i]!, y[i]!)) return false;
    differs = true;
  }
  return differs;
}

/**
 * Edit distance that still means "the same name": one slip in a short name, two in a long one.
 * Names of one or two characters are too short to judge by distance ("男" / "女").
 */
function distanceLimit(len: number): number {
  if (len < 3) return 0;
  if (len < 7) return 1;
  return 2;
}

/**
 * Homophone typos, the commonest slip of a pinyin keyboard ("平果控" for "苹果控"): two names of
 * the same length (at least two characters) where every differing character shares a reading
 * with its counterpart. Returns the differing pairs with the reading, or null.
 */
function homophonePairs(a: string, b: string): { from: string; to: string; reading: string }[] | null {
  const x = [...a];
  const y = [...b];
  if (x.length !== y.length || x.length < 2) return null;
  const pairs: { from: string; to: string; reading: string }[] = [];
  for (let i = 0; i < x.length; i++) {
    if (x[i] === y[i]) continue;
    const reading = sharedReading(x[i]!, y[i]!);
    if (reading === null) return null;
    pairs.push({ from: x[i]!, to: y[i]!, reading });
  }
  return pairs.length > 0 ? pairs : null;
}

/** Multiset of code points shared by both (order ignored), and the share of the longer name it covers. */
function sharedChars(a: string, b: string): { shared: string; ratio: number } {
  const counts = new Map<string, number>();
  for (const ch of b) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let shared = '';
  for (const ch of a) {
    const n = counts.get(ch) ?? 0;
    if (n > 0) {
      shared += ch;
      counts.set(ch, n - 1);
    }
  }
  const longer = Math.max([...a].length, [...b].length);
  return { shared, ratio: longer ? [...shared].length / longer : 0 };
}

/** The strongest reason two names are near-duplicates, or null when they are distinct. */
export function compareNames(a: string | NameKeys, b: string | NameKeys): DuplicateReason | null {
  const ka = typeof a === 'string' ? nameKeys(a) : a;
  const kb = typeof b === 'string' ? nameKeys(b) : b;
  if (!ka.raw || !kb.raw) return null;
  if (ka.raw === kb.raw) return { kind: 'exact' };
  if (!ka.folded || !kb.folded) return null;
  if (ka.folded === kb.folded) return { kind: 'normalized' };
  if (ka.simplified === kb.simplified) return { kind: 'traditional' };
  if (ka.canonical === kb.canonical) {
    // the rewrites either side needed: "北上广 ↔ 北京上海广州", "用户 ↔ 客户"
    const pairs = [...ka.synonymsUsed, ...kb.synonymsUsed].filter(
      (p, i, all) => all.findIndex((q) => q.from === p.from && q.to === p.to) === i,
    );
    return { kind: 'synonym', pairs };
  }
  const x = ka.canonical;
  const y = kb.canonical;
  if (differsOnlyInContrast(x, y)) return null;
  const homophones = homophonePairs(x, y);
  if (homophones) return { kind: 'homophone', pairs: homophones };
  const minLen = Math.min([...x].length, [...y].length);
  const distance = editDistance(x, y);
  if (distance > 0 && distance <= distanceLimit(minLen)) return { kind: 'edit_distance', distance };
  // same characters in another order or with a filler: "护肤爱好者" / "爱好护肤"
  if (minLen >= 3) {
    const { shared, ratio } = sharedChars(x, y);
    if (ratio >= 0.8) return { kind: 'shared_chars', shared, ratio: Math.round(ratio * 100) / 100 };
  }
  return null;
}

/**
 * Existing tags that look like `name`, strongest first (at most `limit`). `excludeId` leaves
 * out the tag being renamed. Retired tags are included (reusing or restoring one beats a new
 * duplicate); the caller shows their status.
 */
export function findNearDuplicates<T extends ExistingTagName>(
  name: string,
  existing: readonly T[],
  opts: { excludeId?: number; limit?: number } = {},
): DuplicateMatch<T>[] {
  const keys = nameKeys(name);
  const matches: DuplicateMatch<T>[] = [];
  for (const tag of existing) {
    if (tag.id === opts.excludeId) continue;
    const reason = compareNames(keys, tag.name);
    if (reason) matches.push({ tag, reason });
  }
  const rank = (m: DuplicateMatch<T>) =>
    REASON_ORDER.indexOf(m.reason.kind) * 10 +
    (m.reason.kind === 'edit_distance' ? m.reason.distance : 0) +
    (m.tag.status === 'retired' ? 5 : 0);
  matches.sort((a, b) => rank(a) - rank(b) || a.tag.id - b.tag.id);
  return matches.slice(0, opts.limit ?? 5);
}
