/**
 * The archive job, one bounded step per Cron tick (worker/src/cron/scheduled.ts): raw events of
 * days older than the horizon (./horizon.ts) move to R2 as gzipped NDJSON chunks
 * `events/<yyyy-mm-dd>/<chunk>-<sha256 head>.ndjson.gz`, each the first `chunkRows` remaining rows of the
 * oldest such day in (contact, id) order; the daily rollup stays in D1.
 *
 * A chunk goes in three steps: (1) put the object, (2) record it in `event_archive` (key, rows,
 * contact range, max id, SHA-256 of the NDJSON) with `deleted_at` null, (3) one batch that
 * deletes exactly its rows (by id, guarded: all of them or nothing) and sets `deleted_at`.
 * Resumable and idempotent:
 * - a crash before (2) leaves the rows in D1; the next step selects the same remaining rows,
 *   numbers the chunk the same (one more than the day's recorded chunks) and so overwrites the
 *   same key with the same bytes: nothing doubled;
 * - a crash between (2) and (3) leaves a recorded chunk with `deleted_at` null, which the next
 *   step finishes before anything else: it reads the object back, and deletes its rows only if
 *   D1 still holds them all exactly as written (same checksum); otherwise (another run finished
 *   them first) the chunk is dropped, object and record, and D1 — never touched — is the truth;
 * - a crash after (3) lost nothing: the rows are in R2 and recorded.
 * Late events of an archived day become further chunks of that day.
 */
import { EVENT_TYPES } from '@shared/domain';
import { dayNumber, dayStartMs, DAY_MS } from '@shared/time';
import { batch, typed, type ContactEventRow } from '../db/rows';
import { tzOffsetMinutes } from '../rules/context';
import type { Horizon } from './horizon';
import { ARCHIVE_COLUMNS, fromNdjson, gunzip, gzip, toNdjson } from './ndjson';
import { sha256Hex } from '../crypto/sha256';

/** Rows per chunk: ~1 MB of NDJSON, a few hundred KB gzipped; one chunk is well within a tick's CPU. */
export const DEFAULT_CHUNK_ROWS = 5000;
/** Chunks per tick: each is 1 R2 put and ~5 D1 queries; the tick also runs rules and snapshots. */
export const DEFAULT_CHUNKS_PER_TICK = 4;

/** A test seam: stop the step (as a crash would) right after this point of a new chunk. */
export type ArchiveFault = 'after-put' | 'after-record';

export interface ArchiveOptions {
  chunkRows?: number;
  maxChunks?: number;
  fault?: ArchiveFault;
}

export interface ArchiveReport {
  horizonDays: number | null;
  /** Days before this one (days since epoch in TIMEZONE) may be archived. */
  cutoffDay: number | null;
  chunks: { day: number; chunk: number; rows: number; resumed: boolean }[];
  dropped: { day: number; chunk: number }[];
}

/**
 * The key of a day's chunk: date in TIMEZONE, chunk number zero-padded so keys list in order,
 * and the head of the content's SHA-256. A re-run over the same rows writes the same key (an
 * overwrite with the same bytes); a run racing another over different rows (a late event came in
 * between) writes a different key, so it can never overwrite an object whose record is done.
 */
export function chunkKey(day: number, chunk: number, checksum: string): string {
  const date = new Date(day * DAY_MS).toISOString().slice(0, 10);
  return `events/${date}/${String(chunk).padStart(5, '0')}-${checksum.slice(0, 16)}.ndjson.gz`;
}

interface ChunkRecord {
  day: number;
  chunk: number;
  key: string;
  rows: number;
  checksum: string;
}

const TYPES = `(${EVENT_TYPES.map((t) => `'${t}'`).join(', ')})`;
const COLUMNS = ARCHIVE_COLUMNS.join(', ');

/** Runs up to `maxChunks` chunks (finishing interrupted ones first). */
export async function archiveStep(env: Env, at: number, horizon: Horizon, opts: ArchiveOptions = {}): Promise<ArchiveReport> {
  const db = env.DB;
  const tz = tzOffsetMinutes(env);
  const chunkRows = opts.chunkRows ?? DEFAULT_CHUNK_ROWS;
  const maxChunks = opts.maxChunks ?? DEFAULT_CHUNKS_PER_TICK;
  const finite = Number.isFinite(horizon.days);
  const cutoffDay = finite ? dayNumber(at, tz) - horizon.days + 1 : null;
  const report: ArchiveReport = { horizonDays: finite ? horizon.days : null, cutoffDay, chunks: [], dropped: [] };
  for (let i = 0; i < maxChunks; i++) {
    const pending = await db
      .prepare('SELECT day, chunk, key, rows, checksum FROM event_archive WHERE deleted_at IS NULL ORDER BY day, chunk LIMIT 1')
      .first<ChunkRecord>();
    if (pending) {
      if (await finishPending(env, pending, at))
        report.chunks.push({ day: pending.day, chunk: pending.chunk, rows: pending.rows, resumed: true });
      else report.dropped.push({ day: pending.day, chunk: pending.chunk });
      continue;
    }
    if (cutoffDay === null) break;
    // The oldest event through the (type, occurred_at) index: one seek per type.
    const oldest = await db
      .prepare('SELECT MIN((SELECT MIN(occurred_at) FROM events WHERE type = t.value)) AS at FROM json_each(?) t')
      .bind(JSON.stringify(EVENT_TYPES))
      .first<{ at: number | null }>();
    if (oldest?.at == null || dayNumber(oldest.at, tz) >= cutoffDay) break;
    const day = dayNumber(oldest.at, tz);
    const written = await writeChunk(env, day, chunkRows, at, opts.fault);
    report.chunks.push({ day, chunk: written.chunk, rows: written.rows, resumed: false });
  }
  return report;
}

