/** An import as stored: its row, summary, status guards, staged cells sealed and opened, counts. */
import { ApiError } from '../errors';
import { openField, sealField, type FieldKeys } from '../crypto/fields';
import type { ImportCounts, ImportStatus, ImportSummary } from '@shared/api/imports';
import { ATTRIBUTE_FIELDS, type Rejection } from '@shared/import';
import type { ImportRow } from '../db/rows';

export type { ImportRow };

export async function requireImport(db: D1Database, id: string): Promise<ImportRow> {
  const row = await db.prepare('SELECT * FROM imports WHERE id = ?').bind(id).first<ImportRow>();
  if (!row) throw new ApiError(404, 'not_found', `No import with id ${id}`);
  return row;
}

export function summary(r: ImportRow): ImportSummary {
  return {
    id: r.id,
    status: r.status,
    fileName: r.file_name,
    headers: JSON.parse(r.headers),
    mapping: JSON.parse(r.mapping),
    defaultKind: r.default_kind,
    departmentId: r.department_id,
    rowCount: r.row_count,
    counts: r.counts ? JSON.parse(r.counts) : null,
    createdAt: r.created_at,
    appliedAt: r.applied_at,
    rolledBackAt: r.rolled_back_at,
  };
}

export function conflictUnless(imp: ImportRow, allowed: ImportStatus[], what: string) {
  if (!allowed.includes(imp.status)) {
    throw new ApiError(409, 'conflict', `Import ${imp.id} is ${imp.status}: cannot ${what}`, [
      { path: 'status', message: `is ${imp.status}` },
    ]);
  }
}

/** Raises inside a batch (rolling it back) unless the previous statement changed exactly one row. */
export const guardOne = (db: D1Database, marker: string) =>
  db.prepare(`SELECT CASE WHEN changes() = 1 THEN 1 ELSE json(?) END AS ok`).bind(`guard:${marker}`);

/** Bytes of JSON per bound parameter (D1 caps a bound value at 1 MB). */
export const CHUNK_BYTES = 400_000;
/** Staged rows read per query in the dry run. */
export const READ_PAGE = 10_000;
/** Rows whose verdicts (and sealed fields) are computed at once in the dry run. */
export const VERDICT_WINDOW = 1000;

export const utf8 = new TextEncoder();

export const ATTRS = Object.entries(ATTRIBUTE_FIELDS) as [keyof typeof ATTRIBUTE_FIELDS, string][];

/** SQL that is true when staged row `r` would change contact `c` (attributes, phone, or a tag not held). */
export const DIFFERS = `(${ATTRS.map(([f, col]) => `(r.data ->> '${f}' IS NOT NULL AND r.data ->> '${f}' IS NOT c.${col})`).join(' OR ')}
  OR (r.phone_hash IS NOT NULL AND r.phone_hash IS NOT c.phone_hash)
  OR (r.id_number_hash IS NOT NULL AND r.id_number_hash IS NOT c.id_number_hash)
  OR EXISTS (SELECT 1 FROM json_each(r.tag_ids) t
             WHERE NOT EXISTS (SELECT 1 FROM contact_tags ct WHERE ct.contact_id = c.id AND ct.tag_id = t.value)))`;

export const batchIdOf = (importId: string) => `import-${importId}`;

/**
 * Staged cells are sealed like the contacts' phone column (AES-256-GCM from FIELD_KEY): any
 * column of a file may hold phone or ID numbers, mapped or not, and the mapping can still change
 * at the dry run, so the whole row is sealed before D1 sees it. Rows staged before sealing (a
 * JSON array as text) are still read.
 */
export const sealCells = (keys: FieldKeys, cells: readonly string[]) => sealField(keys, JSON.stringify(cells));
export async function openCells(keys: FieldKeys, stored: string): Promise<string[]> {
  return JSON.parse(stored.startsWith('[') ? stored : await openField(keys, stored)) as string[];
}

/** A rejection as stored in `import_rows.rejections`: the offending cell's text sealed (`sv`), never in clear. */
export type StoredRejection = Omit<Rejection, 'value'> & { sv?: string };

export const sealRejections = (keys: FieldKeys, list: readonly Rejection[]): Promise<StoredRejection[]> =>
  Promise.all(list.map(async ({ value, ...rest }) => (value === undefined ? rest : { ...rest, sv: await sealField(keys, value) })));

/** The report's rejections: values opened for the super admin reading it (unreadable ones left out). */
export const openRejections = (keys: FieldKeys, list: readonly (StoredRejection & { value?: string })[]): Promise<Rejection[]> =>
  Promise.all(
    list.map(async ({ sv, ...rest }) => {
      if (sv === undefined) return rest;
      try {
        return { ...rest, value: await openField(keys, sv) };
      } catch {
        return rest;
      }
    }),
  );

export async function countsOf(db: D1Database, id: string): Promise<ImportCounts> {
  const { results } = await db
    .prepare('SELECT status, count(*) AS n FROM import_rows WHERE import_id = ? GROUP BY status')
    .bind(id)
    .all<{ status: string | null; n: number }>();
  const c: ImportCounts = { total: 0, new: 0, updated: 0, unchanged: 0, rejected: 0 };
  for (const r of results) {
    c.total += r.n;
    if (r.status === 'new' || r.status === 'updated' || r.status === 'unchanged' || r.status === 'rejected') c[r.status] += r.n;
  }
  return c;
}

// bulk writes over every department: super admins only
