import { z } from 'zod';
import { CONTACT_KINDS, DEVICES, EVENT_TYPES, GENDERS, type ContactKind, type EventType } from '../domain';

/**
 * The generic webhook, `POST /api/webhooks/:sourceId`.
 *
 * Signature: the sender sends `X-Segflow-Timestamp: <unix seconds>` and
 * `X-Segflow-Signature: sha256=<hex>`, where hex = HMAC-SHA256(source secret,
 * `<timestamp> + "." + <raw request body bytes>`). A timestamp more than 5 minutes away from
 * the server's clock, in either direction, is refused: a captured request cannot be replayed
 * later, and a replayed event inside the window is deduplicated by its `id`.
 *
 * Answer: `202` {@link WebhookQueued} once the events are on the intake queue (checked: source,
 * signature, timestamp window, every field). A 2xx means "accepted, will be stored": the events
 * are stored, aggregates move and rules run shortly after, in the queue's consumer, at least once
 * (a retry of an event already stored is recognized by its `id` and changes nothing). A `4xx`
 * names what is wrong and nothing was queued; a `503` means the queue refused the events for
 * now: send the same request again.
 */
export const SIGNATURE_HEADER = 'X-Segflow-Signature';
export const TIMESTAMP_HEADER = 'X-Segflow-Timestamp';
/** How far the signed timestamp may be from the server's clock, either way. */
export const SIGNATURE_WINDOW_SECONDS = 300;
/** Events in one request. */
export const MAX_EVENTS_PER_REQUEST = 500;

const text = (max: number) => z.string().max(max, `must be at most ${max} characters`);

/**
 * Attributes of the contact an event is about. `externalId` finds (or creates) the contact;
 * the other attributes, when given, overwrite the stored ones (absent = unchanged).
 */
export const webhookContact = z
  .object({
    externalId: z.string().min(1, 'must not be empty').max(128, 'must be at most 128 characters'),
    kind: z.enum(CONTACT_KINDS).optional(),
    name: text(100).optional(),
    remark: text(200).optional(),
    gender: z.enum(GENDERS).optional(),
    region: text(50).optional(),
    city: text(50).optional(),
    occupation: text(100).optional(),
    company: text(100).optional(),
    device: z.enum(DEVICES).optional(),
    sourceChannel: text(100).optional(),
  })
  .strict();
export type WebhookContact = z.output<typeof webhookContact>;

/** Earliest accepted `occurredAt`: 2000-01-01T00:00:00Z. */
export const MIN_OCCURRED_AT = 946_684_800_000;

/** One event. Unknown fields are refused, so a typo (`ammount`) is an error, not a silent 0. */
export const webhookEvent = z
  .object({
    /** The sender's id for this event: the dedupe key (with the source). */
    id: z.string().min(1, 'must not be empty').max(128, 'must be at most 128 characters'),
    type: z.enum(EVENT_TYPES, { error: `must be one of ${EVENT_TYPES.join(', ')}` }),
    /** Epoch milliseconds; defaults to the time of receipt. */
    occurredAt: z
      .number()
      .int('must be whole epoch milliseconds')
      .min(MIN_OCCURRED_AT, 'must be epoch milliseconds after 2000-01-01')
      .optional(),
    contact: webhookContact,
    /** Purchase amount in fen (1/100 yuan). */
    amount: z.number().int('must be whole fen').min(0, 'must not be negative').max(1e12, 'is too large').optional(),
    channel: text(100).optional(),
    groupId: text(128).optional(),
    /** Message text (keyword rules) or article title. */
    text: text(4000).optional(),
    /** Anything else, kept verbatim. */
    properties: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
export type WebhookEvent = z.output<typeof webhookEvent>;

/** The body: one event, or `{ events: [...] }` with up to `MAX_EVENTS_PER_REQUEST`. */
export const webhookBatch = z
  .object({
    events: z
      .array(webhookEvent)
      .min(1, 'must contain at least one event')
      .max(MAX_EVENTS_PER_REQUEST, `must contain at most ${MAX_EVENTS_PER_REQUEST} events`),
  })
  .strict();

/** `202` answer of the generic webhook: the ids of the events queued, in the order sent. */
export interface WebhookQueued {
  queued: string[];
}

/** What the ingest pipeline did with one event (the consumer's outcome; no longer sent to the sender). */
export type WebhookEventStatus =
  | 'accepted' // stored, aggregates updated, rules run
  | 'duplicate' // seen before (or earlier in the same request): acknowledged, nothing changed
  | 'ignored'; // (WeCom) a callback that carries no contact event

export interface WebhookEventResult {
  id: string;
  status: WebhookEventStatus;
  /** Tag changes the rules made for this event, in order. */
  tagChanges?: { tagId: number; op: 'add' | 'remove'; ruleId: number; ruleVersion: number }[];
  reason?: string;
}

/** The ingest pipeline's outcome for one run (worker/src/ingest/pipeline.ts `ingest`). */
export interface WebhookResponse {
  received: number;
  accepted: number;
  duplicates: number;
  results: WebhookEventResult[];
}

/** A normalized event as the ingest pipeline takes it (from the generic webhook or the WeCom adapter). */
export interface IngestEvent {
  id: string;
  type: EventType;
  occurredAt: number;
  contact: WebhookContact & { kind?: ContactKind };
  amount?: number;
  channel?: string;
  groupId?: string;
  text?: string;
  properties?: Record<string, unknown>;
}
