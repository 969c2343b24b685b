/**
 * Predicates for text a user typed into a search box. Not `LIKE`: D1 refuses LIKE and GLOB
 * patterns over 50 bytes ("LIKE or GLOB pattern too complex"), which 17 Chinese characters
 * already exceed, so every list search answered 500 to a long enough query. `instr` has no
 * pattern limit and no wildcards, so `%` and `_` need no escaping. `lower()` folds ASCII only,
 * exactly as LIKE's case-insensitivity did, so results are the same as before for short text.
 */
import { sql, type SQL, type SQLWrapper } from 'drizzle-orm';
import type { SqlPredicate } from '../auth/access';
import { nameQuery, prefixEnd, type NameQuery } from '@shared/search/pinyin';
import type { SearchKind } from '@shared/search/kinds';

/** `column` contains `text`, ignoring ASCII case (the old `LIKE '%text%'`). */
export function containsText(column: string, text: string): SqlPredicate {
  return { sql: `instr(lower(${column}), lower(?)) > 0`, params: [text] };
}

/** `column` starts with `text`, exactly (the old `LIKE 'text%'` on case-free values: paths, action names). */
export function startsWithText(column: string, text: string): SqlPredicate {
  return { sql: `instr(${column}, ?) = 1`, params: [text] };
}

/** {@link containsText} for drizzle queries. */
export function containsSql(column: SQLWrapper, text: string): SQL {
  return sql`instr(lower(${column}), lower(${text})) > 0`;
}

/** {@link startsWithText} for drizzle queries. */
export function startsWithSql(column: SQLWrapper, text: string): SQL {
  return sql`instr(${column}, ${text}) = 1`;
}

/** "A key of `kind` starts with one of the query's prefixes", over `search_keys` (each a range on its primary key). */
function keyRanges(kind: SearchKind, q: NameQuery): SqlPredicate {
  return {
    sql: `SELECT ref_id FROM search_keys WHERE kind = ? AND (${q.prefixes.map(() => '(key >= ? AND key < ?)').join(' OR ')})`,
    params: [kind, ...q.prefixes.flatMap((p) => [p, prefixEnd(p)])],
  };
}

/**
 * The row `idColumn` names is a `kind` a search finds by its keys (pinyin, initials, simplified
 * characters; for contacts also any text inside name and remark: worker/src/search/keys.ts), an
 * index range, never a scan. null when the text has nothing to match by (punctuation only: the
 * caller falls back to `containsText`).
 */
export function nameKeyMatch(kind: SearchKind, idColumn: string, text: string): SqlPredicate | null {
  const q = nameQuery(text);
  if (!q) return null;
  const ranges = keyRanges(kind, q);
  return { sql: `${idColumn} IN (${ranges.sql})`, params: ranges.params };
}

/** {@link nameKeyMatch} for drizzle queries. */
export function nameKeySql(kind: SearchKind, idColumn: SQLWrapper, text: string): SQL | null {
  const q = nameQuery(text);
  if (!q) return null;
  const ranges = q.prefixes.map((p) => sql`(key >= ${p} AND key < ${prefixEnd(p)})`);
  return sql`${idColumn} IN (SELECT ref_id FROM search_keys WHERE kind = ${kind} AND (${sql.join(ranges, sql` OR `)}))`;
}
