/**
 * Segflow's data model: the source of truth for `migrations/` (drizzle-kit generates them).
 *
 * Conventions, chosen for set-based SQL over 1M contacts on D1 (SQLite, no JSONB):
 * - Times are integer epoch milliseconds (UTC); "days" are computed in the configured time zone.
 * - Money is integer fen (1/100 yuan): sums stay exact.
 * - Every field a rule can filter on is a typed column, never `json_extract` over a blob.
 *   Custom attributes live in `contacts.custom` (JSON) and get an indexed generated column
 *   when one becomes hot.
 * - Behaviour aggregates (message/purchase counts, spend, last activity) are maintained on the
 *   contact at ingest; windowed aggregates come from `contact_daily_stats`, a per-contact,
 *   per-type, per-day rollup, instead of scanning raw events.
 */
import { sql } from 'drizzle-orm';
import { check, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import {
  CONTACT_KINDS,
  DEVICES,
  EVENT_TYPES,
  GENDERS,
  ROLES,
  ROLLBACK_KINDS,
  RULE_STATUSES,
  TAG_SOURCES,
  TAG_STATUSES,
} from '@shared/domain';
import { SECURITY_REASONS } from '@shared/api/security-log';
import { WECOM_POLICIES } from '@shared/api/wecom';
import { SEARCH_KINDS } from '@shared/search/kinds';
import { ALERT_KINDS } from '@shared/api/alerts';
import { PLAN_STATES } from '@shared/api/publishing';

const inList = (values: readonly string[]) => sql.raw(values.map((v) => `'${v}'`).join(', '));
const now = sql`(unixepoch('subsec') * 1000)`;

/** Departments form a tree; `path` ("/1/4/") makes "this department and below" one indexed range. */
export const departments = sqliteTable(
  'departments',
  {
    id: integer('id').primaryKey(),
    name: text('name').notNull(),
    parentId: integer('parent_id'),
    path: text('path').notNull(),
    createdAt: integer('created_at').notNull().default(now),
  },
  (t) => [index('departments_path_idx').on(t.path), index('departments_parent_idx').on(t.parentId)],
);

export const users = sqliteTable(
  'users',
  {
    id: integer('id').primaryKey(),
    email: text('email').notNull(),
    name: text('name').notNull(),
    role: text('role', { enum: ROLES }).notNull(),
    departmentId: integer('department_id').references(() => departments.id),
    /** PBKDF2-SHA256, base64; null until a password is set. */
    passwordHash: text('password_hash'),
    passwordSalt: text('password_salt'),
    disabled: integer('disabled', { mode: 'boolean' }).notNull().default(false),
    createdAt: integer('created_at').notNull().default(now),
    lastLoginAt: integer('last_login_at'),
  },
  (t) => [uniqueIndex('users_email_idx').on(t.email), check('users_role_check', sql`${t.role} in (${inList(ROLES)})`)],
);

/** Server-side sessions: the cookie holds a random token, the table its SHA-256. Revocable. */
export const sessions = sqliteTable(
  'sessions',
  {
    tokenHash: text('token_hash').primaryKey(),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    revokedAt: integer('revoked_at'),
    ip: text('ip'),
    userAgent: text('user_agent'),
    /** Sent back in `X-CSRF-Token` on every cookie-authenticated write. */
    csrfToken: text('csrf_token').notNull().default(''),
  },
  (t) => [index('sessions_user_idx').on(t.userId)],
);

/**
 * Sign-in attempts, kept a day: the login rate limit counts recent failures per email and per
 * address; successes are kept too so the users screen can show where an account signed in from.
 */
export const loginAttempts = sqliteTable(
  'login_attempts',
  {
    id: integer('id').primaryKey(),
    email: text('email').notNull(),
    ip: text('ip').notNull(),
    ok: integer('ok', { mode: 'boolean' }).notNull(),
    at: integer('at').notNull(),
  },
  (t) => [index('login_attempts_email_idx').on(t.email, t.at), index('login_attempts_ip_idx').on(t.ip, t.at)],
);

export const contacts = sqliteTable(
  'contacts',
  {
    id: integer('id').primaryKey(),
    kind: text('kind', { enum: CONTACT_KINDS }).notNull(),
    /** The sender's id for this person (WeCom external_userid, openid, wxid…); unique. */
    externalId: text('external_id').notNull(),
    name: text('name').notNull(),
    remark: text('remark'),
    gender: text('gender', { enum: GENDERS }).notNull().default('unknown'),
    region: text('region'),
    city: text('city'),
    occupation: text('occupation'),
    company: text('company'),
    device: text('device', { enum: DEVICES }),
    sourceChannel: text('source_channel'),
    departmentId: integer('department_id').references(() => departments.id),
    ownerUserId: integer('owner_user_id').references(() => users.id),
    /** AES-256-GCM ciphertext (base64 iv|ct) and a keyed hash for exact search. */
    phoneEnc: text('phone_enc'),
    phoneHash: text('phone_hash'),
    idNumberEnc: text('id_number_enc'),
    idNumberHash: text('id_number_hash'),
    /** Custom attributes, `{ key: value }`, keys declared in `custom_fields`. */
    custom: text('custom').notNull().default('{}'),
    /** Gray-release bucket in [0, 10000): `bucketOf(externalId)`, so JS and SQL pick the same contacts. */
    bucket: integer('bucket').notNull(),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    lastActiveAt: integer('last_active_at'),
    messageCount: integer('message_count').notNull().default(0),
    purchaseCount: integer('purchase_count').notNull().default(0),
    /** Lifetime spend in fen. */
    totalSpend: integer('total_spend').notNull().default(0),
    lastPurchaseAt: integer('last_purchase_at'),
    inviteCount: integer('invite_count').notNull().default(0),
    violationCount: integer('violation_count').notNull().default(0),
  },
  (t) => [
    uniqueIndex('contacts_external_idx').on(t.externalId),
    index('contacts_department_idx').on(t.departmentId),
    index('contacts_kind_idx').on(t.kind),
    index('contacts_owner_idx').on(t.ownerUserId),
    index('contacts_last_active_idx').on(t.lastActiveAt),
    index('contacts_spend_idx').on(t.totalSpend),
    index('contacts_region_idx').on(t.region, t.city),
    // Covering index for the preview's conjunction counts (shared/src/rules/preview-counts.ts):
    // a count over kind / region / spend / last active / owner / messages / source channel /
    // gender / device reads only this index, never the wide contacts rows. Measured in
    // bench/preview.ts and bench/learn.ts (a learned rule splits on the source channel first).
    // Cost: one more index entry to rewrite when ingest updates last_active_at and message_count.
    // `invite_count` stays out of every index: it is the benches' table-scan baseline.
    index('contacts_rule_cover_idx').on(
      t.kind,
      t.region,
      t.totalSpend,
      t.lastActiveAt,
      t.ownerUserId,
      t.messageCount,
      t.sourceChannel,
      t.gender,
      t.device,
    ),
    index('contacts_phone_hash_idx').on(t.phoneHash),
    index('contacts_id_number_hash_idx').on(t.idNumberHash),
    check('contacts_kind_check', sql`${t.kind} in (${inList(CONTACT_KINDS)})`),
    check('contacts_gender_check', sql`${t.gender} in (${inList(GENDERS)})`),
    check('contacts_bucket_check', sql`${t.bucket} >= 0 and ${t.bucket} < 10000`),
  ],
);

/** Declared custom contact attributes: they appear in the rule builder's field catalog. */
export const customFields = sqliteTable(
  'custom_fields',
  {
    id: integer('id').primaryKey(),
    key: text('key').notNull(),
    labelZh: text('label_zh').notNull(),
    labelEn: text('label_en').notNull(),
    type: text('type', { enum: ['text', 'number', 'date', 'boolean', 'list'] }).notNull(),
    createdAt: integer('created_at').notNull().default(now),
  },
  (t) => [uniqueIndex('custom_fields_key_idx').on(t.key)],
);

/** Webhook senders: a generic HMAC source or a WeCom callback. Secrets are shown once at creation. */
export const eventSources = sqliteTable('event_sources', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  kind: text('kind', { enum: ['generic', 'wecom'] }).notNull(),
  secret: text('secret').notNull(),
  /** After a rotation the old secret keeps working until this time, so senders can switch over. */
  previousSecret: text('previous_secret'),
  previousSecretExpiresAt: integer('previous_secret_expires_at'),
  createdBy: integer('created_by').references(() => users.id),
  /** WeCom callback settings (Token, EncodingAESKey, CorpID); null for generic sources. */
  wecomToken: text('wecom_token'),
  wecomAesKey: text('wecom_aes_key'),
  wecomCorpId: text('wecom_corp_id'),
  revokedAt: integer('revoked_at'),
  createdAt: integer('created_at').notNull().default(now),
  lastEventAt: integer('last_event_at'),
  eventCount: integer('event_count').notNull().default(0),
});

