/**
 * The one door into outbound delivery: rule runs (publish, the cron, event intake) hand the
 * deliveries their actions produce to `enqueueDeliveries`; the deliveries queue's consumer
 * (worker/src/outbound/) signs and sends them, retries with backoff and keeps the dead ones.
 *
 * A delivery's `id` is stable: the same rule version, action node, contact and run always give
 * the same id (`deliveryId`), so a redelivered queue message or a re-run produces the same id
 * and receivers (and our own delivery log) can drop the copy.
 */
import { sha256Hex } from '../crypto/sha256';

/** What happened to the contact in the run that produced the delivery, as the receiver reads it. */
export interface DeliveryTagChange {
  tagId: number;
  tagName: string;
  change: 'added' | 'removed';
}

/** One message on the deliveries queue. Plain JSON (queue messages are structured-cloned). */
export interface DeliveryMessage {
  /** Stable id (see `deliveryId`); the receiver's dedupe key, sent as `X-Segflow-Delivery`. */
  id: string;
  destinationId: number;
  /** `call_webhook` posts the payload; `notify` asks the owner's channel to show `text`. */
  kind: 'call_webhook' | 'notify';
  rule: { id: number; version: number; name: string; nodeId: string };
  contact: { id: number; externalId: string; name: string | null; ownerUserId: number | null };
  /** The tag changes this run made to the contact (empty for an event-triggered call that changed none). */
  tagChanges: DeliveryTagChange[];
  /** notify only: the message, placeholders already filled. */
  text?: string;
  /** What caused the run: `publish`, `schedule`, the triggering event's id, or an alert (`alert:<id>`). */
  cause: { kind: 'publish' | 'schedule' | 'event' | 'alert'; ref: string };
  /**
   * An alert's delivery (worker/src/alerts/deliveries.ts): rule id 0 and contact id 0 as for test
   * deliveries, the node `alert:<alert rule>:<raised at>`, and what was measured here.
   */
  alert?: DeliveryAlert;
  /** Epoch ms the rule run happened. */
  at: number;
}

/** What a receiver learns about an alert (the structured form of `text`). */
export interface DeliveryAlert {
  id: number;
  alertRuleId: number;
  name: string;
  kind: string;
  target: { type: string; id: number | string | null; name: string | null };
  measured: Record<string, unknown>;
  raisedAt: number;
}

/** The stable id of the delivery one action node makes for one contact in one run. */
export function deliveryId(p: { ruleId: number; ruleVersion: number; nodeId: string; contactId: number; runRef: string }): Promise<string> {
  return sha256Hex(`${p.ruleId}:${p.ruleVersion}:${p.nodeId}:${p.contactId}:${p.runRef}`);
}

/** The queue accepts at most 100 messages per sendBatch. */
const SEND_BATCH = 100;

/** Puts deliveries on the deliveries queue (in chunks of 100). Resolves once the queue has them all. */
export async function enqueueDeliveries(env: Pick<Env, 'DELIVERIES'>, deliveries: readonly DeliveryMessage[]): Promise<void> {
  for (let i = 0; i < deliveries.length; i += SEND_BATCH) {
    await env.DELIVERIES.sendBatch(deliveries.slice(i, i + SEND_BATCH).map((body) => ({ body, contentType: 'json' as const })));
  }
}
