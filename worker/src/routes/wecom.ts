/**
 * Connected WeCom corps (`/api/wecom/connections`, super admins only): list, connect, change
 * (replace a secret, the agent, the callback source), test (gettoken with each secret) and
 * disconnect. Secrets go in, never out. Backfill from WeCom: progress, start (one at a time, 409
 * naming the running one), resume a failed one. Push to WeCom: status, push now, retry failed
 * pushes, and each tag group's WeCom settings. The work lives in worker/src/wecom/.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../app-env';
import { validate } from '../validate';
import { actorOf, requireRole } from '../auth/access';
import { emptyBody } from '@shared/api/taxonomy';
import {
  createWecomConnectionBody,
  updateWecomConnectionBody,
  wecomGroupSettingsBody,
  wecomOverridesQuery,
  type WecomConnectionSummary,
  type WecomRetireImpact,
} from '@shared/api/wecom';
import { createConnection, deleteConnection, getConnection, listConnections, testConnection, updateConnection } from '../wecom/connection';
import { resumeSync, startSync, syncState } from '../wecom/sync/runs';
import { setGroupSettings } from '../wecom/push/settings';
import { pushNow, pushStatus, retryFailedPushes } from '../wecom/push/status';
import { listOverrides } from '../wecom/push/overrides';
import { retireImpact } from '../wecom/push/tag-ops';

const idPath = z.strictObject({
  id: z
    .string()
    .regex(/^\d{1,15}$/, 'must be a connection id')
    .transform(Number),
});
const groupIdPath = z.strictObject({
  id: z
    .string()
    .regex(/^\d{1,15}$/, 'must be a tag group id')
    .transform(Number),
});

const tagIdPath = z.strictObject({
  id: z
    .string()
    .regex(/^\d{1,15}$/, 'must be a tag id')
    .transform(Number),
});

export const wecom = new Hono<AppEnv>()
  // before the super-admin gate: whoever may retire a tag is told what it does in WeCom first
  .get('/tags/:id/retire-impact', requireRole('dept_admin'), validate('param', tagIdPath), async (c) => {
    return c.json({ corps: await retireImpact(c.env.DB, c.req.valid('param').id) } satisfies WecomRetireImpact);
  })
  .use(requireRole('super_admin'))
  .get('/connections', async (c) => {
    const items: WecomConnectionSummary[] = await listConnections(c.env.DB);
    return c.json({ items });
  })
  .get('/connections/:id', validate('param', idPath), async (c) => {
    return c.json(await getConnection(c.env.DB, c.req.valid('param').id));
  })
  .post('/connections', validate('json', createWecomConnectionBody), async (c) => {
    return c.json(await createConnection(c.env, c.req.valid('json'), actorOf(c), Date.now()), 201);
  })
  .patch('/connections/:id', validate('param', idPath), validate('json', updateWecomConnectionBody), async (c) => {
    return c.json(await updateConnection(c.env, c.req.valid('param').id, c.req.valid('json'), actorOf(c), Date.now()));
  })
  .post('/connections/:id/test', validate('param', idPath), validate('json', emptyBody), async (c) => {
    return c.json(await testConnection(c.env, c.req.valid('param').id, actorOf(c), Date.now()));
  })
  .get('/connections/:id/sync', validate('param', idPath), async (c) => {
    return c.json(await syncState(c.env.DB, c.req.valid('param').id));
  })
  .post('/connections/:id/sync', validate('param', idPath), validate('json', emptyBody), async (c) => {
    return c.json(await startSync(c.env, c.req.valid('param').id, actorOf(c), Date.now()), 202);
  })
  .post('/connections/:id/sync/resume', validate('param', idPath), validate('json', emptyBody), async (c) => {
    return c.json(await resumeSync(c.env, c.req.valid('param').id, actorOf(c), Date.now()), 202);
  })
  .get('/connections/:id/push', validate('param', idPath), async (c) => {
    return c.json(await pushStatus(c.env.DB, c.req.valid('param').id));
  })
  .post('/connections/:id/push', validate('param', idPath), validate('json', emptyBody), async (c) => {
    return c.json(await pushNow(c.env, c.req.valid('param').id, actorOf(c), Date.now()));
  })
  .get('/connections/:id/overrides', validate('param', idPath), validate('query', wecomOverridesQuery), async (c) => {
    return c.json(await listOverrides(c.env.DB, c.get('user'), c.req.valid('param').id, c.req.valid('query')));
  })
  .post('/connections/:id/push/retry', validate('param', idPath), validate('json', emptyBody), async (c) => {
    return c.json(await retryFailedPushes(c.env, c.req.valid('param').id, actorOf(c), Date.now()));
  })
  .put('/tag-groups/:id', validate('param', groupIdPath), validate('json', wecomGroupSettingsBody), async (c) => {
    return c.json(await setGroupSettings(c.env.DB, c.req.valid('param').id, c.req.valid('json'), actorOf(c), Date.now()));
  })
  .delete('/connections/:id', validate('param', idPath), async (c) => {
    await deleteConnection(c.env.DB, c.req.valid('param').id, actorOf(c), Date.now());
    return c.json({ deleted: true });
  });
