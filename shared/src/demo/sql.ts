/**
 * Turns the generated demo rows into plain SQL text: multi-row INSERTs with inline literals.
 * No bound parameters, because `wrangler d1 execute --file`, `D1Database.exec` and the seed
 * loader all take SQL text, and D1 caps bound parameters at 100 per statement.
 */
import { generateDemo } from './generate';
import type {
  ContactRow,
  ContactTagRow,
  CustomFieldRow,
  DailyStatRow,
  DemoOptions,
  DepartmentRow,
  EventRow,
  EventSourceRow,
  TagGroupRow,
  TagLedgerRow,
  TagRow,
  UserRow,
} from './types';

/** A SQL literal: strings quoted with single quotes doubled, integers as digits, null as NULL. */
export function sqlLiteral(value: string | number | null): string {
  if (value === null) return 'NULL';
  if (typeof value === 'number') {
    // Non-integers never occur in the demo; refusing them keeps "1e21" or "NaN" out of SQL.
    if (!Number.isSafeInteger(value)) throw new RangeError(`not a safe integer: ${value}`);
    return String(value);
  }
  return `'${value.replaceAll("'", "''")}'`;
}

type Columns<R> = readonly (keyof R & string)[];

const COLUMNS = {
  departments: ['id', 'name', 'parent_id', 'path', 'created_at'] satisfies Columns<DepartmentRow>,
  users: [
    'id',
    'email',
    'name',
    'role',
    'department_id',
    'password_hash',
    'password_salt',
    'disabled',
    'created_at',
    'last_login_at',
  ] satisfies Columns<UserRow>,
  event_sources: ['id', 'name', 'kind', 'secret', 'created_at', 'last_event_at', 'event_count'] satisfies Columns<EventSourceRow>,
  custom_fields: ['id', 'key', 'label_zh', 'label_en', 'type', 'created_at'] satisfies Columns<CustomFieldRow>,
  tag_groups: [
    'id',
    'name',
    'description',
    'color',
    'exclusive',
    'max_tags',
    'department_id',
    'apply_role',
    'edit_role',
    'sort_order',
    'created_at',
  ] satisfies Columns<TagGroupRow>,
  tags: [
    'id',
    'group_id',
    'parent_id',
    'level',
    'name',
    'description',
    'color',
    'status',
    'retired_at',
    'created_at',
    'last_applied_at',
  ] satisfies Columns<TagRow>,
  contacts: [
    'id',
    'kind',
    'external_id',
    'name',
    'remark',
    'gender',
    'region',
    'city',
    'occupation',
    'company',
    'device',
    'source_channel',
    'department_id',
    'owner_user_id',
    'custom',
    'bucket',
    'created_at',
    'updated_at',
    'last_active_at',
    'message_count',
    'purchase_count',
    'total_spend',
    'last_purchase_at',
    'invite_count',
    'violation_count',
  ] satisfies Columns<ContactRow>,
  events: [
    'id',
    'source_id',
    'sender_event_id',
    'contact_id',
    'type',
    'occurred_at',
    'received_at',
    'amount',
    'channel',
    'group_id',
    'text',
    'properties',
  ] satisfies Columns<EventRow>,
  contact_daily_stats: ['contact_id', 'type', 'day', 'count', 'amount'] satisfies Columns<DailyStatRow>,
  contact_tags: ['contact_id', 'tag_id', 'source', 'rule_id', 'rule_version', 'added_at'] satisfies Columns<ContactTagRow>,
  tag_ledger: [
    'id',
    'contact_id',
    'tag_id',
    'op',
    'source',
    'rule_id',
    'rule_version',
    'actor_user_id',
    'batch_id',
    'at',
  ] satisfies Columns<TagLedgerRow>,
} as const;

/** Tables the demo fills, in FK-safe insert order (delete in reverse). */
export const DEMO_TABLES = Object.keys(COLUMNS) as (keyof typeof COLUMNS)[];

