/**
 * Intake dead letters (`/api/intake/dead-letters`, super admins only): read them, and send one
 * back to the intake queue. The API is documented in shared/src/api/intake.ts; the work lives in
 * worker/src/ingest/dead-letters.ts.
 */
import { Hono } from 'hono';
import type { AppEnv } from '../app-env';
import { validate } from '../validate';
import { actorOf, requireRole } from '../auth/access';
import { listDeadLetters, requeueDeadLetter } from '../ingest/dead-letters';
import { deadLetterIdPath, deadLetterListQuery } from '@shared/api/intake';

export const intake = new Hono<AppEnv>()
  .use('*', requireRole('super_admin'))
  .get('/dead-letters', validate('query', deadLetterListQuery), async (c) => {
    const q = c.req.valid('query');
    return c.json(await listDeadLetters(c.env.DB, { page: q.page, pageSize: q.pageSize, pending: q.pending === 'true' }));
  })
  .post('/dead-letters/:id/requeue', validate('param', deadLetterIdPath), async (c) => {
    const { id } = c.req.valid('param');
    return c.json(await requeueDeadLetter(c.env.DB, c.env, id, actorOf(c), Date.now()));
  });