/** Steps (1)–(3) for the next chunk of `day` (see top). */
async function writeChunk(env: Env, day: number, chunkRows: number, at: number, fault?: ArchiveFault) {
  const db = env.DB;
  const tz = tzOffsetMinutes(env);
  const from = dayStartMs(day, tz);
  const [rowsRead, next] = await batch(db, [
    typed<ContactEventRow>(
      db
        .prepare(
          `SELECT ${COLUMNS} FROM events WHERE type IN ${TYPES} AND occurred_at >= ? AND occurred_at < ? ORDER BY contact_id, id LIMIT ?`,
        )
        .bind(from, from + DAY_MS, chunkRows),
    ),
    typed<{ chunk: number }>(db.prepare('SELECT COALESCE(MAX(chunk) + 1, 0) AS chunk FROM event_archive WHERE day = ?').bind(day)),
  ]);
  const rows = rowsRead.results;
  const chunk = next.results[0]?.chunk ?? 0;
  if (rows.length === 0) return { chunk, rows: 0 };
  const text = toNdjson(rows);
  const checksum = await sha256Hex(text);
  const key = chunkKey(day, chunk, checksum);
  const body = await gzip(text);
  await env.ARCHIVE.put(key, body, {
    httpMetadata: { contentType: 'application/x-ndjson' },
    customMetadata: { rows: String(rows.length), checksum },
  });
  if (fault === 'after-put') throw new Error('archive fault: after put');
  const first = rows[0]!;
  const last = rows[rows.length - 1]!;
  const recorded = await db
    .prepare(
      `INSERT INTO event_archive (day, chunk, key, rows, first_contact, last_contact, max_id, checksum, bytes, written_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (day, chunk) DO NOTHING`,
    )
    .bind(
      day,
      chunk,
      key,
      rows.length,
      first.contact_id,
      last.contact_id,
      Math.max(...rows.map((r) => r.id)),
      checksum,
      body.byteLength,
      at,
    )
    .run();
  // Another run recorded this chunk first: it finishes it.
  if (recorded.meta.changes !== 1) return { chunk, rows: 0 };
  if (fault === 'after-record') throw new Error('archive fault: after record');
  const ok = await deleteChunk(db, { day, chunk, key, rows: rows.length, checksum }, rows, at);
  return { chunk, rows: ok ? rows.length : 0 };
}

/** Step (3): the rows gone from D1 and the chunk marked done, or neither (answers which). */
async function deleteChunk(db: D1Database, c: ChunkRecord, rows: readonly ContactEventRow[], at: number): Promise<boolean> {
  try {
    await db.batch([
      db.prepare('DELETE FROM events WHERE id IN (SELECT value FROM json_each(?))').bind(JSON.stringify(rows.map((r) => r.id))),
      db.prepare(`SELECT CASE WHEN changes() = ? THEN 1 ELSE json('archive race: ' || changes()) END AS ok`).bind(c.rows),
      db.prepare('UPDATE event_archive SET deleted_at = ? WHERE day = ? AND chunk = ? AND deleted_at IS NULL').bind(at, c.day, c.chunk),
    ]);
    return true;
  } catch (e) {
    // The guard: some rows were already gone (a concurrent run). The chunk stays pending; the next step decides.
    console.warn(`archive chunk ${c.key} not deleted`, e);
    return false;
  }
}

/**
 * A recorded chunk whose rows may still be in D1: deleted if D1 holds them all, unchanged;
 * otherwise dropped (object and record), the rows left to be archived again from D1.
 */
async function finishPending(env: Env, c: ChunkRecord, at: number): Promise<boolean> {
  const db = env.DB;
  const object = await env.ARCHIVE.get(c.key);
  const text = object ? await gunzip(object.body) : null;
  if (text !== null && (await sha256Hex(text)) === c.checksum) {
    const archived = fromNdjson(text);
    const inD1 = await db
      .prepare(`SELECT ${COLUMNS} FROM events WHERE id IN (SELECT value FROM json_each(?)) ORDER BY contact_id, id`)
      .bind(JSON.stringify(archived.map((r) => r.id)))
      .all<ContactEventRow>();
    if (
      inD1.results.length === c.rows &&
      (await sha256Hex(toNdjson(inD1.results))) === c.checksum &&
      (await deleteChunk(db, c, archived, at))
    )
      return true;
  }
  const dropped = await db
    .prepare('DELETE FROM event_archive WHERE day = ? AND chunk = ? AND deleted_at IS NULL')
    .bind(c.day, c.chunk)
    .run();
  // Only if this run dropped the record: a concurrent run may have just finished the chunk, and its object is then the archive.
  // Record first: an object left by a crash here has no record (unreferenced; the timeline reads through records).
  if (dropped.meta.changes === 1) await env.ARCHIVE.delete(c.key);
  return false;
}
