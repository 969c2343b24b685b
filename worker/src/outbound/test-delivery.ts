/**
 * Test deliveries (`POST /api/destinations/:id/test`): a synthetic delivery through the real
 * queue, consumer and signature, so an admin sees a new destination work (or fail) before a
 * rule uses it. Rule id 0 and contact id 0 mark it as a test; it names no real contact.
 * More than one per request only where `ALLOW_BULK_TEST_DELIVERIES` is "true" (bench/outbound.ts).
 */
import { auditStatement } from '../audit';
import type { Actor } from '../auth/access';
import { ApiError } from '../errors';
import { getDestination } from './destinations';
import { deliveryId, enqueueDeliveries, type DeliveryMessage } from './enqueue';

export async function sendTestDeliveries(env: Env, destinationId: number, count: number, actor: Actor, now: number): Promise<string[]> {
  if (count > 1 && env.ALLOW_BULK_TEST_DELIVERIES !== 'true') {
    throw new ApiError(400, 'invalid_request', 'count: more than one test delivery needs ALLOW_BULK_TEST_DELIVERIES=true (bench only)', [
      { path: 'count', message: 'must be 1 on this server' },
    ]);
  }
  const db = env.DB;
  const destination = await getDestination(db, destinationId);
  if (destination.revokedAt !== null)
    throw new ApiError(409, 'conflict', `Destination "${destination.name}" is revoked`, [{ path: 'id', message: 'revoked' }]);
  const run = `test:${now}:${crypto.randomUUID()}`;
  const messages: DeliveryMessage[] = [];
  for (let i = 0; i < count; i++) {
    messages.push({
      id: await deliveryId({ ruleId: 0, ruleVersion: 0, nodeId: 'test', contactId: 0, runRef: `${run}:${i}` }),
      destinationId,
      kind: destination.kind === 'notify' ? 'notify' : 'call_webhook',
      rule: { id: 0, version: 0, name: 'Segflow test delivery', nodeId: 'test' },
      contact: { id: 0, externalId: 'test', name: null, ownerUserId: actor.userId },
      tagChanges: [],
      ...(destination.kind === 'notify' ? { text: 'Segflow test notification' } : {}),
      cause: { kind: 'event', ref: run },
      at: now,
    });
  }
  await db.batch([
    auditStatement(db, {
      actor,
      action: 'destination.test',
      objectType: 'destination',
      objectId: destinationId,
      summary: `Sent ${count} test ${count === 1 ? 'delivery' : 'deliveries'} to ${destination.name}`,
      params: { name: destination.name, count },
      at: now,
    }),
  ]);
  await enqueueDeliveries(env, messages);
  return messages.map((m) => m.id);
}
