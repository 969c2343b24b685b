/**
 * The closed vocabularies of Segflow's data model, shared by the worker (schema, validation),
 * the web app (labels, filters) and the demo data generator. Adding a value here is a product
 * decision: the database stores these strings and CHECK constraints enforce them.
 */

/** Where a contact comes from: a personal WeChat friend, a group member, an official-account follower, a WeCom customer. */
export const CONTACT_KINDS = ['friend', 'group_member', 'follower', 'wecom_customer'] as const;
export type ContactKind = (typeof CONTACT_KINDS)[number];

export const GENDERS = ['male', 'female', 'unknown'] as const;
export type Gender = (typeof GENDERS)[number];

export const DEVICES = ['ios', 'android', 'windows', 'mac', 'other'] as const;
export type Device = (typeof DEVICES)[number];

/**
 * Event types a sender may post. `properties` of each type that the product relies on are
 * typed columns on the events table (amount, channel, group, text, article).
 */
export const EVENT_TYPES = [
  'message', // a message from the contact; `text` holds its content for keyword rules
  'group_join',
  'group_leave',
  'qr_scan', // `channel` is the QR code's channel (WeCom `State`)
  'purchase', // `amount` in fen (1/100 yuan)
  'article_open',
  'invite', // the contact invited someone into a group
  'violation', // a group rule broken (spam, ads, abuse)
  'friend_add',
  'friend_delete',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const ROLES = ['super_admin', 'dept_admin', 'staff'] as const;
export type Role = (typeof ROLES)[number];

/** How much each role may do: a higher rank includes everything a lower one may. */
export const ROLE_RANK: Record<Role, number> = { staff: 1, dept_admin: 2, super_admin: 3 };

/**
 * What a rollback undoes: the tag state at a past time, one rule version's changes, a deleted tag,
 * an earlier batch, or an import (written by `POST /api/imports/:id/rollback`, not `/api/rollbacks`).
 */
export const ROLLBACK_KINDS = ['to_time', 'rule_version', 'tag_restore', 'batch', 'import'] as const;
export type RollbackKind = (typeof ROLLBACK_KINDS)[number];

export const TAG_STATUSES = ['active', 'retired'] as const;
export type TagStatus = (typeof TAG_STATUSES)[number];

/** Who or what changed a contact's tags: recorded on every tag ledger row. */
export const TAG_SOURCES = ['manual', 'import', 'rule', 'wecom', 'rollback', 'merge'] as const;
export type TagSource = (typeof TAG_SOURCES)[number];

export const RULE_STATUSES = ['draft', 'published', 'paused', 'archived'] as const;
export type RuleStatus = (typeof RULE_STATUSES)[number];

/** Tag hierarchy depth (industry › sub-field › behaviour). */
export const MAX_TAG_LEVEL = 3;

/** Gray release buckets: every contact gets a stable bucket in [0, BUCKETS). */
export const BUCKETS = 10_000;

/**
 * The contact's gray-release bucket, derived from its external id (FNV-1a, 32 bit) so that the
 * worker, SQL (stored column) and the generator agree without a hash function in SQL.
 */
export function bucketOf(externalId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < externalId.length; i++) {
    h ^= externalId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % BUCKETS;
}
