import { z } from 'zod';

/** How long the previous secret of a rotated source keeps verifying, so senders can switch over. */
export const SECRET_GRACE_MS = 24 * 3_600_000;

export const EVENT_SOURCE_KINDS = ['generic', 'wecom'] as const;
export type EventSourceKind = (typeof EVENT_SOURCE_KINDS)[number];

const sourceId = z
  .string()
  .trim()
  .regex(/^[a-z0-9][a-z0-9_-]{1,47}$/, 'must be 2–48 lowercase letters, digits, "-" or "_", starting with a letter or digit');

/**
 * `POST /api/event-sources` (super admins) → 201 `CreatedEventSource`: the secret (generic) or
 * Token + EncodingAESKey (WeCom) are in this answer only, never again. `id` is the URL slug
 * (`/api/webhooks/<id>`); 409 when it is taken.
 */
export const createEventSourceBody = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('generic'),
    id: sourceId,
    name: z.string().trim().min(1, 'is required').max(60, 'must be at most 60 characters'),
  }),
  z.strictObject({
    kind: z.literal('wecom'),
    id: sourceId,
    name: z.string().trim().min(1, 'is required').max(60, 'must be at most 60 characters'),
    corpId: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be the CorpID from the WeCom admin console (letters and digits)'),
  }),
]);
export type CreateEventSourceBody = z.output<typeof createEventSourceBody>;

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
  /** WeCom: what to paste into the WeCom admin console's callback settings. */
  wecom?: { token: string; encodingAesKey: string; corpId: string };
}
