/**
 * Outbound destinations (`/api/destinations`): where call-webhook and notify actions send, and
 * the dead letters of those deliveries. Rule editors (department admins and up) may list
 * destinations to pick one in an action, without their URLs; everything else is for super
 * admins. The work lives in worker/src/outbound/.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../app-env';
import { validate } from '../validate';
import { actorOf, hasRole, requireRole } from '../auth/access';
import { emptyBody } from '@shared/api/taxonomy';
import {
  createDestinationBody,
  deadLetterQuery,
  testDeliveryBody,
  type DeadLetterList,
  type DestinationSummary,
  type RetryResult,
  type TestDeliveryResult,
} from '@shared/api/destinations';
import { createDestination, listDestinations, revokeDestination, rotateDestination } from '../outbound/destinations';
import { listDeadLetters, retryDeadLetters } from '../outbound/dead-letters';
import { sendTestDeliveries } from '../outbound/test-delivery';

const idPath = z.strictObject({
  id: z
    .string()
    .regex(/^\d{1,15}$/, 'must be a destination id')
    .transform(Number),
});
const deliveryPath = z.strictObject({ deliveryId: z.string().regex(/^[0-9a-f]{64}$/, 'must be a delivery id (64 hex digits)') });
const superAdmin = requireRole('super_admin');

export const destinations = new Hono<AppEnv>()
  .use(requireRole('dept_admin'))
  .get('/', async (c) => {
    const items: DestinationSummary[] = await listDestinations(c.env.DB, hasRole(c.get('user'), 'super_admin'));
    return c.json({ items });
  })
  .post('/', superAdmin, validate('json', createDestinationBody), async (c) => {
    return c.json(await createDestination(c.env, c.req.valid('json'), actorOf(c), Date.now()), 201);
  })
  .get('/dead-letters', superAdmin, validate('query', deadLetterQuery), async (c) => {
    const body: DeadLetterList = await listDeadLetters(c.env.DB, c.req.valid('query').destinationId);
    return c.json(body);
  })
  .post('/dead-letters/:deliveryId/retry', superAdmin, validate('param', deliveryPath), validate('json', emptyBody), async (c) => {
    const requeued = await retryDeadLetters(c.env, { deliveryId: c.req.valid('param').deliveryId }, actorOf(c), Date.now());
    return c.json({ requeued } satisfies RetryResult);
  })
  .post('/:id/rotate', superAdmin, validate('param', idPath), validate('json', emptyBody), async (c) => {
    return c.json(await rotateDestination(c.env, c.req.valid('param').id, actorOf(c), Date.now()));
  })
  .post('/:id/revoke', superAdmin, validate('param', idPath), validate('json', emptyBody), async (c) => {
    return c.json(await revokeDestination(c.env.DB, c.req.valid('param').id, actorOf(c), Date.now()));
  })
  .post('/:id/test', superAdmin, validate('param', idPath), validate('json', testDeliveryBody), async (c) => {
    const ids = await sendTestDeliveries(c.env, c.req.valid('param').id, c.req.valid('json').count, actorOf(c), Date.now());
    return c.json({ deliveryIds: ids, enqueued: ids.length } satisfies TestDeliveryResult, 202);
  })
  .post('/:id/retry-dead', superAdmin, validate('param', idPath), validate('json', emptyBody), async (c) => {
    const requeued = await retryDeadLetters(c.env, { destinationId: c.req.valid('param').id }, actorOf(c), Date.now());
    return c.json({ requeued } satisfies RetryResult);
  });
