/**
 * Chinese names found the way WeCom and DingTalk taught people to search: by full pinyin
 * ("zhanglikun"), by initials ("zlk"), by a mix ("zhangl", "zhang丽"), in simplified or
 * traditional characters. Keys are computed when a name is written (pinyin-pro reads the
 * characters, polyphones by context; opencc-js folds traditional forms), so a search is a prefix
 * range on an index, never pinyin computed per row.
 */
import { pinyin } from 'pinyin-pro';
import { toSimplified } from '../tags/normalize';
import type { SearchKind } from './kinds';

/** A name as compared: width and case folded, traditional characters simplified, spaces and punctuation dropped. */
export function simplifiedKey(name: string): string {
  return toSimplified(name.normalize('NFKC').toLowerCase()).replace(/[\s\p{P}\p{S}]/gu, '');
}

const HAN = /\p{Script=Han}/u;

/** Full pinyin and initials of a folded name: Chinese characters read, other runs (letters, digits) kept. */
function keysOf(folded: string, surname: boolean): { full: string; initials: string } {
  const parts = pinyin(folded, { toneType: 'none', type: 'array', nonZh: 'consecutive', v: true, ...(surname ? { surname: 'head' } : {}) });
  const chars = [...folded];
  let full = '';
  let initials = '';
  let at = 0;
  for (const part of parts) {
    const han = HAN.test(chars[at] ?? '');
    const p = part.toLowerCase().replace(/[^a-z0-9]/g, '');
    full += p;
    initials += han ? p.slice(0, 1) : p;
    at += han ? 1 : [...part].length;
  }
  return { full, initials };
}

/**
 * The keys a name is found by (distinct, lowercase): its full pinyin and its initials, and for a
 * name with Chinese characters its simplified text (so "张丽" finds 張麗坤 by characters, without
 * the homophones a pinyin match brings). A person's name is also read with its first character
 * as a surname (曾 zeng, 单 shan), since a nickname and a full name read differently; both
 * readings are kept.
 */
export function pinyinKeys(name: string, opts: { person?: boolean } = {}): string[] {
  const folded = simplifiedKey(name);
  if (!folded || !HAN.test(folded)) return folded ? [folded] : [];
  const plain = keysOf(folded, false);
  const keys = [plain.full, plain.initials];
  if (opts.person) {
    const asSurname = keysOf(folded, true);
    keys.push(asSurname.full, asSurname.initials);
  }
  keys.push(folded);
  return [...new Set(keys.filter(Boolean))];
}

/** How a typed query is matched: names with a key starting with one of `prefixes` (one or two). */
export interface NameQuery {
  prefixes: string[];
}

/**
 * A search box's text as a name query: "zlk" and "zhangl" are pinyin prefixes (and, being
 * letters, also text inside a name); "张丽" and "張麗" are the simplified characters; "zhang丽" (a
 * mix) reads as "zhangli" and is also looked for as typed ("vip客" inside "大VIP客户"). Null for a
 * query with nothing to match (punctuation only).
 */
export function nameQuery(q: string): NameQuery | null {
  const folded = simplifiedKey(q);
  if (!folded) return null;
  if (!HAN.test(folded) || [...folded].every((ch) => HAN.test(ch))) return { prefixes: [folded] };
  const read = keysOf(folded, false).full;
  return { prefixes: read === folded ? [folded] : [read, folded] };
}

/** Characters of a text kept as substring keys: a longer remark is found by its first 24 (folded) characters. */
export const SUFFIX_CHARS = 24;

/**
 * Every suffix of a text, folded (simplifiedKey), up to `SUFFIX_CHARS` characters: a prefix range
 * over these finds the text by any substring ("丽坤" in 张丽坤, "华东采购" in 张总-华东采购), the way
 * a scan with `instr` did, but through an index.
 */
export function textSuffixes(text: string): string[] {
  const chars = [...simplifiedKey(text)].slice(0, SUFFIX_CHARS);
  return chars.map((_, i) => chars.slice(i).join(''));
}

/** The upper bound of a prefix range: `key >= prefix AND key < prefixEnd(prefix)` is "starts with". */
export function prefixEnd(prefix: string): string {
  return prefix + '\u{10FFFF}';
}

/**
 * The keys stored for a row of `kind`: its name's pinyin keys (people's names also read
 * surname-first); for a contact also its remark's, and every suffix of name and remark (so the
 * contacts search finds any text inside them through the index); '' for a row with none (so the
 * row counts as keyed).
 */
export function storedKeys(kind: SearchKind, name: string | null, remark: string | null = null): string[] {
  const keys = name ? pinyinKeys(name, { person: kind === 'contact' || kind === 'user' }) : [];
  if (kind === 'contact') {
    if (name) keys.push(...textSuffixes(name));
    if (remark) keys.push(...pinyinKeys(remark), ...textSuffixes(remark));
  }
  return keys.length ? [...new Set(keys)] : [''];
}
