/** Contact export (`POST /api/exports/contacts`): the Contacts screen's filter, or a segment, as CSV. */
import { z } from 'zod';
import { CONTACT_KINDS } from '../domain';

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
    /** Language of the header row. */
    locale: z.enum(['zh-CN', 'en']).default('zh-CN'),
  })
  .strict()
  .refine((b) => !(b.filter && b.segmentId !== undefined), { message: 'give a filter or a segmentId, not both', path: ['segmentId'] });
export type ExportContactsBody = z.input<typeof exportContactsBody>;

/** Response header with the number of contacts in the file (counted when the export started). */
export const EXPORT_COUNT_HEADER = 'X-Export-Rows';