export const events = sqliteTable(
  'events',
  {
    id: integer('id').primaryKey(),
    sourceId: text('source_id').notNull(),
    /** The sender's id for the event (or a composite key where it gives none): dedupe key with source. */
    senderEventId: text('sender_event_id').notNull(),
    contactId: integer('contact_id')
      .notNull()
      .references(() => contacts.id),
    type: text('type', { enum: EVENT_TYPES }).notNull(),
    occurredAt: integer('occurred_at').notNull(),
    receivedAt: integer('received_at').notNull(),
    /** purchase amount in fen */
    amount: integer('amount'),
    /** QR channel, purchase channel, article channel */
    channel: text('channel'),
    groupId: text('group_id'),
    /** message text (for keyword rules) or article title */
    text: text('text'),
    /** anything else the sender sent, kept verbatim */
    properties: text('properties').notNull().default('{}'),
  },
  (t) => [
    uniqueIndex('events_sender_idx').on(t.sourceId, t.senderEventId),
    index('events_contact_idx').on(t.contactId, t.occurredAt),
    index('events_type_idx').on(t.type, t.occurredAt),
    check('events_type_check', sql`${t.type} in (${inList(EVENT_TYPES)})`),
  ],
);

/**
 * Raw events moved to R2 (worker/src/archive/): one row per chunk object
 * `events/<yyyy-mm-dd>/<chunk>-<sha256 head>.ndjson.gz`, a day's remaining rows ordered by (contact, id).
 * A row is written after the R2 put and before the D1 delete; `deleted_at` is set in the same
 * batch that deletes the chunk's rows, so a row with `deleted_at` null is a chunk whose rows
 * may still be in D1 (the job finishes it first). `first_contact`..`last_contact` lets the
 * contact timeline fetch only the chunk that can hold a contact's events of that day.
 */
export const eventArchive = sqliteTable(
  'event_archive',
  {
    /** Days since 1970-01-01 in TIMEZONE. */
    day: integer('day').notNull(),
    chunk: integer('chunk').notNull(),
    key: text('key').notNull(),
    rows: integer('rows').notNull(),
    firstContact: integer('first_contact').notNull(),
    lastContact: integer('last_contact').notNull(),
    maxId: integer('max_id').notNull(),
    /** SHA-256 (hex) of the uncompressed NDJSON. */
    checksum: text('checksum').notNull(),
    bytes: integer('bytes').notNull(),
    writtenAt: integer('written_at').notNull(),
    deletedAt: integer('deleted_at'),
  },
  (t) => [primaryKey({ columns: [t.day, t.chunk] }), index('event_archive_contact_idx').on(t.firstContact, t.lastContact)],
);

/**
 * Per-contact, per-type, per-day rollup maintained on ingest: answers "≥3 purchases in the
 * last 30 days" from at most 30 rows per contact. `day` counts days since 1970-01-01 in the
 * configured time zone. The second index serves set-based scans by type and window.
 */
export const contactDailyStats = sqliteTable(
  'contact_daily_stats',
  {
    contactId: integer('contact_id').notNull(),
    type: text('type', { enum: EVENT_TYPES }).notNull(),
    day: integer('day').notNull(),
    count: integer('count').notNull(),
    /** sum of amounts in fen */
    amount: integer('amount').notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.contactId, t.type, t.day] }),
    index('contact_daily_stats_type_day_idx').on(t.type, t.day, t.contactId, t.count, t.amount),
  ],
);

export const tagGroups = sqliteTable(
  'tag_groups',
  {
    id: integer('id').primaryKey(),
    name: text('name').notNull(),
    description: text('description'),
    color: text('color').notNull().default('#409eff'),
    /** A contact holds at most one tag of an exclusive group (e.g. lifecycle stage). */
    exclusive: integer('exclusive', { mode: 'boolean' }).notNull().default(false),
    /** Maximum number of tags in the group; null = the global default. */
    maxTags: integer('max_tags'),
    /** Owning department; null = company-wide. */
    departmentId: integer('department_id').references(() => departments.id),
    /**
     * The least role that may apply this group's tags by hand (`staff`: anyone in scope;
     * `dept_admin`: e.g. 重要客户 only by regional managers) and that may edit the group and its
     * tags. Department admins act only on groups of their department subtree or company-wide ones.
     */
    applyRole: text('apply_role', { enum: ROLES }).notNull().default('staff'),
    editRole: text('edit_role', { enum: ROLES }).notNull().default('dept_admin'),
    sortOrder: integer('sort_order').notNull().default(0),
    createdAt: integer('created_at').notNull().default(now),
    /** 同步到企业微信: mirrored as a corp tag group of each connected corp (worker/src/wecom/push/). */
    wecomSync: integer('wecom_sync', { mode: 'boolean' }).notNull().default(false),
    /**
     * Who decides holdings when the group is in WeCom (synced, or mapped by the pull): `segflow`
     * (rules write, pushed with mark_tag, WeCom-side edits reverted) or `wecom` (pulled only, rules
     * read). Meaningless for a group not in WeCom, hence the default: a pulled group is WeCom's.
     * No CHECK: adding one to an existing table makes drizzle-kit rebuild it (tags reference it).
     */
    wecomPolicy: text('wecom_policy', { enum: WECOM_POLICIES }).notNull().default('wecom'),
  },
  (t) => [
    uniqueIndex('tag_groups_name_idx').on(t.name),
    check('tag_groups_apply_role_check', sql`${t.applyRole} in (${inList(ROLES)})`),
    check('tag_groups_edit_role_check', sql`${t.editRole} in ('super_admin', 'dept_admin')`),
  ],
);

