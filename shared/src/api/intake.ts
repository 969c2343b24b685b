import { z } from 'zod';
import { idParam, intParam, type Page } from './common';

/**
 * Intake dead letters (super admins): webhook events that were accepted (202 / `success`) but
 * could not be stored — they failed every delivery of the intake queue (5), their source was
 * revoked before they were accepted, or the message could not be read.
 *
 * - `GET /api/intake/dead-letters?page=&pageSize=&pending=true` → `Page<IntakeDeadLetter>`, newest first;
 *   `pending=true` lists only those not requeued yet.
 * - `POST /api/intake/dead-letters/:id/requeue` (no body) → the letter, now with `requeuedAt`:
 *   its message goes back to the intake queue as it was (same received time); 409 if it was
 *   requeued already, 503 `unavailable` if the queue refused it. Audited as `event_source.requeue`.
 *
 * The events themselves (contact attributes: personal data) are stored sealed and never listed.
 */
export const deadLetterListQuery = z
  .object({
    page: intParam(1, 100_000).default(1),
    pageSize: intParam(1, 100).default(20),
    pending: z.enum(['true', 'false']).optional(),
  })
  .strict();

export const deadLetterIdPath = z.object({ id: idParam }).strict();

export interface IntakeDeadLetter {
  id: number;
  sourceId: string;
  /** epoch ms the webhook accepted the event */
  receivedAt: number;
  /** the sender's event ids */
  eventIds: string[];
  /** the last error, or why the event was refused */
  reason: string;
  /** deliveries tried */
  attempts: number;
  deadAt: number;
  requeuedAt: number | null;
  requeuedBy: { id: number; email: string | null } | null;
}

export type IntakeDeadLetterList = Page<IntakeDeadLetter>;
