import { z } from 'zod';

/** How long the previous secret of a rotated source keeps verifying, so senders can switch over. */
export const SECRET_GRACE_MS = 24 * 3_600_000;

export const EVENT_SOURCE_KINDS = ['generic', 'wecom'] as const;
export type EventSourceKind = (typeof EVENT_SOURCE_KINDS)[number];

const sourceId = z
  .string()
  .trim()
  .regex(/^[a-z0-9][a-z0-9_-]{1,47}$/, 'must be 2–48 lowercase letters, digits, "-" or "_", starting with a letter or digit');

/** WeCom's rule for the callback Token (回调配置): English letters and digits, at most 32. */
export const WECOM_TOKEN_PATTERN = /^[A-Za-z0-9]{1,32}$/;
/** WeCom's rule for the EncodingAESKey: exactly 43 English letters and digits (the base64 of a 32-byte key, without its "="). */
export const WECOM_AES_KEY_PATTERN = /^[A-Za-z0-9]{43}$/;
/**
 * A CorpID as WeCom's console shows it (我的企业 › 企业信息): "ww" (or "wx" for corps from the
 * 企业号 days) and letters or digits; real ones are 18 characters, a little slack is left for
 * simulated corps.
 */
export const WECOM_CORP_ID_PATTERN = /^w[wx][A-Za-z0-9]{6,30}$/;

const wecomToken = z
  .string()
  .trim()
  .regex(WECOM_TOKEN_PATTERN, "must be 1–32 English letters or digits, as the Token in WeCom's callback settings");
const wecomAesKey = z
  .string()
  .trim()
  .regex(WECOM_AES_KEY_PATTERN, "must be exactly 43 English letters or digits, as the EncodingAESKey in WeCom's callback settings");

/** Both or neither: a Token and an EncodingAESKey entered as WeCom's console shows them; neither: generate a pair. */
const bothOrNeither = (b: { token?: string; encodingAesKey?: string }, ctx: z.RefinementCtx) => {
  if (b.token !== undefined && b.encodingAesKey === undefined)
    ctx.addIssue({
      code: 'custom',
      path: ['encodingAesKey'],
      message: 'is required with a token (enter both, or neither to generate them)',
    });
  if (b.encodingAesKey !== undefined && b.token === undefined)
    ctx.addIssue({
      code: 'custom',
      path: ['token'],
      message: 'is required with an encodingAesKey (enter both, or neither to generate them)',
    });
};

/**
 * `POST /api/event-sources` (super admins) → 201 `EventSourceCredentials`: the secret (generic) or
 * Token + EncodingAESKey (WeCom) are in this answer only, never again. A WeCom source's Token and
 * EncodingAESKey are generated, or entered as WeCom's console shows them (`token` +
 * `encodingAesKey`), so a callback already configured in WeCom can be moved here. `id` is the
 * URL slug (`/api/webhooks/<id>`); 409 when it is taken.
 */
export const createEventSourceBody = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('generic'),
    id: sourceId,
    name: z.string().trim().min(1, 'is required').max(60, 'must be at most 60 characters'),
  }),
  z
    .strictObject({
      kind: z.literal('wecom'),
      id: sourceId,
      name: z.string().trim().min(1, 'is required').max(60, 'must be at most 60 characters'),
      corpId: z
        .string()
        .trim()
        .regex(WECOM_CORP_ID_PATTERN, 'must be the CorpID from the WeCom admin console (我的企业 › 企业信息: "ww" and letters or digits)'),
      token: wecomToken.optional(),
      encodingAesKey: wecomAesKey.optional(),
    })
    .superRefine(bothOrNeither),
]);
export type CreateEventSourceBody = z.output<typeof createEventSourceBody>;

/**
 * `POST /api/event-sources/:id/rotate` → `EventSourceCredentials`. A generic source gets a new
 * secret (body `{}`). A WeCom source gets a generated pair (`{}`) or the pair entered as WeCom's
 * console shows it (`token` + `encodingAesKey`); either way the previous pair keeps verifying
 * for `SECRET_GRACE_MS`, until it is saved in WeCom's console.
 */
export const rotateEventSourceBody = z
  .strictObject({ token: wecomToken.optional(), encodingAesKey: wecomAesKey.optional() })
  .superRefine(bothOrNeither);
export type RotateEventSourceBody = z.output<typeof rotateEventSourceBody>;

/** A source as lists show it: no secret, ever. */
export interface EventSourceSummary {
  id: string;
  name: string;
  kind: EventSourceKind;
  /** WeCom sources: the CorpID messages must be addressed to (not a secret). */
  corpId: string | null;
  /** Path senders post to. */
  webhookPath: string;
  createdAt: number;
  createdBy: { id: number; name: string } | null;
  revokedAt: number | null;
  /** After a rotation: until when the previous secret is still accepted (null: none). */
  previousSecretExpiresAt: number | null;
  stats: {
    /** Events stored from this source, all time (duplicates are not stored and not counted). */
    total: number;
    /** Events received in the last 24 hours. */
    last24h: number;
    lastEventAt: number | null;
  };
}

/** The only answers that carry credentials: create and rotate. Show once, then forget. */
export interface EventSourceCredentials {
  source: EventSourceSummary;
  /** generic: the HMAC-SHA256 signing secret. */
  secret?: string;
  /**
   * WeCom: what to paste into the WeCom admin console's callback settings. `entered`: the pair
   * was entered by hand (it already is in WeCom's console), not generated.
   */
  wecom?: { token: string; encodingAesKey: string; corpId: string; entered: boolean };
}
