/**
 * Contact import API (`/api/imports`): create with a mapping, stage rows in chunks, dry run,
 * apply all-or-nothing, roll back. The browser parses the file; the worker decides.
 */
import { z } from 'zod';
import { CONTACT_KINDS, type ContactKind } from '../domain';
import { IMPORT_FIELDS } from '../import/fields';
import type { MappingProblem, MisalignedColumn, Rejection } from '../import/validate';

/** Rows per `POST /api/imports/:id/rows` (the body must also stay under 1 MiB). */
export const IMPORT_CHUNK_ROWS = 2000;
/** Rows in one import. */
export const IMPORT_MAX_ROWS = 200_000;
export const IMPORT_MAX_COLUMNS = 60;
/**
 * Cells a staged row may carry: one past the widest file, so a ragged line (more cells than the
 * header) is staged and rejected as a row by the dry run (`extra_cells`); the browser cuts longer ones.
 */
export const IMPORT_MAX_CELLS = IMPORT_MAX_COLUMNS + 1;
/** Distinct tags one import may add: each is a few statements of the one apply batch. */
export const IMPORT_MAX_TAGS = 100;
/** Rejections listed in a dry-run report (the counts are always complete). */
export const REPORT_MAX_REJECTIONS = 1000;

export const IMPORT_STATUSES = ['staging', 'checked', 'applied', 'rolled_back'] as const;
export type ImportStatus = (typeof IMPORT_STATUSES)[number];

const mappingSchema = z.array(z.enum(IMPORT_FIELDS).nullable()).min(1).max(IMPORT_MAX_COLUMNS);

export const createImportBody = z
  .object({
    fileName: z.string().trim().min(1).max(255),
    headers: z.array(z.string().max(200)).min(1).max(IMPORT_MAX_COLUMNS),
    mapping: mappingSchema,
    /** Kind of contacts the file creates when it has no 类型 column (or the cell is empty). */
    defaultKind: z.enum(CONTACT_KINDS).default('wecom_customer'),
    /** Department of the contacts the file creates (null: none, visible to super admins only). */
    departmentId: z.number().int().positive().nullable().default(null),
  })
  .strict()
  .refine((b) => b.mapping.length === b.headers.length, { message: 'mapping must have one entry per header', path: ['mapping'] });
export type CreateImportBody = z.input<typeof createImportBody>;

export const importRowsBody = z
  .object({
    rows: z
      .array(
        z
          .object({
            /** Spreadsheet row number (the header is row 1). */
            row: z.number().int().min(2).max(10_000_000),
            cells: z.array(z.string().max(2000)).max(IMPORT_MAX_CELLS),
          })
          .strict(),
      )
      .min(1)
      .max(IMPORT_CHUNK_ROWS),
  })
  .strict();
export type ImportRowsBody = z.infer<typeof importRowsBody>;

export const dryRunBody = z
  .object({
    /** A corrected mapping (e.g. after a misaligned column); the stored one otherwise. */
    mapping: mappingSchema.optional(),
  })
  .strict();
export type DryRunBody = z.infer<typeof dryRunBody>;

export interface ImportCounts {
  total: number;
  new: number;
  updated: number;
  unchanged: number;
  rejected: number;
}

/** What the dry run found; apply writes exactly the new and updated rows of it. */
export interface DryRunReport {
  importId: string;
  status: ImportStatus;
  /** The file is refused as a whole while these are non-empty: fix the mapping and run again. */
  mappingProblems: MappingProblem[];
  misaligned: MisalignedColumn[];
  counts: ImportCounts;
  /** The first {@link REPORT_MAX_REJECTIONS} rejections by row; `counts.rejected` counts rows. */
  rejections: Rejection[];
  /** Distinct tags the import adds. */
  tagCount: number;
}

export interface ImportSummary {
  id: string;
  status: ImportStatus;
  fileName: string;
  headers: string[];
  mapping: (string | null)[];
  defaultKind: ContactKind;
  departmentId: number | null;
  rowCount: number;
  counts: ImportCounts | null;
  createdAt: number;
  appliedAt: number | null;
  rolledBackAt: number | null;
}

export interface ImportStageResult {
  importId: string;
  staged: number;
  rowCount: number;
}

export interface ImportApplyResult {
  importId: string;
  status: ImportStatus;
  counts: ImportCounts;
  /** Tag additions written to the ledger (exclusive siblings displaced are extra 'remove' rows). */
  tagsAdded: number;
}

export interface ImportRollbackResult {
  importId: string;
  status: ImportStatus;
  /** the `rollbacks` row this wrote (kind 'import'): listed on the rollback screen; it cannot be undone */
  rollbackId: number;
  contactsDeleted: number;
  contactsRestored: number;
  tagChangesReverted: number;
}