export const tags = sqliteTable(
  'tags',
  {
    id: integer('id').primaryKey(),
    groupId: integer('group_id')
      .notNull()
      .references(() => tagGroups.id),
    /** Parent tag in the same group: levels 1–3 (industry › sub-field › behaviour). */
    parentId: integer('parent_id'),
    level: integer('level').notNull().default(1),
    name: text('name').notNull(),
    description: text('description'),
    color: text('color'),
    status: text('status', { enum: TAG_STATUSES }).notNull().default('active'),
    retiredAt: integer('retired_at'),
    createdAt: integer('created_at').notNull().default(now),
    lastAppliedAt: integer('last_applied_at'),
  },
  (t) => [
    uniqueIndex('tags_group_name_idx').on(t.groupId, t.name),
    index('tags_parent_idx').on(t.parentId),
    check('tags_level_check', sql`${t.level} between 1 and 3`),
    check('tags_status_check', sql`${t.status} in (${inList(TAG_STATUSES)})`),
  ],
);

/**
 * Current tag holdings. The ledger is the history; this table is its latest state.
 * Only `worker/src/tagging/tag-writer.ts` writes it (ledger rows, exclusive groups, no-ops).
 */
export const contactTags = sqliteTable(
  'contact_tags',
  {
    contactId: integer('contact_id')
      .notNull()
      .references(() => contacts.id),
    tagId: integer('tag_id')
      .notNull()
      .references(() => tags.id),
    source: text('source', { enum: TAG_SOURCES }).notNull(),
    ruleId: integer('rule_id'),
    ruleVersion: integer('rule_version'),
    addedAt: integer('added_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.contactId, t.tagId] }), index('contact_tags_tag_idx').on(t.tagId, t.contactId)],
);

/**
 * Append-only history of every tag add/remove with its source: rebuilds the tag state at any
 * past time, answers "why does this contact have this tag", and makes rollback possible.
 */
export const tagLedger = sqliteTable(
  'tag_ledger',
  {
    id: integer('id').primaryKey(),
    contactId: integer('contact_id').notNull(),
    tagId: integer('tag_id').notNull(),
    op: text('op', { enum: ['add', 'remove'] }).notNull(),
    source: text('source', { enum: TAG_SOURCES }).notNull(),
    ruleId: integer('rule_id'),
    ruleVersion: integer('rule_version'),
    actorUserId: integer('actor_user_id'),
    /** groups the rows of one import, rollback or merge */
    batchId: text('batch_id'),
    at: integer('at').notNull(),
  },
  (t) => [
    index('tag_ledger_contact_idx').on(t.contactId, t.at),
    index('tag_ledger_tag_idx').on(t.tagId, t.at),
    index('tag_ledger_rule_idx').on(t.ruleId, t.ruleVersion),
    // a rule's latest ledger row in one index seek: the "stopped firing" alert (worker/src/alerts/)
    index('tag_ledger_rule_at_idx').on(t.ruleId, t.at),
    index('tag_ledger_at_idx').on(t.at),
    // one import, merge, rollback or manual edit found (and undone) without scanning the ledger
    index('tag_ledger_batch_idx').on(t.batchId),
    check('tag_ledger_op_check', sql`${t.op} in ('add', 'remove')`),
  ],
);

/**
 * Scratch rows for one set-based tag write (publish, scheduled rules): the target contacts are
 * computed once, used by every statement of the batch, and deleted at its end.
 */
export const tagApplyTargets = sqliteTable(
  'tag_apply_targets',
  {
    runId: text('run_id').notNull(),
    contactId: integer('contact_id').notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.contactId] })],
);

export const rules = sqliteTable(
  'rules',
  {
    id: integer('id').primaryKey(),
    name: text('name').notNull(),
    description: text('description'),
    departmentId: integer('department_id').references(() => departments.id),
    status: text('status', { enum: RULE_STATUSES }).notNull().default('draft'),
    /** The graph being edited (JSON); versions are frozen copies. */
    draftGraph: text('draft_graph').notNull(),
    publishedVersion: integer('published_version'),
    /**
     * Why the system paused the rule (JSON `RulePausedReason`: the rights its published version
     * runs on were lost); shown while the status is 'paused', cleared by any status change.
     */
    pausedReason: text('paused_reason'),
    createdBy: integer('created_by').references(() => users.id),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('rules_status_idx').on(t.status), check('rules_status_check', sql`${t.status} in (${inList(RULE_STATUSES)})`)],
);

export const ruleVersions = sqliteTable(
  'rule_versions',
  {
    id: integer('id').primaryKey(),
    ruleId: integer('rule_id')
      .notNull()
      .references(() => rules.id),
    version: integer('version').notNull(),
    graph: text('graph').notNull(),
    /** compiled JSON Logic */
    logic: text('logic').notNull(),
    /** event type the rule listens to, or 'schedule' (the enum types it; no CHECK in SQL) */
    trigger: text('trigger', { enum: [...EVENT_TYPES, 'schedule'] }).notNull(),
    /** gray release share, 1–100 percent of contacts (by bucket) */
    rolloutPercent: integer('rollout_percent').notNull().default(100),
    note: text('note'),
    createdBy: integer('created_by').references(() => users.id),
    createdAt: integer('created_at').notNull(),
    publishedAt: integer('published_at'),
  },
  (t) => [
    uniqueIndex('rule_versions_rule_version_idx').on(t.ruleId, t.version),
    index('rule_versions_trigger_idx').on(t.trigger),
    check('rule_versions_rollout_check', sql`${t.rolloutPercent} between 1 and 100`),
  ],
);

