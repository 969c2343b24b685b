/**
 * Alerts (`/api/alerts`): raised alerts (scoped: a viewer sees the alerts about their department's
 * segments and rules; intake alerts are super admins'), acknowledging them, and the alert rules
 * that raise them. The cron raises (worker/src/alerts/evaluate.ts); the work lives in worker/src/alerts/.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../app-env';
import { validate } from '../validate';
import { actorOf, requireRole } from '../auth/access';
import { emptyBody } from '@shared/api/taxonomy';
import { alertListQuery, alertRuleBody, muteBody } from '@shared/api/alerts';
import {
  acknowledgeAlert,
  createAlertRule,
  listAlertRules,
  listAlerts,
  muteAlertRule,
  unmuteAlertRule,
  updateAlertRule,
} from '../alerts/manage';

const idPath = z.strictObject({
  id: z
    .string()
    .regex(/^\d{1,15}$/, 'must be an id')
    .transform(Number),
});
const admin = requireRole('dept_admin');
// On `/:id` routes the domain checks the scope before the role: another department's alert rule
// or alert does not exist for the caller (404), whatever their role; staff get 403 inside theirs.

export const alerts = new Hono<AppEnv>()
  .get('/', validate('query', alertListQuery), async (c) => {
    return c.json(await listAlerts(c.env.DB, c.get('user'), c.req.valid('query')));
  })
  .get('/rules', async (c) => {
    return c.json({ items: await listAlertRules(c.env.DB, c.get('user'), Date.now()) });
  })
  .post('/rules', admin, validate('json', alertRuleBody), async (c) => {
    return c.json(await createAlertRule(c.env.DB, c.get('user'), c.req.valid('json'), actorOf(c), Date.now()), 201);
  })
  .patch('/rules/:id', validate('param', idPath), validate('json', alertRuleBody), async (c) => {
    return c.json(await updateAlertRule(c.env.DB, c.get('user'), c.req.valid('param').id, c.req.valid('json'), actorOf(c), Date.now()));
  })
  .post('/rules/:id/mute', validate('param', idPath), validate('json', muteBody), async (c) => {
    return c.json(await muteAlertRule(c.env.DB, c.get('user'), c.req.valid('param').id, c.req.valid('json'), actorOf(c), Date.now()));
  })
  .post('/rules/:id/unmute', validate('param', idPath), validate('json', emptyBody), async (c) => {
    return c.json(await unmuteAlertRule(c.env.DB, c.get('user'), c.req.valid('param').id, actorOf(c), Date.now()));
  })
  .post('/:id/ack', validate('param', idPath), validate('json', emptyBody), async (c) => {
    return c.json(await acknowledgeAlert(c.env.DB, c.get('user'), c.req.valid('param').id, actorOf(c), Date.now()));
  });
