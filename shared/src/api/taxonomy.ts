/**
 * The taxonomy API (`/api/taxonomy/…`): tag groups and tags created, edited, retired, restored
 * and merged, with naming rules, near-duplicate warnings and limits; and the contact detail
 * endpoints (`/api/contacts/:id/…`): attributes, tag and event timelines, manual tag edits.
 *
 * Bodies are strict zod schemas (an unknown field is a 400 naming it); unknown ids in the path
 * are 404, unknown ids in a body 400 `unknown_reference`; state conflicts (limits, exclusive
 * groups, rules still using a tag, near-duplicates not acknowledged) are 409 with `details`.
 */
import { z } from 'zod';
import type { TagStatus, TagSource, EventType, Role } from '../domain';
import { type MAX_TAG_LEVEL, ROLES } from '../domain';
import type { DuplicateReason, NameProblem } from '../tags';
import type { TagChip, ContactSummary } from './contacts';
import { confirmField, idParam, intParam, pagingQuery, type Page } from './common';

const name = z.string().trim().min(1, 'must not be empty').max(30, 'must be at most 30 characters');
const description = z.string().trim().max(200, 'must be at most 200 characters').nullable();
const color = z.string().regex(/^#[0-9a-fA-F]{6}$/, 'must be a colour like #409eff');
const id = z.number().int('must be a whole number').positive('must be a positive id');

export const idPath = z.object({ id: idParam }).strict();

/** `POST /api/taxonomy/groups` → 201 `TaxonomyGroup`. 409 when the name is taken. */
export const createGroupBody = z
  .object({
    name,
    description: description.optional(),
    color: color.optional(),
    exclusive: z.boolean().optional(),
    /** per-group tag limit; null = the configured default */
    maxTags: z.number().int().min(1).max(10_000).nullable().optional(),
    /** owning department (null: company-wide); a department admin's groups belong to their subtree */
    departmentId: id.nullable().optional(),
    /** least role that may apply the group's tags by hand / edit the group */
    applyRole: z.enum(ROLES).optional(),
    editRole: z.enum(['dept_admin', 'super_admin']).optional(),
  })
  .strict();
export type CreateGroupBody = z.output<typeof createGroupBody>;

/**
 * `PATCH /api/taxonomy/groups/:id` → 200 `TaxonomyGroup`. Making a group exclusive is a 409
 * while contacts hold more than one of its tags (the count is in the message and details).
 */
export const updateGroupBody = createGroupBody.partial().strict();
export type UpdateGroupBody = z.output<typeof updateGroupBody>;

/**
 * `POST /api/taxonomy/tags/check`: what creating or renaming to `name` would meet, answered
 * while the user types. Never writes.
 */
export const checkTagNameBody = z
  .object({
    name: z.string().max(100, 'must be at most 100 characters'),
    groupId: id.optional(),
    /** the tag being renamed, left out of the comparison */
    excludeTagId: id.optional(),
  })
  .strict();
export type CheckTagNameBody = z.output<typeof checkTagNameBody>;

/** An existing tag that looks like the proposed name, and why: use it instead. */
export interface DuplicateWarning {
  tag: { id: number; name: string; groupId: number; groupName: string; status: TagStatus; holders: number };
  reason: DuplicateReason;
}

export interface CheckTagNameResponse {
  /** problems that block the name (naming rules, the group's template) */
  problems: NameProblem[];
  /** near-duplicates: a warning; creating anyway needs `allowDuplicate: true` */
  duplicates: DuplicateWarning[];
}

/**
 * `POST /api/taxonomy/tags` → 201 `TaxonomyTag`. 400 on naming problems (details name them),
 * 409 `conflict` with `details` when near-duplicates exist and `allowDuplicate` is not true, when
 * the name exists in the group, or when a limit (per group, total) is reached.
 */
export const createTagBody = z
  .object({
    groupId: id,
    parentId: id.nullable().optional(),
    name,
    description: description.optional(),
    color: color.nullable().optional(),
    allowDuplicate: z.boolean().optional(),
  })
  .strict();
export type CreateTagBody = z.output<typeof createTagBody>;

/**
 * `PATCH /api/taxonomy/tags/:id` → 200 `TaxonomyTag`: rename (same checks as create), move
 * under another parent of the same group (`null` = top level; the subtree must stay within
 * three levels and never under itself), colour, description.
 */
export const updateTagBody = z
  .object({
    name: name.optional(),
    parentId: id.nullable().optional(),
    description: description.optional(),
    color: color.nullable().optional(),
    allowDuplicate: z.boolean().optional(),
  })
  .strict();
export type UpdateTagBody = z.output<typeof updateTagBody>;

/** `POST /api/taxonomy/tags/:id/merge`: move holders to `intoTagId`, rewrite rules, retire this tag. */
export const mergeTagBody = z.object({ intoTagId: id, confirm: confirmField }).strict();
export type MergeTagBody = z.output<typeof mergeTagBody>;

/** Bodies of `restore` and other actions that take nothing: nothing, strictly. */
export const emptyBody = z.object({}).strict();

/** `retire`: confirmed with the number of holders when contacts hold the tag. */
export const retireTagBody = z.object({ confirm: confirmField }).strict();
export type RetireTagBody = z.output<typeof retireTagBody>;

export interface TaxonomyGroup {
  id: number;
  name: string;
  description: string | null;
  color: string;
  exclusive: boolean;
  maxTags: number | null;
  departmentId: number | null;
  applyRole: Role;
  editRole: Role;
  /** the group's naming template (`{部门}_{小组}`), from configuration; null = none */
  namingTemplate: string | null;
}

export interface TaxonomyTag {
  id: number;
  groupId: number;
  parentId: number | null;
  level: number;
  name: string;
  description: string | null;
  color: string | null;
  status: TagStatus;
  retiredAt: number | null;
  createdAt: number;
  lastAppliedAt: number | null;
}

/** `GET /api/taxonomy/config`: the limits and conventions the Tags page explains. */
export interface TaxonomyConfig {
  maxLevel: typeof MAX_TAG_LEVEL;
  perGroupLimit: number;
  totalLimit: number;
  totalTags: number;
  retirementIdleDays: number;
  /** group id → naming template */
  namingTemplates: Record<number, string>;
}

/** A rule that uses a tag: in its draft, in its published version, or both. */
export interface TagRuleUse {
  id: number;
  name: string;
  status: string;
  publishedVersion: number | null;
  inDraft: boolean;
  inPublished: boolean;
}

/**
 * `GET /api/taxonomy/tags/:id/usage`: what retiring or merging this tag would touch. Named only
 * within the caller's departments; what lies outside them is counted, never named. Retiring or
 * merging acts on every holder: `holders + holdersElsewhere`.
 */
export interface TagUsage {
  tag: TaxonomyTag;
  /** Contacts holding the tag that the caller may see. */
  holders: number;
  /** Contacts holding it outside the caller's departments (0 for a super admin). */
  holdersElsewhere: number;
  /** Rules the caller may see that use the tag. */
  rules: TagRuleUse[];
  /** Rules of other departments using it: how many in a published (or paused) version, how many only in a draft. */
  rulesElsewhere: { published: number; draftOnly: number };
  segments: { id: number; name: string }[];
  /** Segments of other departments using it. */
  segmentsElsewhere: number;
  /** active child tags (a parent is retired or merged after its children) */
  children: { id: number; name: string }[];
}

/** `POST /api/taxonomy/tags/:id/merge` → 200. */
export interface MergeResult {
  batchId: string;
  from: TaxonomyTag;
  into: TaxonomyTag;
  /** contacts that held the merged tag (each now holds the target) */
  movedHolders: number;
  rulesRewritten: { id: number; name: string; places: number }[];
  segmentsRewritten: { id: number; name: string; places: number }[];
}

/** `GET /api/taxonomy/retirement-proposals`: active tags not applied for the configured period. */
export interface RetirementProposal {
  tag: TaxonomyTag;
  groupName: string;
  holders: number;
  /** days since last applied (or created, if never applied) */
  idleDays: number;
}

// ---- contact detail ----

/** `GET /api/contacts/:id/detail`: everything the detail page shows above the timelines. */
export interface ContactDetail extends ContactSummary {
  owner: { id: number; name: string } | null;
  updatedAt: number;
  lastPurchaseAt: number | null;
  inviteCount: number;
  violationCount: number;
  /** custom attributes with their declared labels */
  custom: { key: string; labelZh: string; labelEn: string; value: unknown }[];
  hasPhone: boolean;
  hasIdNumber: boolean;
  /** The phone / ID number: in clear for super admins, masked (138****1234) for everyone else. */
  phone: string | null;
  idNumber: string | null;
  sensitiveMasked: boolean;
  /** saved segments the contact is in now */
  segments: { id: number; name: string }[];
}

/** `GET /api/contacts/:id/tag-timeline` and `/events` query. */
export const timelineQuery = z.object({ ...pagingQuery, pageSize: intParam(1, 100).default(50) }).strict();
export type TimelineQuery = z.output<typeof timelineQuery>;

/** One ledger row, newest first. */
export interface TagTimelineEntry {
  id: number;
  at: number;
  op: 'add' | 'remove';
  source: TagSource;
  tag: { id: number; name: string; color: string; status: TagStatus; groupName: string };
  rule: { id: number; name: string | null; version: number | null } | null;
  actorUserId: number | null;
  batchId: string | null;
}
export type TagTimelinePage = Page<TagTimelineEntry>;

export interface EventTimelineEntry {
  id: number;
  type: EventType;
  occurredAt: number;
  amount: number | null;
  channel: string | null;
  groupId: string | null;
  text: string | null;
}
/**
 * `GET /api/contacts/:id/events`: the events D1 holds, newest first. `archivedThrough`
 * (yyyy-mm-dd in TIMEZONE) says older days of this contact's range were moved to the archive
 * (R2); they are read on request with `GET /api/contacts/:id/events/archived`.
 */
export type EventTimelinePage = Page<EventTimelineEntry> & { archivedThrough: string | null };

/** Archived days read per request: one R2 object per day (see worker/src/archive/timeline.ts). */
export const ARCHIVED_DAYS_PER_PAGE = 30;

const isoDay = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'a date as yyyy-mm-dd')
  .refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)), 'not a calendar date');