export const segments = sqliteTable(
  'segments',
  {
    id: integer('id').primaryKey(),
    name: text('name').notNull(),
    description: text('description'),
    departmentId: integer('department_id').references(() => departments.id),
    graph: text('graph').notNull(),
    logic: text('logic').notNull(),
    createdBy: integer('created_by').references(() => users.id),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  // the webhook path's segments stamp (count, sum of updated_at) reads this index, never the
  // rows' graphs (updated_at sits after them, in their overflow pages)
  (t) => [index('segments_updated_idx').on(t.updatedAt)],
);

/** Daily segment sizes, for charts and drop alerts. */
export const segmentSnapshots = sqliteTable(
  'segment_snapshots',
  {
    segmentId: integer('segment_id')
      .notNull()
      .references(() => segments.id),
    day: integer('day').notNull(),
    size: integer('size').notNull(),
  },
  (t) => [primaryKey({ columns: [t.segmentId, t.day] })],
);

/**
 * Rollbacks: each one writes its tag changes to the ledger under `batch_id`, so it can be
 * listed, explained and undone (an undo is itself a rollback of that batch).
 */
export const rollbacks = sqliteTable(
  'rollbacks',
  {
    id: integer('id').primaryKey(),
    kind: text('kind', { enum: ROLLBACK_KINDS }).notNull(),
    batchId: text('batch_id').notNull(),
    /** what was rolled back: `{ at }`, `{ ruleId, version }`, `{ tagId }`, `{ batchId }`, `{ importId, fileName, … }` */
    params: text('params').notNull(),
    /** tag changes written */
    added: integer('added').notNull(),
    removed: integer('removed').notNull(),
    createdBy: integer('created_by').references(() => users.id),
    createdAt: integer('created_at').notNull(),
    /** set when this rollback was itself undone */
    undoneAt: integer('undone_at'),
  },
  (t) => [uniqueIndex('rollbacks_batch_idx').on(t.batchId), check('rollbacks_kind_check', sql`${t.kind} in (${inList(ROLLBACK_KINDS)})`)],
);

/** Every mutation: who, what, before/after, from where. Written in the same batch as the change. */
export const auditLog = sqliteTable(
  'audit_log',
  {
    id: integer('id').primaryKey(),
    at: integer('at').notNull(),
    actorUserId: integer('actor_user_id'),
    actorIp: text('actor_ip'),
    action: text('action').notNull(),
    objectType: text('object_type').notNull(),
    objectId: text('object_id'),
    /** English sentence: the fallback for entries without `params` (written before 0007) and for search. */
    summary: text('summary'),
    /** JSON object: the values the summary's sentence uses, so the screen words it in the reader's language. */
    params: text('params'),
    before: text('before'),
    after: text('after'),
  },
  (t) => [
    index('audit_log_at_idx').on(t.at),
    index('audit_log_object_idx').on(t.objectType, t.objectId),
    index('audit_log_actor_idx').on(t.actorUserId, t.at),
  ],
);

/**
 * Refused requests (worker/src/security/log.ts): 401, 403, 404 on what the caller may not see,
 * bad CSRF token, bad webhook signature, 429. Coalesced so a flood cannot grow it without bound:
 * one row per minute, address, subject, method, route pattern and reason, with a count; past an
 * address's budget of distinct rows in a minute (or the log's budget in an hour) refusals go to
 * an overflow row per reason. Kept `AUDIT_RETENTION_DAYS`, purged with the audit log.
 */
export const securityEvents = sqliteTable(
  'security_events',
  {
    id: integer('id').primaryKey(),
    /** epoch ms of the minute the row counts (floored) */
    minute: integer('minute').notNull(),
    firstAt: integer('first_at').notNull(),
    lastAt: integer('last_at').notNull(),
    /** `user:<id>`, `email:<tried at sign-in>`, `source:<webhook source>`, '' (anonymous) or `*` (overflow) */
    subject: text('subject').notNull(),
    userId: integer('user_id'),
    ip: text('ip').notNull(),
    /** the address's network for the per-address budget: IPv4 as is, IPv6 its /64 */
    net: text('net').notNull(),
    method: text('method').notNull(),
    route: text('route').notNull(),
    path: text('path').notNull(),
    status: integer('status').notNull(),
    reason: text('reason', { enum: SECURITY_REASONS }).notNull(),
    count: integer('count').notNull(),
  },
  (t) => [
    uniqueIndex('security_events_key').on(t.minute, t.ip, t.subject, t.method, t.route, t.reason),
    index('security_events_net_idx').on(t.minute, t.net),
    index('security_events_last_idx').on(t.lastAt),
  ],
);

/** One contact import: its mapping, state and the dry run's counts. Rows are in `import_rows`. */
export const imports = sqliteTable(
  'imports',
  {
    id: text('id').primaryKey(),
    status: text('status', { enum: ['staging', 'checked', 'applied', 'rolled_back'] }).notNull(),
    fileName: text('file_name').notNull(),
    /** JSON: the file's header row, and the field each column maps to (null = not imported). */
    headers: text('headers').notNull(),
    mapping: text('mapping').notNull(),
    defaultKind: text('default_kind', { enum: CONTACT_KINDS }).notNull(),
    /** Department the contacts it creates belong to (null: none — only super admins see them). */
    departmentId: integer('department_id'),
    rowCount: integer('row_count').notNull().default(0),
    /** JSON counts of the last dry run (new / updated / unchanged / rejected). */
    counts: text('counts'),
    createdBy: integer('created_by'),
    createdAt: integer('created_at').notNull(),
    checkedAt: integer('checked_at'),
    appliedAt: integer('applied_at'),
    rolledBackAt: integer('rolled_back_at'),
  },
  (t) => [
    index('imports_created_idx').on(t.createdAt),
    check('imports_status_check', sql`${t.status} in ('staging', 'checked', 'applied', 'rolled_back')`),
  ],
);

/**
 * Staged rows of an import, as sent (`cells`) and as the dry run read them: normalized values,
 * sealed phone, tag ids, verdict. Apply writes contacts set-based from here in one batch, and
 * keeps each updated contact's previous values in `before` so the import can be rolled back.
 */
export const importRows = sqliteTable(
  'import_rows',
  {
    importId: text('import_id').notNull(),
    /** Spreadsheet row number (header = 1). */
    row: integer('row').notNull(),
    cells: text('cells').notNull(),
    /** null until the dry run; then new / updated / unchanged / rejected. */
    status: text('status', { enum: ['valid', 'new', 'updated', 'unchanged', 'rejected'] }),
    externalId: text('external_id'),
    /** JSON of the imported attribute values (only the fields the file has). */
    data: text('data'),
    phoneHash: text('phone_hash'),
    phoneEnc: text('phone_enc'),
    idNumberHash: text('id_number_hash'),
    idNumberEnc: text('id_number_enc'),
    bucket: integer('bucket'),
    tagIds: text('tag_ids'),
    /** JSON array of the name's search keys (worker/src/search/keys.ts), computed by the dry run so apply keys contacts set-based. */
    nameKeys: text('name_keys'),
    rejections: text('rejections'),
    contactId: integer('contact_id'),
    /** JSON of the contact's values before apply changed them (updated rows). */
    before: text('before'),
  },
  (t) => [
    primaryKey({ columns: [t.importId, t.row] }),
    index('import_rows_status_idx').on(t.importId, t.status),
    index('import_rows_external_idx').on(t.importId, t.externalId),
  ],
);

/**
 * Name search keys: the full pinyin and initials of contact, user, tag and rule names
 * (shared/src/search/pinyin.ts), written with the name, so a search is a prefix range on
 * (kind, key), never pinyin computed per row. A name with no key gets '' (matched by nothing),
 * so "has keys" means "was keyed".
 */
export const searchKeys = sqliteTable(
  'search_keys',
  {
    kind: text('kind', { enum: SEARCH_KINDS }).notNull(),
    key: text('key').notNull(),
    refId: integer('ref_id').notNull(),
  },
  (t) => [primaryKey({ columns: [t.kind, t.key, t.refId] }), index('search_keys_ref_idx').on(t.kind, t.refId)],
);

/**
 * Rows whose keys are missing: filled by triggers (migration 0012) on every insert and every
 * change of a name, whatever wrote it; write paths that key a name at once delete their rows;
 * the cron keys the rest (and the rows present when the migration ran) in bounded steps.
 */
export const searchKeyQueue = sqliteTable(
  'search_key_queue',
  {
    kind: text('kind', { enum: SEARCH_KINDS }).notNull(),
    refId: integer('ref_id').notNull(),
  },
  (t) => [primaryKey({ columns: [t.kind, t.refId] })],
);

/**
 * Outbound destinations (super admins, data-sources screen): where call-webhook and notify
 * actions send. The signing secret is sealed with the field key (AES-256-GCM, crypto/fields.ts):
 * it must be read back to sign, so it cannot be hashed, and a copy of the database alone does
 * not let anyone forge our deliveries. Shown once, on create and rotate.
 */
export const destinations = sqliteTable(
  'destinations',
  {
    id: integer('id').primaryKey(),
    name: text('name').notNull(),
    kind: text('kind', { enum: ['webhook', 'notify'] }).notNull(),
    url: text('url').notNull(),
    secretEnc: text('secret_enc').notNull(),
    timeoutMs: integer('timeout_ms').notNull().default(10_000),
    /** At most this many deliveries to the destination in flight at once (see worker/src/outbound/consume.ts). */
    concurrency: integer('concurrency').notNull().default(5),
    createdBy: integer('created_by').references(() => users.id),
    createdAt: integer('created_at').notNull().default(now),
    /** Revoked: deliveries to it are dead at once, with that reason. */
    revokedAt: integer('revoked_at'),
  },
  (t) => [check('destinations_kind_check', sql`${t.kind} in ('webhook', 'notify')`)],
);

/**
 * One row per delivery id (worker/src/outbound/enqueue.ts `deliveryId`): the dedupe guard (a
 * delivered id is never sent again) and the dead-letter list. No personal data in clear: the
 * contact is its id; what a retry needs (the queue message, which carries the contact's name) is
 * kept sealed with the field key in `message_enc`, only while the row is dead or requeued.
 */
export const deliveries = sqliteTable(
  'deliveries',
  {
    id: text('id').primaryKey(),
    destinationId: integer('destination_id').notNull(),
    kind: text('kind', { enum: ['call_webhook', 'notify'] }).notNull(),
    ruleId: integer('rule_id').notNull(),
    ruleVersion: integer('rule_version').notNull(),
    nodeId: text('node_id').notNull(),
    contactId: integer('contact_id').notNull(),
    /** `failed`: an attempt failed and the queue will try again; `queued`: a dead letter sent again by hand. */
    status: text('status', { enum: ['delivered', 'failed', 'dead', 'queued'] }).notNull(),
    /** Attempts made, all time (a retried dead letter keeps counting). */
    attempts: integer('attempts').notNull().default(0),
    lastAttemptAt: integer('last_attempt_at'),
    /** HTTP status of the last answer; null for a network error or a timeout. */
    lastStatus: integer('last_status'),
    /** Why the last attempt failed (English, for the dead-letter list). */
    lastReason: text('last_reason'),
    /** `failed`: when the queue will try again (the backoff the consumer chose). */
    nextAttemptAt: integer('next_attempt_at'),
    messageEnc: text('message_enc'),
    createdAt: integer('created_at').notNull(),
    deliveredAt: integer('delivered_at'),
  },
  (t) => [
    index('deliveries_destination_status_idx').on(t.destinationId, t.status, t.lastAttemptAt),
    // the purge of delivered rows past the queue's retention (worker/src/cron/purge.ts)
    index('deliveries_delivered_idx').on(t.status, t.deliveredAt),
    // the home's failure counts: only rows not yet delivered, so the index stays as small as the backlog
    index('deliveries_open_idx')
      .on(t.status)
      .where(sql`${t.status} <> 'delivered'`),
    check('deliveries_status_check', sql`${t.status} in ('delivered', 'failed', 'dead', 'queued')`),
  ],
);

/**
 * Intake messages that could not be stored (worker/src/ingest/dead-letters.ts): failed every
 * delivery of the intake queue, arrived after their source was revoked, or could not be read.
 * Kept for super admins to read and requeue (`/api/intake/dead-letters`). The message itself
 * (events with contact attributes: personal data) is kept sealed with FIELD_KEY, never in
 * plain text; the columns beside it are what the list shows without opening it.
 */
export const intakeDeadLetters = sqliteTable(
  'intake_dead_letters',
  {
    id: integer('id').primaryKey(),
    /** the queue's message id: a message dead-lettered twice (a redelivered DLQ batch) is kept once */
    messageId: text('message_id').notNull(),
    sourceId: text('source_id').notNull(),
    /** epoch ms the webhook route accepted the event(s) */
    receivedAt: integer('received_at').notNull(),
    /** JSON array of the sender's event ids */
    eventIds: text('event_ids').notNull(),
    /** why it is here, for a human: the last error, or the rule that refused it */
    reason: text('reason').notNull(),
    attempts: integer('attempts').notNull(),
    /** the message body as JSON, sealed (AES-256-GCM, worker/src/crypto/fields.ts) */
    payloadEnc: text('payload_enc').notNull(),
    deadAt: integer('dead_at').notNull(),
    requeuedAt: integer('requeued_at'),
    requeuedBy: integer('requeued_by').references(() => users.id),
  },
  (t) => [uniqueIndex('intake_dead_letters_message_idx').on(t.messageId), index('intake_dead_letters_dead_idx').on(t.deadAt)],
);

/**
 * A connected WeCom corp (worker/src/wecom/connection.ts): one row per CorpID. The 客户联系 secret
 * and the self-built app's secret are sealed with the field key (AES-256-GCM, crypto/fields.ts):
 * they must be read back to call gettoken, and a copy of the database alone must not be enough to
 * act as the company in WeCom. Each secret keeps when it last changed and its last test
 * (gettoken's errcode and errmsg; errcode null when WeCom could not be reached).
 */
export const wecomConnections = sqliteTable(
  'wecom_connections',
  {
    id: integer('id').primaryKey(),
    corpId: text('corp_id').notNull(),
    contactSecretEnc: text('contact_secret_enc'),
    contactSecretChangedAt: integer('contact_secret_changed_at'),
    contactTestedAt: integer('contact_tested_at'),
    contactTestErrcode: integer('contact_test_errcode'),
    contactTestErrmsg: text('contact_test_errmsg'),
    agentId: integer('agent_id'),
    agentSecretEnc: text('agent_secret_enc'),
    agentSecretChangedAt: integer('agent_secret_changed_at'),
    agentTestedAt: integer('agent_tested_at'),
    agentTestErrcode: integer('agent_test_errcode'),
    agentTestErrmsg: text('agent_test_errmsg'),
    /** The `wecom` event source receiving this corp's callbacks (null: none linked yet). */
    eventSourceId: text('event_source_id').references(() => eventSources.id),
    createdBy: integer('created_by').references(() => users.id),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [uniqueIndex('wecom_connections_corp_idx').on(t.corpId)],
);

/**
 * WeCom access tokens shared by every isolate (worker/src/wecom/token-cache.ts): one row per
 * connection and secret (`app`), the token sealed with the field key. `stale_at` is when we stop
 * using it (WeCom's expiry minus a margin); `version` counts refreshes, so "this token was refused"
 * (40014 / 42001) invalidates only that token, not one another isolate fetched meanwhile. A
 * refresh is a lease (`lease_owner` until `lease_until`) taken by one conditional upsert: one
 * isolate calls gettoken, the others wait for its row. Replacing a secret deletes its row.
 */
export const wecomTokens = sqliteTable(
  'wecom_tokens',
  {
    connectionId: integer('connection_id')
      .notNull()
      .references(() => wecomConnections.id),
    app: text('app', { enum: ['contact', 'agent'] }).notNull(),
    tokenEnc: text('token_enc'),
    expiresAt: integer('expires_at'),
    staleAt: integer('stale_at'),
    refreshedAt: integer('refreshed_at'),
    version: integer('version').notNull().default(0),
    leaseOwner: text('lease_owner'),
    leaseUntil: integer('lease_until'),
  },
  (t) => [primaryKey({ columns: [t.connectionId, t.app] }), check('wecom_tokens_app_check', sql`${t.app} in ('contact', 'agent')`)],
);

/*
 * WeCom pull (worker/src/wecom/sync/): what a backfill or a callback read from a connected corp,
 * keyed by WeCom's own ids, so a page read twice writes the same rows (never doubles). No foreign
 * key to `wecom_connections`: disconnecting keeps the history of what was pulled.
 */

/**
 * One backfill of a connection: the page it is at (`phase`, `cursor`, `step`), counts per phase,
 * errors (errcode and words). `step` guards the page: a message for step n writes only while the
 * run is at n, and moves it to n + 1 in the same batch, so a redelivered page is a no-op.
 */
export const wecomSyncRuns = sqliteTable(
  'wecom_sync_runs',
  {
    id: integer('id').primaryKey(),
    connectionId: integer('connection_id').notNull(),
    status: text('status', { enum: ['running', 'finished', 'failed'] }).notNull(),
    phase: text('phase', { enum: ['tags', 'follow_users', 'contacts', 'chats', 'done'] }).notNull(),
    step: integer('step').notNull().default(0),
    /** the WeCom cursor of the current phase ('' at its start) */
    cursor: text('cursor').notNull().default(''),
    /** contacts: which slice of 100 follow users is paged; chats: chat ids listed, not read yet (JSON) */
    userOffset: integer('user_offset').notNull().default(0),
    pending: text('pending').notNull().default('[]'),
    tagGroups: integer('tag_groups').notNull().default(0),
    tags: integer('tags').notNull().default(0),
    followUsers: integer('follow_users').notNull().default(0),
    relations: integer('relations').notNull().default(0),
    customers: integer('customers').notNull().default(0),
    chats: integer('chats').notNull().default(0),
    rateLimitWaits: integer('rate_limit_waits').notNull().default(0),
    /** `[{ at, phase, errcode, errmsg, words }]`, the last few */
    errors: text('errors').notNull().default('[]'),
    startedBy: integer('started_by'),
    startedAt: integer('started_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    finishedAt: integer('finished_at'),
  },
  (t) => [
    index('wecom_sync_runs_connection_idx').on(t.connectionId, t.id),
    // one running backfill per connection, whatever races the start
    uniqueIndex('wecom_sync_runs_running_idx')
      .on(t.connectionId)
      .where(sql`${t.status} = 'running'`),
    check('wecom_sync_runs_status_check', sql`${t.status} in ('running', 'finished', 'failed')`),
  ],
);

/** A WeCom corp tag group or tag ↔ the Segflow tag group or tag it landed as. Deleted in WeCom: `deleted_at` set, the Segflow tag retired. */
export const wecomTagMap = sqliteTable(
  'wecom_tag_map',
  {
    connectionId: integer('connection_id').notNull(),
    kind: text('kind', { enum: ['group', 'tag'] }).notNull(),
    wecomId: text('wecom_id').notNull(),
    /** tag_groups.id (kind group) or tags.id (kind tag) */
    segflowId: integer('segflow_id').notNull(),
    /** a tag's WeCom group id */
    wecomGroupId: text('wecom_group_id'),
    name: text('name').notNull(),
    wecomOrder: integer('wecom_order').notNull().default(0),
    deletedAt: integer('deleted_at'),
    syncedAt: integer('synced_at').notNull(),
    /**
     * Who created it in WeCom: `segflow` (this app, by add_corp_tag: we may edit and delete it) or
     * `wecom` (the console or another app: editing it is 301002, so we never try).
     */
    origin: text('origin', { enum: ['segflow', 'wecom'] })
      .notNull()
      .default('wecom'),
  },
  (t) => [primaryKey({ columns: [t.connectionId, t.kind, t.wecomId] }), index('wecom_tag_map_segflow_idx').on(t.kind, t.segflowId)],
);

/** Members configured for 客户联系 (get_follow_user_list). */
export const wecomFollowUsers = sqliteTable(
  'wecom_follow_users',
  {
    connectionId: integer('connection_id').notNull(),
    userid: text('userid').notNull(),
    syncedAt: integer('synced_at').notNull(),
    deletedAt: integer('deleted_at'),
  },
  (t) => [primaryKey({ columns: [t.connectionId, t.userid] })],
);

/**
 * Which follow user holds which customer, with that relation's own remark and corp tags (WeCom
 * ids): the push marks tags per relation (mark_tag), and a contact's WeCom tags are the union.
 */
export const wecomRelations = sqliteTable(
  'wecom_relations',
  {
    connectionId: integer('connection_id').notNull(),
    userid: text('userid').notNull(),
    externalUserid: text('external_userid').notNull(),
    remark: text('remark'),
    description: text('description'),
    addWay: integer('add_way'),
    state: text('state'),
    createtime: integer('createtime'),
    /** WeCom corp tag ids held in this relation (JSON array) */
    tagIds: text('tag_ids').notNull().default('[]'),
    syncedAt: integer('synced_at').notNull(),
    /** the relation is gone in WeCom (deleted, or no longer answered) */
    deletedAt: integer('deleted_at'),
  },
  (t) => [primaryKey({ columns: [t.connectionId, t.userid, t.externalUserid] }), index('wecom_relations_ext_idx').on(t.externalUserid)],
);

/** Customer group chats (groupchat/list + groupchat/get). */
export const wecomGroupChats = sqliteTable(
  'wecom_group_chats',
  {
    connectionId: integer('connection_id').notNull(),
    chatId: text('chat_id').notNull(),
    name: text('name'),
    owner: text('owner'),
    createTime: integer('create_time'),
    notice: text('notice'),
    memberCount: integer('member_count').notNull().default(0),
    memberVersion: text('member_version'),
    syncedAt: integer('synced_at').notNull(),
    dismissedAt: integer('dismissed_at'),
  },
  (t) => [primaryKey({ columns: [t.connectionId, t.chatId] })],
);

/** A group chat's members as WeCom answered them (type 1 member, 2 external contact). */
export const wecomGroupChatMembers = sqliteTable(
  'wecom_group_chat_members',
  {
    connectionId: integer('connection_id').notNull(),
    chatId: text('chat_id').notNull(),
    userid: text('userid').notNull(),
    type: integer('type').notNull(),
    joinTime: integer('join_time'),
    joinScene: integer('join_scene'),
    unionid: text('unionid'),
  },
  (t) => [primaryKey({ columns: [t.connectionId, t.chatId, t.userid] })],
);

/*
 * The home screen's rollups (worker/src/home/): small tables the charts read instead of
 * contacts, events or the ledger, so the home costs the same at 1M contacts as at 10k.
 */

/**
 * A segment's daily size split by the department of its contacts (department 0: contacts with
 * none), written by the cron with `segment_snapshots` from one count: a department admin's
 * chart sums their subtree's rows, the number the segments list shows them. A day with no row
 * for the segment was not recorded this way (before this table), never "zero".
 */
export const segmentSnapshotDepartments = sqliteTable(
  'segment_snapshot_departments',
  {
    segmentId: integer('segment_id').notNull(),
    day: integer('day').notNull(),
    /** 0: contacts without a department (only super admins see them) */
    departmentId: integer('department_id').notNull(),
    size: integer('size').notNull(),
  },
  (t) => [primaryKey({ columns: [t.segmentId, t.day, t.departmentId] })],
);

/**
 * Contacts per department per day and how many hold at least one active tag (the untagged
 * share's two numbers), counted by the cron once a day. Department 0: contacts with none.
 */
export const departmentDailyCounts = sqliteTable(
  'department_daily_counts',
  {
    day: integer('day').notNull(),
    departmentId: integer('department_id').notNull(),
    contacts: integer('contacts').notNull(),
    tagged: integer('tagged').notNull(),
    /** epoch ms the cron counted them */
    countedAt: integer('counted_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.day, t.departmentId] })],
);

/** Contacts per department per day holding at least one active tag of a group (tag coverage), with the row above. */
export const tagGroupDailyCoverage = sqliteTable(
  'tag_group_daily_coverage',
  {
    day: integer('day').notNull(),
    departmentId: integer('department_id').notNull(),
    groupId: integer('group_id').notNull(),
    contacts: integer('contacts').notNull(),
  },
  (t) => [primaryKey({ columns: [t.day, t.departmentId, t.groupId] })],
);

/**
 * Tags added and removed by each rule per UTC hour, kept by a trigger on `tag_ledger` (migration
 * 0020), so whatever writes a rule's ledger rows (publish, cron, webhook path, rollback of a
 * rule's run: source 'rollback' is not counted) is counted in the same transaction.
 */
export const ruleActivityHourly = sqliteTable(
  'rule_activity_hourly',
  {
    ruleId: integer('rule_id').notNull(),
    /** epoch hour: floor(at / 3,600,000) */
    hour: integer('hour').notNull(),
    added: integer('added').notNull().default(0),
    removed: integer('removed').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.ruleId, t.hour] })],
);

/** Events stored per source per UTC hour, kept by a trigger on `events` (migration 0020): the intake chart. */
export const intakeHourly = sqliteTable(
  'intake_hourly',
  {
    hour: integer('hour').notNull(),
    sourceId: text('source_id').notNull(),
    events: integer('events').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.hour, t.sourceId] })],
);

