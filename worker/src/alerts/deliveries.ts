/**
 * Alerts sent through the outbound channel: an alert rule naming a destination owes each alert
 * it raises one delivery, on the deliveries queue like a rule's (worker/src/outbound/enqueue.ts),
 * signed, retried and dead-lettered by the same consumer. Its id is stable per alert (the alert
 * rule and the time it was raised, stored with the alert at raise time), so a second enqueue —
 * a tick after a failed one — carries the same id and the receiver (and our delivery log) drops
 * the copy. `enqueued_at` marks the alerts the queue has; the others are tried every tick.
 */
import type { AlertKind, AlertMeasured } from '@shared/api/alerts';
import { parseJsonOr } from '@shared/json';
import { DAY_MS } from '@shared/time';
import { deliveryId, enqueueDeliveries, type DeliveryMessage } from '../outbound/enqueue';
import { TARGET_COLUMNS, targetOf, type TargetColumns } from './target';
import { alertText } from './text';

/** The delivery id of the alert raised by `alertRuleId` at `raisedAt` (one alert per rule and time). */
export function alertDeliveryId(alertRuleId: number, raisedAt: number): Promise<string> {
  return deliveryId({ ruleId: 0, ruleVersion: 0, nodeId: alertNode(alertRuleId, raisedAt), contactId: 0, runRef: 'alert' });
}

const alertNode = (alertRuleId: number, raisedAt: number) => `alert:${alertRuleId}:${raisedAt}`;

type Pending = TargetColumns & {
  id: number;
  alert_rule_id: number;
  kind: AlertKind;
  measured: string;
  raised_at: number;
  delivery_id: string;
  rule_name: string;
  destination_id: number;
  destination_kind: 'webhook' | 'notify';
};

/** Alerts not yet on the queue are retried for a day; after that the receiver would only learn old news. */
const RETRY_FOR_MS = DAY_MS;

/** Enqueues the deliveries of raised alerts the queue does not have yet; answers how many it sent. */
export async function sendAlertDeliveries(env: Pick<Env, 'DB' | 'DELIVERIES'>, at: number): Promise<number> {
  const db = env.DB;
  const { results } = await db
    .prepare(
      `SELECT a.id, a.alert_rule_id, a.kind, a.measured, a.raised_at, a.delivery_id, ar.name AS rule_name,
         ar.destination_id, d.kind AS destination_kind, ${TARGET_COLUMNS}
       FROM alerts a JOIN alert_rules ar ON ar.id = a.alert_rule_id JOIN destinations d ON d.id = ar.destination_id
       WHERE a.delivery_id IS NOT NULL AND a.enqueued_at IS NULL AND a.raised_at > ? ORDER BY a.id LIMIT 100`,
    )
    .bind(at - RETRY_FOR_MS)
    .all<Pending>();
  if (!results.length) return 0;
  const messages: DeliveryMessage[] = results.map((r) => {
    const measured = parseJsonOr<AlertMeasured>(r.measured, { kind: 'dead_letters', intake: 0, deliveries: 0, since: 0 });
    const target = targetOf(r.kind, r);
    return {
      id: r.delivery_id,
      destinationId: r.destination_id,
      kind: r.destination_kind === 'notify' ? 'notify' : 'call_webhook',
      rule: { id: 0, version: 0, name: r.rule_name, nodeId: alertNode(r.alert_rule_id, r.raised_at) },
      contact: { id: 0, externalId: 'alert', name: null, ownerUserId: null },
      tagChanges: [],
      text: alertText(r.rule_name, target, measured),
      cause: { kind: 'alert', ref: `alert:${r.id}` },
      at: r.raised_at,
      alert: { id: r.id, alertRuleId: r.alert_rule_id, name: r.rule_name, kind: r.kind, target, measured, raisedAt: r.raised_at },
    };
  });
  try {
    await enqueueDeliveries(env, messages);
  } catch (e) {
    console.error('alerts: deliveries not enqueued; tried again next tick', e);
    return 0;
  }
  const ids = results.map((r) => r.id);
  await db.prepare(`UPDATE alerts SET enqueued_at = ? WHERE id IN (SELECT value FROM json_each(?))`).bind(at, JSON.stringify(ids)).run();
  return messages.length;
}
