/**
 * Name search keys (table `search_keys`, migration 0012): the pinyin keys of every contact,
 * user, tag and rule name, so "zlk", "zhangl", "张丽坤" and "張麗坤" find 张丽坤 through a prefix
 * range on an index.
 *
 * How keys stay true, whatever writes a name:
 * - triggers queue every inserted row and every renamed one (dropping its old keys) in
 *   `search_key_queue`;
 * - the write paths people wait on (webhook intake, imports, the edit screens) add the keys in
 *   the same batch as the name and take their rows off the queue (`keyStatements`), so a new
 *   contact is found by pinyin at once;
 * - the cron keys whatever is left (rows present when the migration ran, and any writer that
 *   does not key), a bounded number per tick (`keyQueued`).
 */
import { storedKeys } from '@shared/search/pinyin';
import type { SearchKind } from '@shared/search/kinds';

export { storedKeys };

/** The table behind each kind (fixed strings, never from input). */
const TABLES: Record<SearchKind, string> = { contact: 'contacts', user: 'users', tag: 'tags', rule: 'rules' };

/** One named row: by id, or (contacts written by external id, whose id the batch assigns) by external id. */
export type Named = { id: number; name: string | null } | { externalId: string; name: string | null };

/**
 * Statements that key `rows` (after the statements that wrote their names, in the same batch):
 * insert their keys, take them off the queue. Two statements whatever the count (JSON parameter).
 * Only rows whose stored name is still the name keyed are touched: a rename between the cron's
 * read and its write leaves the row queued (its trigger dropped the old keys) for the next tick.
 */
export function keyStatements(db: D1Database, kind: SearchKind, rows: readonly Named[]): D1PreparedStatement[] {
  if (!rows.length) return [];
  const json = JSON.stringify(
    rows.map((r) => ({ ...('id' in r ? { id: r.id } : { ext: r.externalId }), name: r.name, keys: storedKeys(kind, r.name) })),
  );
  // the rows as stored, matched by id, or (contacts written by external id) by that
  const byExternalId = !('id' in rows[0]!);
  if (rows.some((r) => 'id' in r === byExternalId)) throw new Error('keyStatements: rows must all have ids, or all external ids');
  const match = byExternalId ? `t.external_id = json_extract(j.value, '$.ext')` : `t.id = json_extract(j.value, '$.id')`;
  const current = `FROM json_each(?2) j JOIN ${TABLES[kind]} t ON ${match} AND t.name IS json_extract(j.value, '$.name')`;
  return [
    db
      .prepare(`INSERT OR IGNORE INTO search_keys (kind, key, ref_id) SELECT ?1, k.value, t.id ${current}, json_each(j.value, '$.keys') k`)
      .bind(kind, json),
    db.prepare(`DELETE FROM search_key_queue WHERE kind = ?1 AND ref_id IN (SELECT t.id ${current})`).bind(kind, json),
  ];
}

/**
 * Keys rows created by a batch that could not key them itself (their id comes from that batch),
 * right after it. Should this fail, the rows stay queued and the cron keys them.
 */
export async function keyCreated(db: D1Database, kind: SearchKind, rows: readonly Named[]): Promise<void> {
  if (rows.length) await db.batch(keyStatements(db, kind, rows));
}

/** Rows keyed per kind per cron tick: a few hundred statements' worth of JSON, well inside one invocation's budget. */
export const KEY_BATCH = 500;

/** Keys up to `limit` queued rows of each kind (the cron's step); answers how many rows were keyed. */
export async function keyQueued(db: D1Database, limit = KEY_BATCH): Promise<number> {
  let keyed = 0;
  for (const kind of Object.keys(TABLES) as SearchKind[]) {
    const { results } = await db
      .prepare(
        `SELECT q.ref_id AS id, t.name AS name FROM search_key_queue q JOIN ${TABLES[kind]} t ON t.id = q.ref_id
         WHERE q.kind = ? ORDER BY q.ref_id LIMIT ?`,
      )
      .bind(kind, limit)
      .all<{ id: number; name: string | null }>();
    if (!results.length) continue;
    await db.batch(keyStatements(db, kind, results));
    keyed += results.length;
  }
  return keyed;
}

/**
 * An import's apply: the keys its dry run computed for the names it writes (new contacts, and
 * updated ones whose file gives a name), set-based from the staging rows; after the contacts
 * statements, in the same batch.
 */
export function importKeyStatements(db: D1Database, importId: string): D1PreparedStatement[] {
  const named = `r.import_id = ?1 AND r.name_keys IS NOT NULL AND (r.status = 'new' OR (r.status = 'updated' AND r.data ->> 'name' IS NOT NULL))`;
  return [
    db
      .prepare(
        `INSERT OR IGNORE INTO search_keys (kind, key, ref_id)
         SELECT 'contact', k.value, r.contact_id FROM import_rows r, json_each(r.name_keys) k WHERE ${named} AND r.contact_id IS NOT NULL`,
      )
      .bind(importId),
    db
      .prepare(`DELETE FROM search_key_queue WHERE kind = 'contact' AND ref_id IN (SELECT r.contact_id FROM import_rows r WHERE ${named})`)
      .bind(importId),
  ];
}
