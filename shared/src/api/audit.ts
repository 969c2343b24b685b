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
  'destination',
  'wecom_connection',
  'alert_rule',
  'alert',
  'rollback',
  'import',
  'system',
  'suggestion',
] as const;
export type AuditObjectType = (typeof AUDIT_OBJECT_TYPES)[number];

const time = intParam(0, 8_640_000_000_000_000);

/**
 * `GET /api/audit` (super admins) → `Page<AuditListItem>`, newest first. `action` is a prefix
 * (`user.` or `user.create`), `q` a substring of the summary or of a value in its params, `from` / `to` epoch ms (inclusive
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
  /** English sentence: what the screen shows when there is no template or no `params` (entries before 0007). */
  summary: string | null;
  /** The values of the action's sentence (`AuditParamsByAction`); null for entries written before they were stored. */
  params: AuditParams | null;
}

/** `retentionDays`: entries older than this are purged (`AUDIT_RETENTION_DAYS`). */
export type AuditListResponse = Page<AuditListItem> & { retentionDays: number };

/** `GET /api/audit/:id`: the entry with its before / after states (parsed JSON, null when none). */
export interface AuditDetail extends AuditListItem {
  before: unknown;
  after: unknown;
}

/** A value a summary sentence uses. Keys ending in `At` (and `at`) are epoch ms. */
export type AuditParamValue = string | number | boolean | null;

/** Rollback counts every `rollback.*` sentence states. */
interface RollbackCounts {
  add: number;
  remove: number;
  skipped: number;
}

/**
 * What each audit action's sentence is made of: the values stored in `audit_log.params`, which
 * the audit screen puts into the per-action templates of `web/src/locales/<locale>/audit.ts`
 * (`audit.summaries.<object>.<verb>`, or `.<variant>` under it when `variant` is set). An action
 * missing here cannot be written (worker/src/audit.ts takes `AuditAction`), and a call site that
 * leaves out a value of its sentence does not compile.
 */