/**
 * Alert rules (worker/src/alerts/): what to watch — a segment's daily size, a published rule's
 * firing and errors, a source's silence, dead letters — and where to send what they raise. The
 * department is the watched object's (null: company-wide or intake, super admins only); viewers
 * see a rule and its alerts within their scope, as for rules and segments. Muted while `muted_at`
 * is set and `muted_until` is null (indefinitely) or later than now.
 */
export const alertRules = sqliteTable(
  'alert_rules',
  {
    id: integer('id').primaryKey(),
    name: text('name').notNull(),
    kind: text('kind', { enum: ALERT_KINDS }).notNull(),
    // no foreign keys to what is watched: deleting a segment must not be refused because an alert
    // rule watches it (the rule then measures nothing and the list shows the target as deleted)
    segmentId: integer('segment_id'),
    ruleId: integer('rule_id'),
    sourceId: text('source_id'),
    /** percent (drop / rise), contacts (below) or hours (silent kinds); null for kinds without one */
    threshold: integer('threshold'),
    destinationId: integer('destination_id').references(() => destinations.id),
    departmentId: integer('department_id').references(() => departments.id),
    mutedAt: integer('muted_at'),
    mutedUntil: integer('muted_until'),
    /** dead letters: the end of the last window checked ("new since the last check") */
    checkedAt: integer('checked_at').notNull(),
    createdBy: integer('created_by').references(() => users.id),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    index('alert_rules_department_idx').on(t.departmentId),
    check('alert_rules_kind_check', sql`${t.kind} in (${inList(ALERT_KINDS)})`),
  ],
);

