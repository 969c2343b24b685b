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

/** How a typed query is matched: names with a key starting with `prefix`. */
export interface NameQuery {
  prefix: string;
}

/**
 * A search box's text as a name query: "zlk" and "zhangl" are pinyin prefixes; "张丽" and "張麗"
 * are the simplified characters a name starts with; "zhang丽" (a mix) reads as "zhangli". Null
 * for a query with nothing to match.
 */
export function nameQuery(q: string): NameQuery | null {
  const folded = simplifiedKey(q);
  if (!folded) return null;
  if (!HAN.test(folded)) return { prefix: folded };
  if ([...folded].every((ch) => HAN.test(ch))) return { prefix: folded };
  return { prefix: keysOf(folded, false).full };
}

/** The upper bound of a prefix range: `key >= prefix AND key < prefixEnd(prefix)` is "starts with". */
export function prefixEnd(prefix: string): string {
  return prefix + '\u{10FFFF}';
}

/** The keys stored for a name of `kind`: its pinyin keys (people's names also read surname-first), or '' for a name with none (so the row counts as keyed). */
export function storedKeys(kind: SearchKind, name: string | null): string[] {
  const keys = name ? pinyinKeys(name, { person: kind === 'contact' || kind === 'user' }) : [];
  return keys.length ? keys : [''];
}