export interface AuditParamsByAction {
  'audit.purge': { entries: number; days: number; importRows: number; abandonedImports: number };
  'session.login': { email: string };
  'session.logout': { email: string };
  'session.revoke': { email: string };
  'user.create': { email: string; role: string };
  'user.update': { variant: 'edit' | 'password'; email: string };
  'user.password': { email: string };
  'user.revoke_sessions': { email: string };
  'department.create': { variant: 'top'; name: string } | { variant: 'under'; name: string; parent: string };
  'department.rename': { from: string; to: string };
  'department.move':
    | { variant: 'top'; name: string }
    | { variant: 'under'; name: string; parent: string }
    | { variant: 'rename_top'; from: string; name: string }
    | { variant: 'rename_under'; from: string; name: string; parent: string };
  'event_source.create': { name: string; id: string; sourceKind: string };
  'event_source.rotate': { name: string; id: string; graceEndsAt: number };
  'event_source.revoke': { name: string; id: string };
  /** `url` without its query string (a receiver's key may be in it) */
  'destination.create': { name: string; destinationKind: string; url: string | null };
  'destination.rotate': { name: string };
  'destination.revoke': { name: string };
  'destination.test': { name: string; count: number };
  'destination.retry': { variant: 'one' | 'all'; name: string; count: number };
  /** an intake dead letter of the source sent back to the intake queue (`POST /api/intake/dead-letters/:id/requeue`) */
  'event_source.requeue': { id: string; letter: number; events: number };
  /** a WeCom corp connected, changed (`changed`: the fields sent, secrets by name only), tested, disconnected */
  'wecom_connection.create': { corpId: string };
  'wecom_connection.update': { corpId: string; changed: string };
  'wecom_connection.test': { variant: 'ok'; corpId: string } | { variant: 'failed'; corpId: string; errcodes: string };
  'wecom_connection.delete': { corpId: string };
  /** a backfill from WeCom started or resumed (`POST /api/wecom/connections/:id/sync[/resume]`) */
  'wecom_connection.sync': { corpId: string };
  /** pushes to WeCom run now (`POST …/push`), or failed ones sent again (`POST …/push/retry`) */
  'wecom_connection.push':
    | { variant: 'now'; corpId: string; count: number }
    | { variant: 'retry'; corpId: string; count: number }
    | { variant: 'retryOps'; corpId: string; count: number; tagOps: number };
  'contact.tags':
    | { variant: 'add'; contact: string; added: string }
    | { variant: 'remove'; contact: string; removed: string }
    | { variant: 'both'; contact: string; added: string; removed: string };
  /** `_xlsx` variants: the same export as an XLSX workbook (entries before XLSX existed are CSV and name no format) */
  'contact.export':
    { variant: 'filter' | 'filter_xlsx'; count: number } | { variant: 'segment' | 'segment_xlsx'; count: number; segment: string };
  /** a search by phone number by someone who sees phones masked (worker/src/crypto/phone-search.ts): the number masked */
  'contact.phone_search': { masked: string };
  'import.create': { file: string };
  'import.rows': { count: number; first: number; last: number };
  'import.dry_run':
    | { variant: 'checked'; file: string; new: number; updated: number; unchanged: number; rejected: number }
    | { variant: 'refused'; file: string; misaligned: number };
  'import.apply': { file: string; new: number; updated: number; unchanged: number; rejected: number };
  'rollback.to_time': ({ variant: 'all'; at: number } | { variant: 'contact'; at: number; contact: string; contactId: number }) &
    RollbackCounts;
  'rollback.rule_version': { rule: string; version: number } & RollbackCounts;
  'rollback.tag_restore': { tag: string } & RollbackCounts;
  'rollback.batch': ({ variant: 'rollback'; rollbackId: number } | { variant: 'batch'; batchId: string }) & RollbackCounts;
  /**
   * An import rolled back (`POST /api/imports/:id/rollback`): a rollback like the others (it was
   * written as `import.rollback` before migration 0008; the screen still words those entries).
   * `deleted` contacts the import created, `restored` contacts whose values it changed.
   */
  'rollback.import': { file: string; importId: string; deleted: number; restored: number; add: number; remove: number };
  'tag_group.create': { name: string };
  'tag_group.update': { name: string };
  /** 同步到企业微信 and the conflict policy of a group (`PUT /api/wecom/tag-groups/:id`) */
  'tag_group.wecom': { variant: 'on_segflow' | 'on_wecom' | 'off_segflow' | 'off_wecom'; name: string };
  'tag.create': { group: string; name: string };
  'tag.update': { variant: 'edit'; name: string } | { variant: 'rename'; from: string; to: string };
  'tag.retire': { name: string };
  'tag.restore': { name: string };
  'tag.merge': { from: string; into: string; holders: number; rules: number; segments: number };
  'rule.create': { name: string };
  /** only written by a tag merge rewriting a rule's draft */
  'rule.update': { name: string; from: string; into: string; places: number };
  'rule.save_draft': { name: string };
  /** a draft made from a gallery template (`POST /api/templates/:id/instantiate`); `tags` lists the tags it created */
  'rule.from_template':
    { variant: 'plain'; name: string; template: string } | { variant: 'tags'; name: string; template: string; tags: string };
  'rule.duplicate': { from: string; fromId: number; name: string };
  'rule.publish': { name: string; version: number; share: number };
  'rule.restore_version': { name: string; version: number };
  'rule.pause': { name: string; fromStatus: string; toStatus: string };
  'rule.resume': { name: string; fromStatus: string; toStatus: string };
  'rule.archive': { name: string; fromStatus: string; toStatus: string };
  'segment.create': { name: string };
  'segment.update': { variant: 'edit'; name: string } | { variant: 'merge'; name: string; from: string; into: string; places: number };
  'segment.delete': { name: string };
  /** an alert rule (worker/src/alerts/): `alertKind` is its AlertKind, `target` the watched object's name (none for dead letters) */
  'alert_rule.create': AlertRuleSentence;
  'alert_rule.update': AlertRuleSentence;
  /** `untilAt` epoch ms; the `forever` variant mutes until unmuted */
  'alert_rule.mute': { variant: 'until'; name: string; untilAt: number } | { variant: 'forever'; name: string };
  'alert_rule.unmute': { name: string };
  'alert.acknowledge': { name: string; alert: number };
  /** safe publishing (worker/src/publishing/): `name` is the rule's; `step` counts from 1 */
  'publish_plan.create': { variant: 'request' | 'schedule'; name: string; steps: number };
  'publish_plan.approve': { name: string };
  'publish_plan.reject': { name: string; reason: string };
  'publish_plan.cancel': { name: string };
  'publish_plan.resume': { name: string };
  'publish_plan.step': { name: string; step: number; steps: number; share: number; version: number };
  'publish_plan.refuse': { name: string; step: number; reason: string };
  'publish_plan.pause': { name: string; step: number; alert: string };
  /** `name` is the department's */
  'publish_policy.update': { variant: 'on' | 'off'; name: string };
  /** a learned rule suggestion requested (worker/src/learn/): the outcome in its variant's words */
  'suggestion.create':
    { variant: 'future_event'; eventType: string; days: number } | { variant: 'tag'; name: string } | { variant: 'segment'; name: string };
  /** a draft rule made from a learned suggestion (`POST /api/suggestions/:id/draft`) */
  'rule.from_suggestion': { name: string; suggestion: number };
  /** a suggestion re-learned on fresh data for a rule (`name`), on demand or by the weekly cron */
  'suggestion.refit': { name: string; suggestion: number };
  /** a finished refit's tree saved as its rule's draft (`POST /api/suggestions/:id/apply`), not published */
  'rule.from_refit': { name: string; suggestion: number };
}
export type AuditAction = keyof AuditParamsByAction;
type AlertRuleSentence =
  { variant: 'target'; name: string; alertKind: string; target: string } | { variant: 'any'; name: string; alertKind: string };
export type AuditParams = Record<string, AuditParamValue>;