/**
 * Raised alerts. One episode of a rule's condition raises one alert: `cleared_at` is null while
 * the condition still holds, and the partial unique index allows one such row per rule, so a
 * repeated (or concurrent) tick cannot raise a second. Acknowledging does not end the episode;
 * the condition clearing does. `measured` is JSON `AlertMeasured` (shared/src/api/alerts.ts).
 */
export const alerts = sqliteTable(
  'alerts',
  {
    id: integer('id').primaryKey(),
    alertRuleId: integer('alert_rule_id')
      .notNull()
      .references(() => alertRules.id),
    kind: text('kind', { enum: ALERT_KINDS }).notNull(),
    state: text('state', { enum: ['open', 'acknowledged'] }).notNull(),
    measured: text('measured').notNull(),
    raisedAt: integer('raised_at').notNull(),
    clearedAt: integer('cleared_at'),
    acknowledgedAt: integer('acknowledged_at'),
    acknowledgedBy: integer('acknowledged_by').references(() => users.id),
    /** stable outbound delivery id (one per alert); `enqueued_at` once the deliveries queue has it */
    deliveryId: text('delivery_id'),
    enqueuedAt: integer('enqueued_at'),
  },
  (t) => [
    uniqueIndex('alerts_episode_idx')
      .on(t.alertRuleId)
      .where(sql`${t.clearedAt} is null`),
    index('alerts_rule_idx').on(t.alertRuleId, t.raisedAt),
    index('alerts_state_idx').on(t.state, t.raisedAt),
    check('alerts_state_check', sql`${t.state} in ('open', 'acknowledged')`),
  ],
);

