/** One page of a list and the list's total, read together (the Contacts, rules, segments, audit and security lists). */
import { batch, typed, type CountRow } from './rows';

export interface PageQuery {
  page: number;
  pageSize: number;
}

/**
 * `select` (ending in its ORDER BY) limited to page `q`, and `count` (a `COUNT(*) AS n`), both
 * binding `params`, in one batch: the rows, and the rest of the API's `Page` (total, page, size).
 */
export async function readPage<Row>(
  db: D1Database,
  q: PageQuery,
  select: string,
  count: string,
  params: readonly unknown[],
): Promise<{ rows: Row[]; total: number; page: number; pageSize: number }> {
  const [rows, total] = await batch(db, [
    typed<Row>(db.prepare(`${select} LIMIT ? OFFSET ?`).bind(...params, q.pageSize, (q.page - 1) * q.pageSize)),
    typed<CountRow>(db.prepare(count).bind(...params)),
  ]);
  return { rows: rows.results, total: total.results[0]?.n ?? 0, page: q.page, pageSize: q.pageSize };
}
