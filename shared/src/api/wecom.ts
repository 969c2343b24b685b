import { z } from 'zod';

/**
 * A connected WeCom corp (企业微信, super admins, data-sources screen › 企业微信):
 * the corp id, the 客户联系 secret, the self-built app's agent id and secret, and the WeCom
 * event source that receives its callbacks. Secrets are sealed at rest and never returned: a
 * summary says whether each is set, when it last changed and what its last test answered.
 *
 * - `GET /api/wecom/connections` → `{ items: WecomConnectionSummary[] }`;
 * - `POST /api/wecom/connections` (`createWecomConnectionBody`) → 201 `WecomConnectionSummary` (409 when the corp is connected);
 * - `PATCH /api/wecom/connections/:id` (`updateWecomConnectionBody`) → `WecomConnectionSummary`;
 * - `POST /api/wecom/connections/:id/test` → `WecomConnectionTestResult`: gettoken with each secret set;
 * - `DELETE /api/wecom/connections/:id` → `{ deleted: true }` (its cached tokens go with it).
 */

/** The two credentials a connection holds: the 客户联系 secret and the self-built app's secret. */
export const WECOM_APPS = ['contact', 'agent'] as const;
export type WecomApp = (typeof WECOM_APPS)[number];

/**
 * A tag group's conflict policy once it is in WeCom: `segflow` ("Segflow owns": rules decide,
 * changes are pushed, WeCom-side edits reverted) or `wecom` ("WeCom owns": pulled only, rules read).
 */
export const WECOM_POLICIES = ['segflow', 'wecom'] as const;
export type WecomPolicy = (typeof WECOM_POLICIES)[number];

const corpId = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be the CorpID from the WeCom admin console (我的企业 › 企业信息: letters and digits)');
/** WeCom shows secrets as 43 letters, digits, "-" and "_"; a little slack for what it may issue later. */
const secret = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9_-]{16,128}$/, 'must be the Secret as WeCom shows it (16–128 letters, digits, "-" or "_")');
const agentId = z
  .number({ error: 'must be a number' })
  .int('must be a whole number')
  .min(1, 'must be the AgentId of the self-built app (a positive number)')
  .max(2_147_483_647, 'must be the AgentId of the self-built app (a positive number)');
const eventSourceId = z.string().trim().min(1, 'is required').max(64, 'must be at most 64 characters');

/** `POST /api/wecom/connections`. Secrets may be added later; a connection without any cannot call WeCom yet. */
export const createWecomConnectionBody = z
  .strictObject({
    corpId,
    contactSecret: secret.optional(),
    agentId: agentId.nullable().optional(),
    agentSecret: secret.optional(),
    /** An event source of kind `wecom` (not revoked, same CorpID) that receives this corp's callbacks; null: none yet. */
    eventSourceId: eventSourceId.nullable().optional(),
  })
  .refine((b) => b.agentSecret === undefined || (b.agentId ?? null) !== null, {
    message: 'is required with an agent secret',
    path: ['agentId'],
  });
export type CreateWecomConnectionBody = z.output<typeof createWecomConnectionBody>;

/**
 * `PATCH /api/wecom/connections/:id`: only what is sent changes. A secret sent replaces the
 * stored one (its cached token and its last test are dropped); `agentSecret: null` removes it.
 * The CorpID cannot change: delete the connection and connect the other corp.
 */
export const updateWecomConnectionBody = z
  .strictObject({
    contactSecret: secret.nullable().optional(),
    agentId: agentId.nullable().optional(),
    agentSecret: secret.nullable().optional(),
    eventSourceId: eventSourceId.nullable().optional(),
  })
  .refine((b) => Object.values(b).some((v) => v !== undefined), { message: 'must change at least one field', path: ['body'] });
export type UpdateWecomConnectionBody = z.output<typeof updateWecomConnectionBody>;

/** An errcode in words, both languages (shared/src/wecom/errcodes.ts). */
export interface WecomErrcodeWords {
  'zh-CN': string;
  en: string;
}

/** The last "test connection" of one secret. */
export interface WecomSecretTest {
  at: number;
  /** WeCom's errcode (0: the secret works); null: WeCom could not be reached (timeout, network, not JSON). */
  errcode: number | null;
  /** WeCom's errmsg, or why it could not be reached. */
  errmsg: string;
  ok: boolean;
  words: WecomErrcodeWords;
}

/** One secret as the API shows it: never its value. */
export interface WecomSecretState {
  set: boolean;
  /** When it was last set or replaced. */
  changedAt: number | null;
  /** Null: not tested since it was set. */
  lastTest: WecomSecretTest | null;
  /** The shared access token (D1 cache): when it was last fetched from WeCom and until when it is valid. */
  token: { refreshedAt: number; expiresAt: number } | null;
}

