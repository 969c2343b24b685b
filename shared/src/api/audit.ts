import { z } from 'zod';
import { idParam, intParam, pagingQuery, type Page } from './common';

/** Object types an audit entry may be about (worker/src/audit.ts `AuditEntry.objectType`). */
export const AUDIT_OBJECT_TYPES = [
  'rule',
  'segment',
  'tag',
  'tag_group',
  'contact',
  'user',
  'session',
  'department',
  'event_source',
  'rollback',
  'import',
  'system',
] as const;
export type AuditObjectType = (typeof AUDIT_OBJECT_TYPES)[number];

const time = intParam(0, 8_640_000_000_000_000);

/**
 * `GET /api/audit` (super admins) → `Page<AuditListItem>`, newest first. `action` is a prefix
 * (`user.` or `user.create`), `q` a substring of the summary, `from` / `to` epoch ms (inclusive
 * / exclusive).
 */
export const auditListQuery = z
  .object({
    ...pagingQuery,
    actorUserId: idParam.optional(),
    action: z
      .string()
      .trim()
      .max(60, 'must be at most 60 characters')
      .regex(/^[a-z_.]*$/, 'must be lowercase letters, "_" and "."')
      .optional(),
    objectType: z.enum(AUDIT_OBJECT_TYPES).optional(),
    objectId: z.string().trim().min(1).max(100, 'must be at most 100 characters').optional(),
    from: time.optional(),
    to: time.optional(),
    q: z.string().trim().max(100, 'must be at most 100 characters').optional(),
  })
  .strict()
  .refine((q) => q.from === undefined || q.to === undefined || q.from < q.to, { message: 'must be before to', path: ['from'] });
export type AuditListQuery = z.output<typeof auditListQuery>;

export interface AuditActor {
  id: number;
  name: string;
  email: string;
}

/** One entry as the list shows it (no before / after: those are in the detail). */
export interface AuditListItem {
  id: number;
  at: number;
  /** null: the system (cron, webhooks), or a user since deleted (`actorUserId` kept). */
  actor: AuditActor | null;
  actorUserId: number | null;
  /** "From where": the client address of the request, null for the system. */
  ip: string | null;
  action: string;
  objectType: string;
  objectId: string | null;
  summary: string | null;
}

/** `retentionDays`: entries older than this are purged (`AUDIT_RETENTION_DAYS`). */
export type AuditListResponse = Page<AuditListItem> & { retentionDays: number };

/** `GET /api/audit/:id`: the entry with its before / after states (parsed JSON, null when none). */
export interface AuditDetail extends AuditListItem {
  before: unknown;
  after: unknown;
}
