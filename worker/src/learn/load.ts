/**
 * Loads a suggestion's learning set from D1: the contacts of its department subtree (a uniform
 * sample by `bucket` when there are more than {@link MAX_CONTACTS}), in keyset pages by id, each
 * page with only what the features read: the contact's typed columns (no name, remark, company
 * or sealed numbers), its tags, its daily rollup over the windows, and for a future behaviour the
 * tag changes after D − N (to rewind its tags). Raw events are not read: the features are rollup
 * aggregates, and last-active / last-purchase rewind to day precision from the rollup, which is
 * what their day-count conditions compare.
 */
import type { SuggestionOutcome } from '@shared/api/suggestions';
import { evalDataFromRows } from '@shared/rules/data';
import type { SqlFrag } from '@shared/rules/operators';
import type { EvalData } from '@shared/rules/types';
import { asOfEnd, futureEventCount, snapshotAt, type TagChange } from '@shared/learn/features';
import { dayNumber } from '@shared/time';
import { inDepartmentSubtree } from '../auth/access';
import { batch, typed, type ContactDailyStatRow, type CountRow } from '../db/rows';

/**
 * At most this many contacts are loaded: a Worker has 128 MB. Measured in Node on the demo's
 * contacts (snapshots trimmed as below, ~104 features): 30,000 held 67 MB after loading and 92 MB
 * after training, 20,000 39 / 57 MB; so 25,000, a uniform sample above it. Lifting it needs the
 * features encoded page by page instead of keeping every snapshot (shared/src/learn takes snapshots).
 */
export const MAX_CONTACTS = 25_000;
/** Contacts per keyset page: one read of contacts, one batch of their tags, rollup and ledger. */
export const PAGE_SIZE = 500;
/** Rollup days read before D − N for a future behaviour: the longest window (90) and room for last-active rewinds. */
const HISTORY_DAYS = 365;
/** The longest aggregate window the features read (discoverFeatures' default windows end at 90). */
const WINDOW_DAYS = 90;

/** The columns the features read (the field catalog's typed columns, the time split's dates). */
const CONTACT_COLUMNS = [
  'id',
  'kind',
  'gender',
  'region',
  'city',
  'occupation',
  'device',
  'source_channel',
  'department_id',
  'owner_user_id',
  'custom',
  'created_at',
  'last_active_at',
  'last_purchase_at',
  'message_count',
  'purchase_count',
  'total_spend',
  'invite_count',
  'violation_count',
]
  .map((c) => `c.${c}`)
  .join(', ');

export interface LoadInput {
  /** The department subtree learned from; null: every contact. */
  departmentPath: string | null;
  outcome: SuggestionOutcome;
  /** For a segment outcome: its audience over `contacts c`. */
  segmentWhere?: SqlFrag;
  now: number;
  tzOffsetMinutes: number;
}

/** The labelled population `suggestRule` takes. */
export interface LoadedSet {
  ids: number[];
  snapshots: EvalData[];
  labels: Uint8Array;
  /** Features as of this time. */
  asOf: number;
  total: number;
}

/**
 * Reads the learning set page by page; `onPage(loaded, total)` after each page (the job writes
 * progress there). Deterministic: id order, a bucket sample.
 */
