import { Hono } from 'hono';
import type { AppEnv } from '../app-env';

/** Liveness and database reachability, for load balancers and the test harness. */
export const health = new Hono<AppEnv>().get('/', async (c) => {
  const row = await c.env.DB.prepare('select count(*) as contacts from contacts').first<{ contacts: number }>();
  return c.json({ ok: true, contacts: row?.contacts ?? 0, timezone: c.env.TIMEZONE });
});
