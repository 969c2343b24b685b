/**
 * The template gallery (`/api/templates`): which rule templates exist, what tags each needs and
 * which of them the workspace already has; and making a draft rule from one.
 */
import { z } from 'zod';
import type { DuplicateReason } from '../tags';
import type { TemplateId } from '../templates/templates';
import type { RuleDetail } from './rules';
import { nameSchema } from './rules';

/** One tag a template needs, and whether its group already has it (by exact name). */
export interface TemplateTagInfo {
  key: string;
  group: string;
  name: string;
  /** the tag's id when its group holds an active tag of this name */
  existingId: number | null;
}

/** `GET /api/templates` → `TemplateInfo[]`, in gallery order. */
export interface TemplateInfo {
  id: TemplateId;
  trigger: 'schedule' | 'event';
  /** adds notify actions when a notify destination exists */
  usesOutbound: boolean;
  /** whether a notify destination exists now (the graph will tell the contact's owner) */
  outboundAvailable: boolean;
  seed: string;
  tags: TemplateTagInfo[];
}

/** `POST /api/templates/:id/instantiate` path. */
export const templatePath = z.object({ id: z.string().min(1).max(40) }).strict();

/**
 * `POST /api/templates/:id/instantiate` → 201 `InstantiateResponse`: a draft rule with the
 * template's graph, its missing tags (and groups) created in the same batch. 404 for an unknown
 * template; 403 when the caller may not create rules, create the missing tags or apply the tags
 * (rights as for creating a rule); 409 when a tag limit is reached or a needed tag is retired.
 */
export const instantiateBody = z
  .object({
    /** the rule's name (the gallery sends the template's name in the viewer's language) */
    name: nameSchema,
    description: z.string().trim().max(1000, 'must be at most 1000 characters').nullable().optional(),
    /** owning department, as for `POST /api/rules` */
    departmentId: z.number().int().positive().nullable().optional(),
  })
  .strict();
export type InstantiateBody = z.output<typeof instantiateBody>;

/** How each tag of the template was resolved. */
export interface TemplateTagOutcome {
  key: string;
  id: number;
  name: string;
  group: string;
  /**
   * `created` — a new tag; `existing` — the group's tag of this exact name; `near_duplicate` — a
   * tag of the group that looks the same (`reason`), used instead of making a near-copy.
   */
  outcome: 'created' | 'existing' | 'near_duplicate';
  /** the name the template asked for, when a near-duplicate was used instead */
  wanted?: string;
  reason?: DuplicateReason;
}

/** A created tag that looks like a tag of another group (kept apart: the template's group decides exclusivity). */
export interface TemplateDuplicateNote {
  created: string;
  similar: { id: number; name: string; group: string };
  reason: DuplicateReason;
}

export interface InstantiateResponse {
  rule: RuleDetail;
  tags: TemplateTagOutcome[];
  /** groups created for the template, by name */
  groupsCreated: string[];
  nearDuplicates: TemplateDuplicateNote[];
}
