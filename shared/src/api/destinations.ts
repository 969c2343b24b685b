import { z } from 'zod';

/**
 * Outbound destinations (super admins, data-sources screen): where call-webhook and notify
 * actions send. The secret signs every delivery in the scheme inbound webhooks use
 * (`X-Segflow-Timestamp`, `X-Segflow-Signature: sha256=<hex>` of `timestamp + "." + body`) and is
 * shown once, on create and rotate.
 *
 * - `GET /api/destinations` → `{ items: DestinationSummary[] }` (rule editors may list them to
 *   pick one in an action; only super admins see URLs and manage them);
 * - `POST /api/destinations` (`createDestinationBody`) → 201 `CreatedDestination`;
 * - `POST /api/destinations/:id/rotate` → `CreatedDestination` (the new secret; the old one stops signing at once);
 * - `POST /api/destinations/:id/revoke` → `DestinationSummary` (deliveries to it are dead from then on);
 * - `POST /api/destinations/:id/test` (`testDeliveryBody`) → 202 `TestDeliveryResult`: a synthetic delivery through the queue;
 * - `GET /api/destinations/dead-letters?destinationId=` → `{ items: DeadLetter[] }` (newest failure first);
 * - `POST /api/destinations/dead-letters/:deliveryId/retry` and `POST /api/destinations/:id/retry-dead` → `RetryResult`.
 */
export const DESTINATION_KINDS = ['webhook', 'notify'] as const;
export type DestinationKind = (typeof DESTINATION_KINDS)[number];

export const createDestinationBody = z.strictObject({
  name: z.string().trim().min(1, 'is required').max(60, 'must be at most 60 characters'),
  /** `webhook`: call-webhook actions post here; `notify`: owner notifications go here until WeCom messaging is connected. */
  kind: z.enum(DESTINATION_KINDS),
  url: z
    .string()
    .trim()
    .max(2000)
    .url('must be an absolute http(s) URL')
    .refine((u) => /^https?:\/\//i.test(u), 'must be an absolute http(s) URL'),
  /** Per-attempt timeout. */
  timeoutMs: z.number().int().min(1000).max(30_000).default(10_000),
  /** At most this many deliveries to this destination in flight at once. */
  concurrency: z.number().int().min(1).max(50).default(5),
});
export type CreateDestinationBody = z.output<typeof createDestinationBody>;

/** A destination as pickers and lists show it. `url` is null for viewers who may not manage destinations. */
export interface DestinationSummary {
  id: number;
  name: string;
  kind: DestinationKind;
  url: string | null;
  timeoutMs: number;
  concurrency: number;
  createdAt: number;
  revokedAt: number | null;
}

/** `POST /api/destinations` and `…/:id/rotate`: the only answers that carry the signing secret. Show once, then forget. */
export interface CreatedDestination {
  destination: DestinationSummary;
  secret: string;
}

/** Most synthetic deliveries one test request may enqueue (above 1 only where `ALLOW_BULK_TEST_DELIVERIES` is "true": the bench). */
export const MAX_TEST_DELIVERIES = 10_000;

/** `POST /api/destinations/:id/test`: one synthetic delivery (or `count`, for the bench on a dev server). */
export const testDeliveryBody = z.strictObject({
  count: z.number().int('must be a whole number').min(1, 'must be at least 1').max(MAX_TEST_DELIVERIES).default(1),
});
export type TestDeliveryBody = z.output<typeof testDeliveryBody>;

export interface TestDeliveryResult {
  /** The delivery ids enqueued, in order (the bench checks every one of them arrives). */
  deliveryIds: string[];
  enqueued: number;
}

/** A delivery that failed every attempt (or was refused by the receiver), as the dead-letter list shows it. */
export interface DeadLetter {
  deliveryId: string;
  destination: { id: number; name: string };
  kind: 'call_webhook' | 'notify';
  /** Rule id 0: a test delivery. `name` is null when the rule was since deleted. */
  rule: { id: number; version: number; name: string | null; nodeId: string };
  contactId: number;
  attempts: number;
  lastAttemptAt: number | null;
  /** HTTP status of the last answer; null for a network error or a timeout. */
  lastStatus: number | null;
  reason: string | null;
}

/** `GET /api/destinations/dead-letters`: at most `DEAD_LETTER_PAGE` rows, `total` counts all of them. */
export interface DeadLetterList {
  items: DeadLetter[];
  total: number;
}
export const DEAD_LETTER_PAGE = 200;

export const deadLetterQuery = z.strictObject({
  destinationId: z
    .string()
    .regex(/^\d{1,15}$/, 'must be a destination id')
    .transform(Number)
    .optional(),
});

/** Retry answers: how many dead letters went back on the queue. */
export interface RetryResult {
  requeued: number;
}