/** `GET /api/contacts/:id/events/archived?before=yyyy-mm-dd`: archived days older than `before` (default: all). */
export const archivedEventsQuery = z.object({ before: isoDay.optional() }).strict();

/**
 * Up to {@link ARCHIVED_DAYS_PER_PAGE} archived days older than `before`, the contact's events
 * of them newest first; `nextBefore` asks for the days older still (null: none left).
 */
export interface ArchivedEventsPage {
  items: EventTimelineEntry[];
  daysRead: number;
  nextBefore: string | null;
}

/**
 * `POST /api/contacts/:id/tags`: add and remove tags by hand, in one batch through the tag
 * writer (source `manual`). 400 `unknown_reference` for unknown tag ids, 409 for a retired tag
 * or two tags of one exclusive group in `add`. → 200 `ManualTagResult`.
 */
export const manualTagsBody = z
  .object({
    add: z.array(id).max(50, 'at most 50 tags at once').default([]),
    remove: z.array(id).max(50, 'at most 50 tags at once').default([]),
  })
  .strict()
  .refine((b) => b.add.length + b.remove.length > 0, { message: 'add or remove at least one tag', path: ['add'] })
  .refine((b) => !b.add.some((t) => b.remove.includes(t)), { message: 'a tag cannot be added and removed at once', path: ['remove'] });
export type ManualTagsBody = z.output<typeof manualTagsBody>;

export interface ManualTagResult {
  tags: TagChip[];
  /** ledger rows written: adds, removes, and exclusive siblings removed */
  changes: { tagId: number; op: 'add' | 'remove' }[];
}