export async function loadLearningSet(
  db: D1Database,
  input: LoadInput,
  onPage: (loaded: number, total: number) => Promise<void>,
): Promise<LoadedSet> {
  const { outcome, now, tzOffsetMinutes: tz } = input;
  const future = outcome.kind === 'future_event';
  const asOf = future ? asOfEnd(now, outcome.days, tz) : now;
  const where: SqlFrag[] = [];
  if (input.departmentPath !== null) where.push(inDepartmentSubtree('c.department_id', input.departmentPath));
  // a future behaviour learns from contacts that existed at D − N
  if (future) where.push({ sql: 'c.created_at <= ?', params: [asOf] });
  const whereSql = (extra: SqlFrag[] = []) => {
    const all = [...where, ...extra];
    return { sql: all.length ? all.map((w) => `(${w.sql})`).join(' AND ') : '1', params: all.flatMap((w) => w.params) };
  };
  const scoped = whereSql();
  let total =
    (
      await db
        .prepare(`SELECT COUNT(*) AS n FROM contacts c WHERE ${scoped.sql}`)
        .bind(...scoped.params)
        .first<CountRow>()
    )?.n ?? 0;
  const sample: SqlFrag[] = [];
  if (total > MAX_CONTACTS) {
    // `bucket` is a hash of the external id in [0, 10000): a uniform, stable sample
    sample.push({ sql: 'c.bucket < ?', params: [Math.max(1, Math.floor((10_000 * MAX_CONTACTS) / total))] });
    const s = whereSql(sample);
    total =
      (
        await db
          .prepare(`SELECT COUNT(*) AS n FROM contacts c WHERE ${s.sql}`)
          .bind(...s.params)
          .first<CountRow>()
      )?.n ?? 0;
  }
  const page = whereSql(sample);
  const labelSql =
    outcome.kind === 'segment' && input.segmentWhere ? `, CASE WHEN (${input.segmentWhere.sql}) THEN 1 ELSE 0 END AS __label` : '';
  const labelParams = outcome.kind === 'segment' && input.segmentWhere ? input.segmentWhere.params : [];
  const today = dayNumber(now, tz);
  const firstDay = future ? dayNumber(asOf, tz) - HISTORY_DAYS : today - WINDOW_DAYS;

  const out: LoadedSet = { ids: [], snapshots: [], labels: new Uint8Array(0), asOf, total };
  const labels: number[] = [];
  let after = 0;
  for (;;) {
    const contacts = await db
      .prepare(`SELECT ${CONTACT_COLUMNS}${labelSql} FROM contacts c WHERE c.id > ? AND ${page.sql} ORDER BY c.id LIMIT ?`)
      .bind(...labelParams, after, ...page.params, PAGE_SIZE)
      .all<Record<string, unknown> & { id: number; __label?: number }>();
    const rows = contacts.results;
    if (!rows.length) break;
    after = rows[rows.length - 1]!.id;
    const ids = JSON.stringify(rows.map((r) => r.id));
    const inPage = 'contact_id IN (SELECT value FROM json_each(?))';
    const [tags, stats, ledger] = await batch(db, [
      typed<{ contact_id: number; tag_id: number }>(db.prepare(`SELECT contact_id, tag_id FROM contact_tags WHERE ${inPage}`).bind(ids)),
      typed<Pick<ContactDailyStatRow, 'contact_id' | 'type' | 'day' | 'count' | 'amount'>>(
        db
          .prepare(`SELECT contact_id, type, day, count, amount FROM contact_daily_stats WHERE ${inPage} AND day BETWEEN ? AND ?`)
          .bind(ids, firstDay, today),
      ),
      typed<{ contact_id: number; tag_id: number; op: 'add' | 'remove'; at: number }>(
        future
          ? db.prepare(`SELECT contact_id, tag_id, op, at FROM tag_ledger WHERE ${inPage} AND at > ? ORDER BY id`).bind(ids, asOf)
          : db.prepare('SELECT 0 AS contact_id, 0 AS tag_id, 0 AS op, 0 AS at WHERE 0'),
      ),
    ]);
    const tagsOf = group(tags.results, (t) => t.tag_id);
    const statsOf = group(stats.results, (s) => ({ type: s.type, day: s.day, count: s.count, amount: s.amount }));
    const ledgerOf = group(ledger.results, (l): TagChange => ({ tagId: l.tag_id, op: l.op, at: l.at }));
    for (const { __label, ...row } of rows) {
      const data = evalDataFromRows({ contact: row, tagIds: tagsOf.get(row.id) ?? [], stats: statsOf.get(row.id) ?? [] }, now, tz);
      let snap: EvalData | null = data;
      let label: boolean;
      if (outcome.kind === 'future_event') {
        snap = snapshotAt(data, asOf, ledgerOf.get(row.id) ?? []);
        label = futureEventCount(data, outcome.eventType, asOf, outcome.days) > 0;
      } else if (outcome.kind === 'tag') label = data.tags?.includes(outcome.tagId) ?? false;
      else label = __label === 1;
      if (!snap) continue;
      // kept until training: only the rollup days the longest aggregate window reads
      const keepAfter = dayNumber(snap.now, tz) - WINDOW_DAYS;
      out.ids.push(row.id as number);
      out.snapshots.push({ ...snap, events: [], stats: (snap.stats ?? []).filter((x) => x.day > keepAfter) });
      labels.push(label ? 1 : 0);
    }
    await onPage(out.ids.length, total);
    if (rows.length < PAGE_SIZE) break;
  }
  out.labels = Uint8Array.from(labels);
  return out;
}

function group<R extends { contact_id: number }, V>(rows: readonly R[], value: (r: R) => V): Map<number, V[]> {
  const m = new Map<number, V[]>();
  for (const r of rows) {
    const list = m.get(r.contact_id);
    if (list) list.push(value(r));
    else m.set(r.contact_id, [value(r)]);
  }
  return m;
}
