/**
 * The intake queue's message and the one function that sends to it.
 *
 * One message per event: the queue's retries, its dead-letter queue and the consumer's
 * isolation of a failing message then work per event, so one bad event never holds back (or
 * dead-letters) the others of its request; the consumer still writes a whole batch of them (up
 * to 100) in one pipeline run per source. For single-event requests (WeCom, most generic
 * senders: what bench/ingest.ts measures) one message per request would be the same message;
 * for a 500-event request it costs five `sendBatch` calls instead of one (not measured apart).
 *
 * A message carries what the pipeline needs besides the source row (which the consumer reads
 * again): the source id, the received time and the normalized event. An event is at most ~13 KB
 * as JSON (text ≤ 4000 characters, properties ≤ 8000, the rest short), far under the queue's
 * 128 KB per message.
 */
import type { IngestEvent } from '@shared/api/webhooks';

export interface IntakeMessage {
  /** shape version: a consumer that meets another refuses it to the dead letters instead of guessing */
  v: 1;
  sourceId: string;
  /** epoch ms the route accepted the request (after signature and validation) */
  receivedAt: number;
  event: IngestEvent;
}

/** A queue's limits per `sendBatch`: 100 messages and 256 KB in all (we stay under both with margin). */
const MAX_SEND_MESSAGES = 100;
const MAX_SEND_BYTES = 240_000;

const encoder = new TextEncoder();

/** Raised when the queue refused the events: the route answers 503 and the sender retries. */
export class IntakeUnavailable extends Error {}

/**
 * Queues `events` of `sourceId`, in as few `sendBatch` calls as the limits allow. If a call fails
 * after earlier ones succeeded, those events are queued and the sender's retry brings them again:
 * the pipeline's dedupe by (source, event id) makes that harmless.
 */
export async function enqueueEvents(
  queue: Queue<IntakeMessage>,
  sourceId: string,
  events: IngestEvent[],
  receivedAt: number,
): Promise<void> {
  let chunk: MessageSendRequest<IntakeMessage>[] = [];
  let bytes = 0;
  const send = async () => {
    if (!chunk.length) return;
    try {
      await queue.sendBatch(chunk);
    } catch (e) {
      throw new IntakeUnavailable(`the intake queue refused the events: ${(e as Error).message}`);
    }
    chunk = [];
    bytes = 0;
  };
  for (const event of events) {
    const body: IntakeMessage = { v: 1, sourceId, receivedAt, event };
    const size = encoder.encode(JSON.stringify(body)).length;
    if (chunk.length === MAX_SEND_MESSAGES || bytes + size > MAX_SEND_BYTES) await send();
    chunk.push({ body, contentType: 'json' });
    bytes += size;
  }
  await send();
}
