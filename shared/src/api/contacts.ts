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
    /** Contacts this user (their 负责人) looks after. */
    ownerUserId: idParam.optional(),
    sort: z.enum(CONTACT_SORTS).default('last_active'),
  })
  .strict();
export type ContactListQuery = z.output<typeof contactListQuery>;

/**
 * Searching contacts by a phone number (an exact match on the sealed phone) by someone who sees
 * phones masked (138****1234): each different number searched is audited, and at most this many
 * different numbers are answered per user, so a masked number cannot be completed by trying the
 * 10,000 candidates. The same number again within a day costs nothing. Over a limit: 429.
 */
export const PHONE_SEARCH_LIMITS = {
  /** different numbers in any 60 minutes */
  perHour: 20,
  /** different numbers in any 24 hours */
  perDay: 60,
  /** different numbers sharing one masked form (the first 3 and last 4 digits) in any 24 hours */
  perMaskPerDay: 3,
} as const;

/**
 * `GET /api/contacts/owners?q=`: the people contacts can be filtered by (负责人), found by name
 * the way people type it (pinyin, initials, characters; worker/src/search/keys.ts). Super admins
 * see everyone, others the people of their own department subtree; at most 20, by name →
 * `{ items: OwnerOption[] }`.
 */
export const ownerLookupQuery = z
  .object({
    q: z.string().trim().max(50, 'must be at most 50 characters').optional(),
    /** One person by id (a picker restoring its choice from the URL). */
    id: idParam.optional(),
  })
  .strict();

/** One person an owner picker offers. */
export interface OwnerOption {
  id: number;
  name: string;
  departmentName: string | null;
}

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
  /** The staff member who looks after the contact (负责人). */
  owner: { id: number; name: string } | null;
  createdAt: number;
  lastActiveAt: number | null;
  messageCount: number;
  purchaseCount: number;
  /** fen */
  totalSpend: number;
  tags: TagChip[];
}
