import { z } from 'zod';
import { CONTACT_KINDS, type ContactKind, type Gender, type Device } from '../domain';
import { idParam, pagingQuery } from './common';

export const CONTACT_SORTS = ['last_active', 'spend', 'name', 'created'] as const;
export type ContactSort = (typeof CONTACT_SORTS)[number];

/** `GET /api/contacts` query. Unknown parameters are refused, so a typo never silently widens a list. */
export const contactListQuery = z
  .object({
    ...pagingQuery,
    q: z.string().trim().max(100, 'must be at most 100 characters').optional(),
    tagId: idParam.optional(),
    kind: z.enum(CONTACT_KINDS).optional(),
    departmentId: idParam.optional(),
    sort: z.enum(CONTACT_SORTS).default('last_active'),
  })
  .strict();
export type ContactListQuery = z.output<typeof contactListQuery>;

/** A tag as shown on a contact (a chip). */
export interface TagChip {
  id: number;
  name: string;
  color: string;
  groupId: number;
  groupName: string;
}

export interface ContactSummary {
  id: number;
  kind: ContactKind;
  externalId: string;
  name: string;
  remark: string | null;
  gender: Gender;
  region: string | null;
  city: string | null;
  company: string | null;
  occupation: string | null;
  device: Device | null;
  sourceChannel: string | null;
  department: { id: number; name: string } | null;
  createdAt: number;
  lastActiveAt: number | null;
  messageCount: number;
  purchaseCount: number;
  /** fen */
  totalSpend: number;
  tags: TagChip[];
}