/*
 * WeCom push (worker/src/wecom/push/, docs/wecom-push.md): Segflow's changes of synced,
 * Segflow-owned tags sent with mark_tag per relation. Keyed like the pull, no foreign key to the
 * connection.
 */

/** Per connection: how far the push has read the tag ledger, and its counts (the WeCom tab). */
export const wecomPushState = sqliteTable('wecom_push_state', {
  connectionId: integer('connection_id').primaryKey(),
  /** the last tag_ledger.id read for pushing */
  ledgerCursor: integer('ledger_cursor').notNull().default(0),
  /** mark_tag calls WeCom accepted */
  marked: integer('marked').notNull().default(0),
  /** manual WeCom edits of Segflow-owned tags reverted */
  reverted: integer('reverted').notNull().default(0),
  /** corp tags the mirror created */
  createdTags: integer('created_tags').notNull().default(0),
  /** the last mirror: when, and what WeCom's library held (for the 10,000 check) */
  mirroredAt: integer('mirrored_at'),
  wecomTagCount: integer('wecom_tag_count'),
  updatedAt: integer('updated_at').notNull(),
  /**
   * A push hint (a `drain` message on the WeCom queue) is pending until this time (epoch ms; NULL:
   * none). At most one per connection at a time, so a burst of tag writes sends one message.
   */
  hintDueAt: integer('hint_due_at'),
  /** The last tag_ledger.id a hint looked at: the next one scans only what came after. */
  hintSeenId: integer('hint_seen_id').notNull().default(0),
});

/**
 * Manual WeCom edits of Segflow-owned corp tags ("Segflow owns"), one row per relation, corp tag
 * and direction, as the pull found them; `reverted_at` once a push brought the relation back.
 */
