/**
 * A contact's archived events, read from R2 on request (the contact timeline's "load older").
 * Each chunk object holds one day's rows in (contact, id) order and its record the contact
 * range it spans, so a contact's events of one day are in the one chunk (rarely two) whose range
 * covers it: reading N archived days is about N object GETs of at most `DEFAULT_CHUNK_ROWS`
 * rows, of which only the lines starting with the contact's id are parsed. Values come back
 * exactly as D1 stored them (see ./ndjson.ts).
 */
import { ARCHIVED_DAYS_PER_PAGE, type ArchivedEventsPage } from '@shared/api/taxonomy';
import { DAY_MS } from '@shared/time';
import type { ContactEventRow } from '../db/rows';
import { timelineEntry } from '../contacts/detail';
import { fromNdjson, gunzip } from './ndjson';

const COVERS = 'deleted_at IS NOT NULL AND first_contact <= ?1 AND last_contact >= ?1';

export const isoOfDay = (day: number) => new Date(day * DAY_MS).toISOString().slice(0, 10);
export const dayOfIso = (iso: string) => Math.floor(Date.parse(`${iso}T00:00:00Z`) / DAY_MS);

/** The newest archived day whose chunks may hold the contact's events, as yyyy-mm-dd; null if none. */
export async function archivedThrough(db: D1Database, contactId: number): Promise<string | null> {
  const row = await db.prepare(`SELECT MAX(day) AS day FROM event_archive WHERE ${COVERS}`).bind(contactId).first<{ day: number | null }>();
  return row?.day == null ? null : isoOfDay(row.day);
}

/** The contact's archived rows of the newest `days` archived days before `before` (a day number; null: all). */
export async function archivedEventRows(
  env: Env,
  contactId: number,
  before: number | null,
  days = ARCHIVED_DAYS_PER_PAGE,
): Promise<{ rows: ContactEventRow[]; daysRead: number; nextBefore: number | null }> {
  const bound = before ?? Number.MAX_SAFE_INTEGER;
  const { results } = await env.DB.prepare(
    `SELECT day, key FROM event_archive WHERE ${COVERS} AND day IN
       (SELECT DISTINCT day FROM event_archive WHERE ${COVERS} AND day < ?2 ORDER BY day DESC LIMIT ?3)
     ORDER BY day DESC, chunk`,
  )
    .bind(contactId, bound, days + 1)
    .all<{ day: number; key: string }>();
  const dayList = [...new Set(results.map((r) => r.day))];
  const more = dayList.length > days;
  const read = dayList.slice(0, days);
  const keep = new Set(read);
  const texts = await Promise.all(
    results
      .filter((r) => keep.has(r.day))
      .map(async (r) => {
        const object = await env.ARCHIVE.get(r.key);
        if (!object) throw new Error(`archive object ${r.key} is recorded but missing`);
        return gunzip(object.body);
      }),
  );
  const rows = texts.flatMap((t) => fromNdjson(t, contactId));
  rows.sort((a, b) => b.occurred_at - a.occurred_at || b.id - a.id);
  return { rows, daysRead: read.length, nextBefore: more ? read[read.length - 1]! : null };
}

/** {@link archivedEventRows} as the API answers it. */
export async function archivedEventsPage(env: Env, contactId: number, beforeIso: string | undefined): Promise<ArchivedEventsPage> {
  const { rows, daysRead, nextBefore } = await archivedEventRows(env, contactId, beforeIso === undefined ? null : dayOfIso(beforeIso));
  return {
    items: rows.map(timelineEntry),
    daysRead,
    nextBefore: nextBefore === null ? null : isoOfDay(nextBefore),
  };
}
