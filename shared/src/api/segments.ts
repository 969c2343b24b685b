/**
 * The segments API: saved audiences drawn with the rule builder, without actions.
 *
 * A segment graph is a rule graph (`RuleGraph`, same node kinds and handles) with:
 * - one Start node: a `trigger` node of type `schedule` (it means "all contacts"; its `cron` is
 *   ignored for segments, send e.g. `"segment"`); an event trigger is refused;
 * - no `action` nodes;
 * - exactly one End node: a `logic` node (`or`, or `and`) with no outgoing edge. The audience is
 *   the contacts reaching it: for `or`, contacts arriving on any input (several edges into one
 *   node are OR-ed), for `and`, on every input.
 * Conditions, branches, scores and logic nodes in between work exactly as in rules; event-scoped
 * fields (`trigger.*`) are not allowed. Errors are pinned to node ids like the rules compiler's.
 *
 * Status codes as in `rules.ts`: 400 bad body / ids, 404 unknown segment. Saving a segment whose
 * graph does not compile is allowed (a draft audience); its `errors` say what to fix and its
 * `size` is null.
 */
import { z } from 'zod';
import type { RuleError } from '../rules/errors';
import type { JsonLogic, RuleGraph } from '../rules/types';
import type { ContactSummary } from './contacts';
import { pagingQuery, type Page } from './common';
import { graphInput, nameSchema } from './rules';
import { EXPORT_FORMATS, EXPORT_LOCALES } from './exports';

/** `GET /api/segments` query. */
export const segmentListQuery = z
  .object({
    ...pagingQuery,
    q: z.string().trim().max(100, 'must be at most 100 characters').optional(),
  })
  .strict();
export type SegmentListQuery = z.output<typeof segmentListQuery>;

/** One saved audience in the list. */
export interface SegmentListItem {
  id: number;
  name: string;
  description: string | null;
  /**
   * Contacts in the audience now, counted at request time (one COUNT per segment on the page);
   * null when the graph does not compile.
   */
  size: number | null;
  /** The graph compiles (false = a draft audience with `errors` on its detail). */
  valid: boolean;
  createdAt: number;
  updatedAt: number;
}

/** `GET /api/segments` → `Page<SegmentListItem>`, most recently updated first; `sizeMs` = time spent counting. */
export type SegmentListResponse = Page<SegmentListItem> & { sizeMs: number };

/** `GET /api/segments/:id`, and the answer of create / update. */
export interface SegmentDetail extends SegmentListItem {
  graph: RuleGraph;
  /** The audience as one JSON Logic predicate over a contact (null when the graph does not compile). */
  logic: JsonLogic | null;
  errors: RuleError[];
}

/** `POST /api/segments` → 201 `SegmentDetail`. */
export const createSegmentBody = z
  .object({
    name: nameSchema,
    description: z.string().trim().max(1000).nullable().optional(),
    graph: graphInput,
    /** owning department; default the creator's (super admins: company-wide) */
    departmentId: z.number().int().positive().nullable().optional(),
  })
  .strict();
export type CreateSegmentBody = z.output<typeof createSegmentBody>;

/** `PUT /api/segments/:id` → 200 `SegmentDetail`: any of name, description, graph. */
export const updateSegmentBody = z
  .object({
    name: nameSchema.optional(),
    description: z.string().trim().max(1000).nullable().optional(),
    graph: graphInput.optional(),
  })
  .strict();
export type UpdateSegmentBody = z.output<typeof updateSegmentBody>;

/** `DELETE /api/segments/:id` → 204 (its daily snapshots go with it). */
export type DeleteSegmentResponse = void;

/** `POST /api/segments/preview` → 200 `SegmentPreviewResponse`: size, per-node counts and a sample. */
export const segmentPreviewBody = z
  .object({
    graph: graphInput,
    /** Sample contacts to return, default 20, 0 for none. */
    sampleSize: z.number().int().min(0).max(100).optional(),
    /** The segment being edited, if saved: a condition naming it (or a segment that names it) is a cycle. */
    segmentId: z.number().int().positive().optional(),
  })
  .strict();
export type SegmentPreviewBody = z.output<typeof segmentPreviewBody>;

/** `POST /api/segments/preview` response (always 200 once the body passes its schema). */
export type SegmentPreviewResponse =
  | {
      ok: true;
      /** All contacts. */
      total: number;
      /** Contacts in the audience (reaching the End node). */
      size: number;
      /** Contacts reaching each node. */
      nodes: Record<string, number>;
      /** Contacts flowing along each edge, per edge id. */
      edges: Record<string, number>;
      /** Audience members, lowest ids first, as `GET /api/contacts` shows them. */
      sample: ContactSummary[];
      logic: JsonLogic;
      tookMs: number;
    }
  | { ok: false; errors: RuleError[] };

/** Days of size history a segment page shows (the demo keeps 90, as the home). */
export const SEGMENT_HISTORY_DAYS = 90;

/**
 * `GET /api/segments/:id/history`: the segment's daily size from the cron's snapshots, the
 * viewer's share of it (super admins: the total; others: the sum over their department
 * subtree's rows), oldest day first. `sizes[i]` is the size on `days[i]` (a local day number,
 * shared/src/time.ts), null where no snapshot was recorded (never "zero").
 */
export interface SegmentHistoryResponse {
  segmentId: number;
  days: number[];
  sizes: (number | null)[];
  tzOffsetMinutes: number;
}

/** `GET /api/segments/:id/overlap?with=` query: the other segment. */
export const segmentOverlapQuery = z
  .object({ with: z.coerce.number({ message: 'must be a segment id' }).int().positive('must be a segment id') })
  .strict();
export type SegmentOverlapQuery = z.output<typeof segmentOverlapQuery>;

/**
 * How two segments overlap, among the contacts the viewer may see, counted now in one pass with
 * each segment's own predicate (the WHERE its size is counted with): `a` and `b` their sizes,
 * `both` in both, `either` in at least one, `onlyA` / `onlyB` in one and not the other.
 */
export interface SegmentOverlapResponse {
  a: { id: number; name: string; size: number };
  b: { id: number; name: string; size: number };
  both: number;
  either: number;
  onlyA: number;
  onlyB: number;
  tookMs: number;
}

/**
 * `POST /api/segments/:id/export`: the segment's contacts the viewer may see, as a file
 * (`csv`: UTF-8 with BOM; `xlsx`: one sheet), headers and fixed-set values (kind, gender,
 * device) in `locale`; phone and ID number only for roles that see them in clear. Audited
 * (`contact.export` on the segment, with the format and the row count); the row count is also
 * in the `X-Export-Rows` header. 404 unknown segment, 409 a segment that does not compile.
 */
export const segmentExportBody = z
  .object({
    format: z.enum(EXPORT_FORMATS),
    locale: z.enum(EXPORT_LOCALES).default('zh-CN'),
  })
  .strict();
export type SegmentExportBody = z.input<typeof segmentExportBody>;
