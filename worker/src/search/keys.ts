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
import { pinyinKeys, storedKeys, textSuffixes } from '@shared/search/pinyin';
import type { SearchKind } from '@shared/search/kinds';

export { storedKeys };

/** Texts whose keys an isolate keeps (then it starts over): names and remarks repeat a lot (张伟, 王女士-上海). */
const MEMO_TEXTS = 20_000;
const memo = new Map<string, readonly string[]>();
function memoized(key: string, make: () => string[]): readonly string[] {
  let keys = memo.get(key);
  if (!keys) {
    if (memo.size >= MEMO_TEXTS) memo.clear();
    memo.set(key, (keys = make()));
  }
  return keys;
}

/**
 * `storedKeys`, the same keys in the same order, with each name's and each remark's part computed
 * once per distinct text: the pinyin of a page of 1,000 WeCom customers cost ~80 ms of a backfill
 * page's CPU, and 100,000 customers have ~2,400 distinct names and ~9,500 distinct remarks
 * (bench/wecom.ts).
 */
export function rowKeys(kind: SearchKind, name: string | null, remark: string | null = null): string[] {
  const keys: string[] = [];
  if (name) {
    keys.push(
      ...memoized(`${kind}\u0000${name}`, () => {
        const k = pinyinKeys(name, { person: kind === 'contact' || kind === 'user' });
        if (kind === 'contact') k.push(...textSuffixes(name));
        return k;
      }),
    );
  }
  if (kind === 'contact' && remark) keys.push(...memoized(`remark\u0000${remark}`, () => [...pinyinKeys(remark), ...textSuffixes(remark)]));
  return keys.length ? [...new Set(keys)] : [''];
}

/** The table behind each kind (fixed strings, never from input). */
const TABLES: Record<SearchKind, string> = { contact: 'contacts', user: 'users', tag: 'tags', rule: 'rules' };

/**
 * One named row: by id, or (contacts written by external id, whose id the batch assigns) by
 * external id. A contact's keys also cover its remark: give the remark it has after the write.
 */
export type Named = ({ id: number } | { externalId: string }) & { name: string | null; remark?: string | null };

/**
 * Statements that key `rows` (after the statements that wrote their names, in the same batch):
 * drop their old keys, insert the new ones, take them off the queue. Three statements whatever
 * the count (JSON parameter). Only rows whose stored name (and a contact's remark) is still what
 * was keyed are touched: a rename between the cron's read and its write leaves the row queued
 * (its trigger queued it again) for the next tick.
 */
export function keyStatements(db: D1Database, kind: SearchKind, rows: readonly Named[]): D1PreparedStatement[] {
  if (!rows.length) return [];
  const contact = kind === 'contact';
  const stored = rows.map((r) => ({
    ...('id' in r ? { id: r.id } : { ext: r.externalId }),
    name: r.name,
    ...(contact ? { remark: r.remark ?? null } : {}),
  }));
  // the deletes get the rows without their keys (SQLite parses a statement's JSON parameter whole)
  const slim = JSON.stringify(stored);
  const json = JSON.stringify(stored.map((r, i) => ({ ...r, keys: rowKeys(kind, rows[i]!.name, rows[i]!.remark ?? null) })));
  // the rows as stored, matched by id, or (contacts written by external id) by that
  const byExternalId = !('id' in rows[0]!);
  if (rows.some((r) => 'id' in r === byExternalId)) throw new Error('keyStatements: rows must all have ids, or all external ids');
  const match = byExternalId ? `t.external_id = json_extract(j.value, '$.ext')` : `t.id = json_extract(j.value, '$.id')`;
  const same = `t.name IS json_extract(j.value, '$.name')${contact ? ` AND t.remark IS json_extract(j.value, '$.remark')` : ''}`;
  const current = `FROM json_each(?2) j JOIN ${TABLES[kind]} t ON ${match} AND ${same}`;
  return [
    db.prepare(`DELETE FROM search_keys WHERE kind = ?1 AND ref_id IN (SELECT t.id ${current})`).bind(kind, slim),
    db
      .prepare(`INSERT OR IGNORE INTO search_keys (kind, key, ref_id) SELECT ?1, k.value, t.id ${current}, json_each(j.value, '$.keys') k`)
      .bind(kind, json),
    db.prepare(`DELETE FROM search_key_queue WHERE kind = ?1 AND ref_id IN (SELECT t.id ${current})`).bind(kind, slim),
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
export const KEY_BATCH = 1000;

/** Keys up to `limit` queued rows of each kind (the cron's step); answers how many rows were keyed. */
export async function keyQueued(db: D1Database, limit = KEY_BATCH): Promise<number> {
  let keyed = 0;
  for (const kind of Object.keys(TABLES) as SearchKind[]) {
    const { results } = await db
      .prepare(
        `SELECT q.ref_id AS id, t.name AS name${kind === 'contact' ? ', t.remark AS remark' : ''}
         FROM search_key_queue q JOIN ${TABLES[kind]} t ON t.id = q.ref_id WHERE q.kind = ? ORDER BY q.ref_id LIMIT ?`,
      )
      .bind(kind, limit)
      .all<{ id: number; name: string | null; remark?: string | null }>();
    if (!results.length) continue;
    await db.batch(keyStatements(db, kind, results));
    keyed += results.length;
  }
  return keyed;
}

/**
 * An import's apply: the keys its dry run computed for the contacts it creates (name and remark
 * from the file are all they have), set-based from the staging rows; after the contacts
 * statements, in the same batch. Updated contacts are queued by their trigger when their name or
 * remark changed (their other value is not in the file) and keyed by the cron.
 */
export function importKeyStatements(db: D1Database, importId: string): D1PreparedStatement[] {
  const created = `r.import_id = ?1 AND r.status = 'new' AND r.name_keys IS NOT NULL AND r.contact_id IS NOT NULL`;
  return [
    db
      .prepare(
        `INSERT OR IGNORE INTO search_keys (kind, key, ref_id)
         SELECT 'contact', k.value, r.contact_id FROM import_rows r, json_each(r.name_keys) k WHERE ${created}`,
      )
      .bind(importId),
    db
      .prepare(
        `DELETE FROM search_key_queue WHERE kind = 'contact' AND ref_id IN (SELECT r.contact_id FROM import_rows r WHERE ${created})`,
      )
      .bind(importId),
  ];
}
