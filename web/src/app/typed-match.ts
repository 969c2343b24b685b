/**
 * Whether a tag (or any named thing with stored pinyin keys) matches what was typed into a
 * picker that filters in the browser: the name contains the text (case ignored), or the text,
 * as letters and digits, starts one of its pinyin keys ("gjz" or "gaojia" finds 高价值客户). The
 * keys come from the server, computed when the name was written (worker/src/search/keys.ts):
 * the browser never reads pinyin itself.
 */
export function matchesTyped(name: string, keys: readonly string[], typed: string): boolean {
  const q = typed.trim().toLowerCase();
  if (!q || name.toLowerCase().includes(q)) return true;
  const folded = q.replace(/[\s\p{P}\p{S}]/gu, '');
  return /^[a-z0-9]+$/.test(folded) && keys.some((k) => k.startsWith(folded));
}