/** Options of `demoSql` beyond the generator's. */
export interface DemoSqlOptions extends DemoOptions {
  /**
   * Upper bound on one statement's length in UTF-8 bytes; rows are packed until it is reached.
   * Default 100,000: D1, local and remote, refuses longer statements (SQLITE_TOOBIG).
   */
  maxStatementBytes?: number;
}

/** Length of `s` in UTF-8 bytes (what SQLite's statement limit counts), without allocating. */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // Surrogate pairs are 2 units → 4 bytes, so each unit counts 2 bytes: +1 here.
    if (c >= 0x80) n += c < 0x800 ? 1 : c >= 0xd800 && c < 0xe000 ? 1 : 2;
  }
  return n;
}

/** Default statement budget: D1's limit is 100,000 bytes; leave room for the trailing `;`. */
export const MAX_STATEMENT_BYTES = 99_000;

/**
 * Multi-row INSERT statements for `rows` (each ≤ `maxBytes` UTF-8 bytes unless a single row is longer).
 * Generic over the row type so the column list is checked against it.
 */
export function* insertStatements<R extends object>(
  table: string,
  columns: readonly (keyof R & string)[],
  rows: readonly R[],
  maxBytes = MAX_STATEMENT_BYTES,
): Generator<string, void, undefined> {
  const head = `INSERT INTO ${table} (${columns.join(', ')}) VALUES\n`;
  let parts: string[] = [];
  let size = utf8Length(head);
  for (const row of rows) {
    const rec = row as Record<string, string | number | null>;
    let tuple = '(';
    for (let i = 0; i < columns.length; i++) {
      if (i > 0) tuple += ', ';
      tuple += sqlLiteral(rec[columns[i] as string] ?? null);
    }
    tuple += ')';
    const bytes = utf8Length(tuple) + 2;
    if (parts.length > 0 && size + bytes > maxBytes) {
      yield `${head}${parts.join(',\n')};`;
      parts = [];
      size = utf8Length(head);
    }
    parts.push(tuple);
    size += bytes;
  }
  if (parts.length > 0) yield `${head}${parts.join(',\n')};`;
}

/**
 * The demo as SQL statements, in FK-safe order: organisation and catalog, then per batch of
 * contacts their rows, events, daily stats, tags and ledger, then the updates only known at
 * the end (`tags.last_applied_at`, the event source's counters). Streams: memory stays flat.
 */
export function* demoSql(options: DemoSqlOptions): Generator<string, void, undefined> {
  const max = options.maxStatementBytes ?? MAX_STATEMENT_BYTES;
  for (const part of generateDemo(options)) {
    if (part.kind === 'static') {
      const d = part.data;
      yield* insertStatements('departments', COLUMNS.departments, d.departments, max);
      yield* insertStatements('users', COLUMNS.users, d.users, max);
      yield* insertStatements('event_sources', COLUMNS.event_sources, d.eventSources, max);
      yield* insertStatements('custom_fields', COLUMNS.custom_fields, d.customFields, max);
      yield* insertStatements('tag_groups', COLUMNS.tag_groups, d.tagGroups, max);
      yield* insertStatements('tags', COLUMNS.tags, d.tags, max);
    } else if (part.kind === 'batch') {
      const b = part.data;
      yield* insertStatements('contacts', COLUMNS.contacts, b.contacts, max);
      yield* insertStatements('events', COLUMNS.events, b.events, max);
      yield* insertStatements('contact_daily_stats', COLUMNS.contact_daily_stats, b.dailyStats, max);
      yield* insertStatements('contact_tags', COLUMNS.contact_tags, b.contactTags, max);
      yield* insertStatements('tag_ledger', COLUMNS.tag_ledger, b.tagLedger, max);
    } else {
      for (const t of part.data.tags) {
        yield `UPDATE tags SET last_applied_at = ${sqlLiteral(t.last_applied_at)} WHERE id = ${sqlLiteral(t.id)};`;
      }
      const s = part.data.eventSource;
      yield `UPDATE event_sources SET last_event_at = ${sqlLiteral(s.last_event_at)}, event_count = ${sqlLiteral(s.event_count)} WHERE id = ${sqlLiteral(s.id)};`;
    }
  }
}
