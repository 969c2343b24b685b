/**
 * Contact export (`POST /api/exports/contacts`): the Contacts screen's filter, or a segment, as
 * CSV or XLSX. A segment page exports through `POST /api/segments/:id/export` (shared/src/api/segments.ts).
 */
import { z } from 'zod';
import { CONTACT_KINDS } from '../domain';

/** File formats of a contact export. */
export const EXPORT_FORMATS = ['csv', 'xlsx'] as const;
/** Languages of a contact export's header and values. */
export const EXPORT_LOCALES = ['zh-CN', 'en'] as const;

export const exportContactsBody = z
  .object({
    /** The Contacts list filter (same meaning as `GET /api/contacts`); omitted = every contact. */
    filter: z
      .object({
        q: z.string().trim().max(100).optional(),
        kind: z.enum(CONTACT_KINDS).optional(),
        tagId: z.number().int().positive().optional(),
        departmentId: z.number().int().positive().optional(),
        ownerUserId: z.number().int().positive().optional(),
      })
      .strict()
      .optional(),
    /** A saved segment's audience instead of a filter. */
    segmentId: z.number().int().positive().optional(),
    /** Language of the header row and of fixed-set values (kind, gender, device). */
    locale: z.enum(EXPORT_LOCALES).default('zh-CN'),
    format: z.enum(EXPORT_FORMATS).default('csv'),
  })
  .strict()
  .refine((b) => !(b.filter && b.segmentId !== undefined), { message: 'give a filter or a segmentId, not both', path: ['segmentId'] });
export type ExportContactsBody = z.input<typeof exportContactsBody>;

/** Response header with the number of contacts in the file (counted when the export started). */
export const EXPORT_COUNT_HEADER = 'X-Export-Rows';
