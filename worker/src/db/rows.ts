/**
 * Row types of every table, derived from the drizzle schema (./schema.ts) in this one place, for
 * the SQL the worker writes by hand (`db.prepare`).
 *
 * Hand-written SQL gets rows keyed by column name (`parent_id`) holding SQLite's stored values;
 * drizzle's `$inferSelect` is keyed by property (`parentId`) with the column modes applied. So a
 * row here is drizzle's model with `dbColumnNames` and a boolean-mode column as the 0 / 1 SQLite
 * stores. A partial select is a `Pick<…>` of one of these; computed columns are added beside it.
 *
 * D1 does not check rows against a type: `.first<Row>()`, `.all<Row>()` and {@link batch} trust
 * the SQL they run, as drizzle's own builder does. That trust lives in these generics, not in
 * casts scattered over the callers.
 */
import type { InferSelectModel, Table } from 'drizzle-orm';
import type * as schema from './schema';

/** A column value as SQLite stores it: booleans are 0 / 1. */
type Stored<V> = V extends boolean ? number : V;

/** The row hand-written SQL reads from `T`: column names, stored values. */
export type RawRow<T extends Table> = {
  [K in keyof InferSelectModel<T, { dbColumnNames: true }>]: Stored<InferSelectModel<T, { dbColumnNames: true }>[K]>;
};

export type DepartmentRow = RawRow<typeof schema.departments>;
export type UserRow = RawRow<typeof schema.users>;
export type SessionRow = RawRow<typeof schema.sessions>;
export type LoginAttemptRow = RawRow<typeof schema.loginAttempts>;
export type ContactRow = RawRow<typeof schema.contacts>;
export type CustomFieldRow = RawRow<typeof schema.customFields>;
export type EventSourceRow = RawRow<typeof schema.eventSources>;
export type DestinationRow = RawRow<typeof schema.destinations>;
export type DeliveryRow = RawRow<typeof schema.deliveries>;
/** A row of `events` (named apart from the evaluators' `EventRow`, which is the same event in their shape). */
export type ContactEventRow = RawRow<typeof schema.events>;
export type ContactDailyStatRow = RawRow<typeof schema.contactDailyStats>;
export type TagGroupRow = RawRow<typeof schema.tagGroups>;
export type TagRow = RawRow<typeof schema.tags>;
export type ContactTagRow = RawRow<typeof schema.contactTags>;
export type TagLedgerRow = RawRow<typeof schema.tagLedger>;
export type RuleRow = RawRow<typeof schema.rules>;
export type RuleVersionRow = RawRow<typeof schema.ruleVersions>;
export type SegmentRow = RawRow<typeof schema.segments>;
export type SegmentSnapshotRow = RawRow<typeof schema.segmentSnapshots>;
export type RollbackRow = RawRow<typeof schema.rollbacks>;
export type AuditLogRow = RawRow<typeof schema.auditLog>;
export type SecurityEventRow = RawRow<typeof schema.securityEvents>;
export type ImportRow = RawRow<typeof schema.imports>;
export type ImportRowRow = RawRow<typeof schema.importRows>;

/** `SELECT count(*) AS n …` */
export interface CountRow {
  n: number;
}

/** A prepared statement that carries the type of the rows it reads (see {@link typed}). */
export type Typed<Row> = D1PreparedStatement & { readonly __row?: Row };

/** Marks a statement with the rows it reads, for {@link batch}. Costs nothing at run time. */
export const typed = <Row>(statement: D1PreparedStatement): Typed<Row> => statement;

/** The results of a batch of `S`, each typed by its statement. */
export type Results<S extends readonly D1PreparedStatement[]> = { [K in keyof S]: D1Result<RowOf<S[K]>> };

type RowOf<S> = S extends Typed<infer Row> ? Row : never;

/**
 * `db.batch` (one transaction, one round trip) with each result typed by its statement: a
 * {@link typed} statement gives its rows, any other statement `unknown` ones.
 */
export function batch<const S extends readonly D1PreparedStatement[]>(db: D1Database, statements: S): Promise<Results<S>>;
export function batch(db: D1Database, statements: readonly D1PreparedStatement[]): Promise<D1Result[]> {
  return db.batch([...statements]);
}

/**
 * One batch of `writes` followed by `reads` (which see the writes), answering the reads' results
 * only, typed as {@link batch} types them.
 */
export async function writeThenRead<const S extends readonly D1PreparedStatement[]>(
  db: D1Database,
  writes: readonly D1PreparedStatement[],
  reads: S,
): Promise<Results<S>>;
export async function writeThenRead(db: D1Database, writes: readonly D1PreparedStatement[], reads: readonly D1PreparedStatement[]) {
  return (await db.batch([...writes, ...reads])).slice(writes.length);
}

/**
 * The results of `statements` when another caller's batch ran them (group commit runs a pass's
 * reads after the previous pass's writes), typed as {@link batch} types them.
 */
export function resultsOf<const S extends readonly D1PreparedStatement[]>(statements: S, results: readonly D1Result[]): Results<S>;
export function resultsOf(statements: readonly D1PreparedStatement[], results: readonly D1Result[]): readonly D1Result[] {
  if (results.length !== statements.length) throw new Error(`${results.length} results for ${statements.length} statements`);
  return results;
}
export type IntakeDeadLetterRow = RawRow<typeof schema.intakeDeadLetters>;
export type AlertRuleRow = RawRow<typeof schema.alertRules>;
export type AlertRow = RawRow<typeof schema.alerts>;
export type RuleSuggestionRow = RawRow<typeof schema.ruleSuggestions>;