/**
 * - `connected`: every secret set passed its last test;
 * - `credentials_wrong`: WeCom refused a secret at its last test;
 * - `unreachable`: the last test could not reach WeCom;
 * - `not_tested`: a secret set has not been tested since it changed;
 * - `incomplete`: no secret set yet.
 */
export const WECOM_CONNECTION_STATES = ['connected', 'credentials_wrong', 'unreachable', 'not_tested', 'incomplete'] as const;
export type WecomConnectionState = (typeof WECOM_CONNECTION_STATES)[number];

export interface WecomConnectionSummary {
  id: number;
  corpId: string;
  agentId: number | null;
  secrets: Record<WecomApp, WecomSecretState>;
  /** The WeCom event source receiving this corp's callbacks (null: none linked yet). */
  eventSource: { id: string; name: string; webhookPath: string; revokedAt: number | null } | null;
  state: WecomConnectionState;
  createdAt: number;
  createdBy: { id: number; name: string } | null;
  updatedAt: number;
}

/** `POST /api/wecom/connections/:id/test`: each secret set, tested now (null: not set, not tested). */
export interface WecomConnectionTestResult {
  results: Record<WecomApp, WecomSecretTest | null>;
  connection: WecomConnectionSummary;
}

/** Which of a connection's state a state's secrets give: the worst one wins. */
export function connectionStateOf(secrets: Record<WecomApp, Pick<WecomSecretState, 'set' | 'lastTest'>>): WecomConnectionState {
  const set = WECOM_APPS.map((a) => secrets[a]).filter((s) => s.set);
  if (!set.length) return 'incomplete';
  if (set.some((s) => s.lastTest && s.lastTest.errcode !== null && !s.lastTest.ok)) return 'credentials_wrong';
  if (set.some((s) => s.lastTest && s.lastTest.errcode === null)) return 'unreachable';
  if (set.some((s) => !s.lastTest)) return 'not_tested';
  return 'connected';
}

/**
 * The pull from WeCom (issue 16): a backfill of the corp tag library, follow users, customers with
 * their relations, and customer group chats, page by page through a queue.
 *
 * - `GET /api/wecom/connections/:id/sync` → `WecomSyncState`;
 * - `POST /api/wecom/connections/:id/sync` → 202 `WecomSyncRun` (409 naming the run already running);
 * - `POST /api/wecom/connections/:id/sync/resume` → 202 `WecomSyncRun`: the last failed (or stalled) run from its last page.
 */
export const WECOM_SYNC_PHASES = ['tags', 'follow_users', 'contacts', 'chats'] as const;
export type WecomSyncPhase = (typeof WECOM_SYNC_PHASES)[number];

/** An error a page met (it is retried): WeCom's errcode and its meaning in words. */
export interface WecomSyncError {
  at: number;
  phase: WecomSyncPhase | 'done';
  /** null: WeCom could not be reached, or not a WeCom error */
  errcode: number | null;
  errmsg: string;
  words: WecomErrcodeWords;
}

export interface WecomSyncRun {
  id: number;
  connectionId: number;
  status: 'running' | 'finished' | 'failed';
  /** the phase being paged ('done' once finished) */
  phase: WecomSyncPhase | 'done';
  /** pages written so far */
  pages: number;
  counts: { tagGroups: number; tags: number; followUsers: number; relations: number; customers: number; chats: number };
  rateLimitWaits: number;
  errors: WecomSyncError[];
  startedBy: { id: number; name: string } | null;
  startedAt: number;
  updatedAt: number;
  finishedAt: number | null;
}

export interface WecomSyncState {
  /** the latest run (running, finished or failed) */
  latest: WecomSyncRun | null;
  /** the last run that finished */
  lastFinished: WecomSyncRun | null;
}

/**
 * The push to WeCom (issue 16; README "Push to WeCom"): tag groups mirrored as corp tag groups,
 * Segflow's tag changes sent with mark_tag, and who decides when both sides edit (the policy).
 *
 * - `GET /api/wecom/connections/:id/push` → `WecomPushStatus`;
 * - `POST /api/wecom/connections/:id/push` → `WecomPushNowResult`: mirror and drain now, instead of at the next minute;
 * - `POST /api/wecom/connections/:id/push/retry` → `WecomRetryResult`: failed pushes sent again, and
 *   failed renames / deletions of mirrored corp tags asked for again;
 * - `PUT /api/wecom/tag-groups/:id` (`wecomGroupSettingsBody`) → `WecomGroupSettings`.
 */
