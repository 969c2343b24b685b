/**
 * Loads what the JS evaluators read for one contact from D1, in one batch: the contact row, its
 * tag ids, and only as much rollup / raw-event history as the rules' windows need.
 */
import { DEPARTMENT_PATH_SQL } from '@shared/rules/sql';
import { lastDaysWindow } from '@shared/rules/days';
import { evalDataFromRows } from '@shared/rules/data';
import type { DataNeeds } from '@shared/rules/needs';
import type { EvalData, TriggerEvent } from '@shared/rules/types';
import { batch, typed, type ContactDailyStatRow, type ContactEventRow, type ContactRow, type ContactTagRow } from '../db/rows';

/** Clock, zone, triggering event and history windows of one evaluation. */
export interface LoadOptions extends DataNeeds {
  now: number;
  tzOffsetMinutes: number;
  event?: TriggerEvent | null;
}

/** `EvalData` for one contact, or null when it does not exist. */
export async function loadEvalData(db: D1Database, contactId: number, o: LoadOptions): Promise<EvalData | null> {
  // Windows end today; a day-0 or empty window loads nothing (the `1 = 0` keeps one batch shape).
  const stats = o.statsDays > 0 ? lastDaysWindow(o.now, o.statsDays, o.tzOffsetMinutes) : null;
  const events = o.eventsDays > 0 ? lastDaysWindow(o.now, o.eventsDays, o.tzOffsetMinutes) : null;
  const [contact, tags, statRows, eventRows] = await batch(db, [
    // with its department's path: "所属部门及下级" reads it (sf_in_department_tree)
    typed<ContactRow & { department_path: string | null }>(
      db.prepare(`SELECT c.*, ${DEPARTMENT_PATH_SQL} AS department_path FROM contacts c WHERE c.id = ?`).bind(contactId),
    ),
    typed<Pick<ContactTagRow, 'tag_id'>>(db.prepare('SELECT tag_id FROM contact_tags WHERE contact_id = ?').bind(contactId)),
    typed<Pick<ContactDailyStatRow, 'type' | 'day' | 'count' | 'amount'>>(
      db
        .prepare(
          `SELECT type, day, count, amount FROM contact_daily_stats WHERE contact_id = ? AND ${stats ? 'day BETWEEN ? AND ?' : '1 = 0'}`,
        )
        .bind(contactId, ...(stats ? [stats.firstDay, stats.lastDay] : [])),
    ),
    typed<Pick<ContactEventRow, 'type' | 'occurred_at' | 'amount' | 'channel' | 'text'>>(
      db
        .prepare(
          `SELECT type, occurred_at, amount, channel, text FROM events WHERE contact_id = ? AND ${events ? 'occurred_at BETWEEN ? AND ?' : '1 = 0'}`,
        )
        .bind(contactId, ...(events ? [events.fromMs, events.toMs] : [])),
    ),
  ]);
  const row = contact.results[0];
  if (!row) return null;
  return evalDataFromRows(
    {
      contact: row,
      tagIds: tags.results.map((t) => t.tag_id),
      stats: statRows.results,
      events: eventRows.results,
    },
    o.now,
    o.tzOffsetMinutes,
    o.event ?? null,
  );
}
