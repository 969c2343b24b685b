import { z } from 'zod';

/**
 * Outbound destinations (super admins, data-sources screen): where call-webhook and notify
 * actions send. The secret signs every delivery in the scheme inbound webhooks use
 * (`X-Segflow-Timestamp`, `X-Segflow-Signature: sha256=<hex>` of `timestamp + "." + body`) and is
 * shown once, on create and rotate.
 *
 * - `GET /api/destinations` → `{ items: DestinationSummary[] }` (rule editors may list them to
 *   pick one in an action; only super admins see URLs and manage them);
 * - `POST /api/destinations` (`createDestinationBody`) → 201 `CreatedDestination`.
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