/** `POST /api/wecom/connections/:id/push/retry`: what was queued again. */
export interface WecomRetryResult {
  /** failed pushes (contacts) */
  requeued: number;
  /** failed renames / deletions of mirrored corp tags (edit_corp_tag / del_corp_tag) */
  tagOps: number;
}

export const wecomGroupSettingsBody = z.strictObject({
  /** 同步到企业微信: the group and its tags are created as corp tags (by this app) in every connected corp. */
  sync: z.boolean({ error: 'must be true or false' }),
  /** 冲突策略, once the group is in WeCom. */
  policy: z.enum(WECOM_POLICIES, { error: `must be one of ${WECOM_POLICIES.join(', ')}` }),
});
export type WecomGroupSettingsBody = z.output<typeof wecomGroupSettingsBody>;

export interface WecomGroupSettings {
  id: number;
  name: string;
  sync: boolean;
  policy: WecomPolicy;
  /** mapped from a corp tag group, mirrored or pulled (so the policy applies even with `sync` off) */
  inWecom: boolean;
  /** the group came from WeCom (the pull), not from a mirror of ours */
  pulled: boolean;
  /** active tags, and how many of them are corp tags of this connection */
  tags: number;
  mappedTags: number;
  /** tags whose WeCom name (path joined with "/") passes WeCom's 30 characters: never created */
  tooLong: string[];
}

/** A push WeCom kept refusing (dead letter), with the errcode in words. */
export interface WecomFailedPush {
  contactId: number;
  contactName: string;
  errcode: number | null;
  errmsg: string | null;
  words: WecomErrcodeWords | null;
  attempts: number;
  at: number;
}

export interface WecomPushStatus {
  groups: WecomGroupSettings[];
  /** contacts by push state: waiting in the queue, sent, dead */
  pushes: { queued: number; sent: number; dead: number };
  /** mark_tag calls WeCom accepted */
  marked: number;
  /** manual WeCom edits of Segflow-owned tags found (callbacks or backfill) and reverted */
  reverted: number;
  /** corp tags this app created */
  createdTags: number;
  /** corp tags in the company at the last mirror, and WeCom's limit */
  wecomTags: number | null;
  tagLimit: number;
  mirroredAt: number | null;
  /** the latest failed pushes, newest first (at most 20) */
  failed: WecomFailedPush[];
  /** renames and deletions of mirrored corp tags and groups (edit_corp_tag / del_corp_tag) */
  tagOps: WecomTagOps;
}

/** The latest rename or deletion of one mirrored corp tag or group. */
export interface WecomTagOp {
  kind: 'group' | 'tag';
  wecomId: string;
  segflowId: number;
  /** the Segflow tag or group's name now (null: gone) */
  segflowName: string | null;
  op: 'rename' | 'delete';
  /** the WeCom name asked for (rename) or deleted */
  name: string;
  status: 'queued' | 'done' | 'failed';
  attempts: number;
  errcode: number | null;
  words: WecomErrcodeWords | null;
  at: number;
}

export interface WecomTagOps {
  counts: { queued: number; done: number; failed: number };
  /** failed first, then the latest (at most 20) */
  items: WecomTagOp[];
}

/** What retiring a tag does in WeCom, per connected corp mirroring it. */
export interface WecomRetireImpact {
  corps: {
    connectionId: number;
    corpId: string;
    wecomId: string;
    /** created by this app: del_corp_tag removes it from the customers below; else WeCom keeps it (301002) */
    deletable: boolean;
    customers: number;
    relations: number;
  }[];
}

/** One manual WeCom edit of a Segflow-owned corp tag ("Segflow owns"), as the pull found it. */
export interface WecomOverride {
  id: number;
  at: number;
  contactId: number;
  contactName: string;
  /** the follow user (the member's WeCom userid) whose relation was edited */
  userid: string;
  tagId: number;
  tagName: string;
  /** what the edit in WeCom did */
  op: 'added' | 'removed';
  /** when a push brought the relation back; null while pending */
  revertedAt: number | null;
}

export interface WecomOverridesPage {
  items: WecomOverride[];
  total: number;
  page: number;
  pageSize: number;
}

/** `GET /api/wecom/connections/:id/overrides?page=&pageSize=` */
export const wecomOverridesQuery = z
  .object({
    page: z.coerce.number().int().min(1).max(100_000).default(1),
    pageSize: z.coerce.number().int().min(1).max(100).default(20),
  })
  .strict();

export interface WecomPushNowResult {
  createdTags: number;
  /** contacts whose tags were queued for a push */
  queued: number;
}