export const wecomPushOverrides = sqliteTable(
  'wecom_push_overrides',
  {
    id: integer('id').primaryKey(),
    connectionId: integer('connection_id').notNull(),
    contactId: integer('contact_id').notNull(),
    userid: text('userid').notNull(),
    externalUserid: text('external_userid').notNull(),
    wecomTagId: text('wecom_tag_id').notNull(),
    tagId: integer('tag_id').notNull(),
    /** what the edit in WeCom did to the tag */
    op: text('op', { enum: ['added', 'removed'] }).notNull(),
    at: integer('at').notNull(),
    revertedAt: integer('reverted_at'),
  },
  (t) => [
    index('wecom_push_overrides_list_idx').on(t.connectionId, t.at),
    index('wecom_push_overrides_relation_idx').on(t.connectionId, t.externalUserid, t.revertedAt),
    check('wecom_push_overrides_op_check', sql`${t.op} in ('added', 'removed')`),
  ],
);

/**
 * Renames and deletions of mirrored corp tags and groups (edit_corp_tag / del_corp_tag), the
 * latest per mapped item: queued, done, or failed with WeCom's errcode, for the sync screen.
 */
export const wecomTagOps = sqliteTable(
  'wecom_tag_ops',
  {
    connectionId: integer('connection_id').notNull(),
    kind: text('kind', { enum: ['group', 'tag'] }).notNull(),
    wecomId: text('wecom_id').notNull(),
    segflowId: integer('segflow_id').notNull(),
    op: text('op', { enum: ['rename', 'delete'] }).notNull(),
    /** the name asked for (rename) or the name deleted */
    name: text('name').notNull(),
    status: text('status', { enum: ['queued', 'done', 'failed'] }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    errcode: integer('errcode'),
    errmsg: text('errmsg'),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.connectionId, t.kind, t.wecomId] }),
    index('wecom_tag_ops_status_idx').on(t.connectionId, t.status, t.updatedAt),
    check('wecom_tag_ops_status_check', sql`${t.status} in ('queued', 'done', 'failed')`),
  ],
);

/** The latest push of one contact to one corp: pending, sent, or dead (its errcode), for the sync screen and a retry. */
export const wecomPushLog = sqliteTable(
  'wecom_push_log',
  {
    connectionId: integer('connection_id').notNull(),
    contactId: integer('contact_id').notNull(),
    status: text('status', { enum: ['queued', 'sent', 'dead'] }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    errcode: integer('errcode'),
    errmsg: text('errmsg'),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.connectionId, t.contactId] }),
    index('wecom_push_log_status_idx').on(t.connectionId, t.status, t.updatedAt),
    check('wecom_push_log_status_check', sql`${t.status} in ('queued', 'sent', 'dead')`),
  ],
);

/*
 * Safe publishing (worker/src/publishing/): plans of one or more publish steps (a scheduled
 * publish, a ramp), the approval they may wait for, and the approval policy per department.
 */

/** A publish plan: the draft as it was confirmed, its steps (JSON `[{percent, at}]`), and where it is. */
export const publishPlans = sqliteTable(
  'publish_plans',
  {
    id: integer('id').primaryKey(),
    ruleId: integer('rule_id')
      .notNull()
      .references(() => rules.id),
    state: text('state', { enum: PLAN_STATES }).notNull(),
    /** JSON `[{ percent, at }]`: `at` epoch ms, or null for "as soon as it may run" */
    steps: text('steps').notNull(),
    /** the next step to apply; steps before it have a `publish_plan_runs` row */
    nextStep: integer('next_step').notNull().default(0),
    graphHash: text('graph_hash').notNull(),
    /** the draft as confirmed (what the approver sees; publishing refuses unless the draft is still this) */
    graph: text('graph').notNull(),
    /** JSON `PlanPreview`: the counts confirmed at request time */
    preview: text('preview').notNull(),
    /** the published version when requested: the approver's diff is against the version published now */
    baseVersion: integer('base_version'),
    note: text('note'),
    /** JSON `PlanReason` once refused, rejected or paused */
    reason: text('reason'),
    requestedBy: integer('requested_by')
      .notNull()
      .references(() => users.id),
    requestedAt: integer('requested_at').notNull(),
    decidedBy: integer('decided_by').references(() => users.id),
    decidedAt: integer('decided_at'),
    /** alerts raised before this do not pause the plan again (set when resumed by hand) */
    resumedAt: integer('resumed_at'),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    // one live plan per rule: two schedules of one draft would race each other
    uniqueIndex('publish_plans_live_idx')
      .on(t.ruleId)
      .where(sql`${t.state} in ('awaiting_approval', 'scheduled', 'paused')`),
    index('publish_plans_state_idx').on(t.state),
    check('publish_plans_state_check', sql`${t.state} in (${inList(PLAN_STATES)})`),
  ],
);

/** One applied step: the key makes a step publish once, however many cron ticks reach it together. */
export const publishPlanRuns = sqliteTable(
  'publish_plan_runs',
  {
    planId: integer('plan_id')
      .notNull()
      .references(() => publishPlans.id),
    step: integer('step').notNull(),
    version: integer('version').notNull(),
    ranAt: integer('ran_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.planId, t.step] })],
);

/** Per department: whether its department admins' publishes wait for a super admin (applies to the subtree). */
export const publishPolicies = sqliteTable('publish_policies', {
  departmentId: integer('department_id')
    .primaryKey()
    .references(() => departments.id),
  requireApproval: integer('require_approval', { mode: 'boolean' }).notNull(),
  updatedBy: integer('updated_by').references(() => users.id),
  updatedAt: integer('updated_at').notNull(),
});

/**
 * Learned rule suggestions (issue 19, worker/src/learn/): a request to learn a draft rule from an
 * outcome, trained by the `segflow-suggestions` queue job. `result` is JSON `SuggestionResult`
 * (draft graph, leaves with held-out numbers, whole rule and baseline); `rule_ids` JSON, the
 * draft rules made from it. A failure ends `failed` with `error` in words, never a stuck `running`.
 */
export const ruleSuggestions = sqliteTable(
  'rule_suggestions',
  {
    id: integer('id').primaryKey(),
    /** the requester's department: contacts of its subtree are learned from (null: company-wide) */
    departmentId: integer('department_id').references(() => departments.id),
    status: text('status', { enum: ['queued', 'running', 'done', 'failed'] }).notNull(),
    /** 0–100 */
    progress: integer('progress').notNull().default(0),
    loaded: integer('loaded').notNull().default(0),
    total: integer('total').notNull().default(0),
    /** JSON `SuggestionParams` */
    params: text('params').notNull(),
    /** the tag's or segment's name when asked (as it was then) */
    outcomeName: text('outcome_name'),
    result: text('result'),
    /** why it failed: `SuggestionErrorCode`, and the reason in words */
    errorCode: text('error_code'),
    error: text('error'),
    ruleIds: text('rule_ids').notNull().default('[]'),
    createdBy: integer('created_by').references(() => users.id),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    finishedAt: integer('finished_at'),
  },
  (t) => [
    index('rule_suggestions_created_idx').on(t.createdAt),
    check('rule_suggestions_status_check', sql`${t.status} in ('queued', 'running', 'done', 'failed')`),
  ],
);
