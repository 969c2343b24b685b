/**
 * `GET /api/home`: the first screen's charts for the signed-in user, scoped to what they may see
 * (shared/src/api/home.ts). No parameters; the work is in worker/src/home/.
 */
import { Hono } from 'hono';
import type { AppEnv } from '../app-env';
import { homeOverview } from '../home/overview';
import { tzOffsetMinutes } from '../rules/context';

export const home = new Hono<AppEnv>().get('/', async (c) =>
  c.json(await homeOverview(c.env.DB, c.get('user'), Date.now(), tzOffsetMinutes(c.env))),
);
