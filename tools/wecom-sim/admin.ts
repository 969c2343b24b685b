/**
 * The simulator's own admin API under `/__sim/` (not WeCom's): reset, seed, the clock, state
 * inspection, fault injection, WeCom-side human changes and the callback outbox. Tests and
 * the demo drive it over HTTP, so it works the same through the worker tests' outbound
 * service and against `serve.ts`.
 */
import { Hono } from 'hono';
import { type WecomSimCore } from './app';
import { type SeedOptions } from './seed';

export function adminRoutes(sim: WecomSimCore): Hono {
  const admin = new Hono();
  const json = async (req: Request): Promise<Record<string, unknown>> => {
    const text = await req.text();
    if (!text.trim()) return {};
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : {};
  };
  const noCorp = (corpid: string) => Response.json({ error: `no corp ${corpid}` }, { status: 404 });

  /** POST /__sim/reset {corpid?}: forget everything, or one corp. */
  admin.post('/reset', async (c) => {
    const body = await json(c.req.raw);
    sim.reset(typeof body.corpid === 'string' ? body.corpid : undefined);
    return c.json({ ok: true });
  });

  /** POST /__sim/seed {corpid?, seed?, followUsers?, contacts?, chats?, …}: a deterministic corp; answers its credentials. */
  admin.post('/seed', async (c) => {
    const corp = sim.seed((await json(c.req.raw)) as SeedOptions);
    return c.json(sim.summary(corp));
  });

  /** GET /__sim/clock; POST /__sim/clock {advanceMs?, set?, follow?}: the time every expiry and window reads. */
  admin.get('/clock', (c) => c.json({ now: sim.clock.now(), frozen: sim.clock.frozen }));
  admin.post('/clock', async (c) => {
    const body = await json(c.req.raw);
    if (typeof body.set === 'number') sim.clock.set(body.set);
    if (typeof body.advanceMs === 'number') sim.clock.advance(body.advanceMs);
    if (body.follow === true) sim.clock.follow();
    return c.json({ now: sim.clock.now(), frozen: sim.clock.frozen });
  });

  /** GET /__sim/corps/:corpid: credentials, counts, callback config. */
  admin.get('/corps/:corpid', (c) => {
    const corp = sim.corp(c.req.param('corpid'));
    return corp ? c.json(sim.summary(corp)) : noCorp(c.req.param('corpid'));
  });

  /** GET /__sim/corps/:corpid/tags: the corp tag library as stored, deleted ones and creators included. */
  admin.get('/corps/:corpid/tags', (c) => {
    const corp = sim.corp(c.req.param('corpid'));
    if (!corp) return noCorp(c.req.param('corpid'));
    return c.json({ groups: [...corp.tagGroups.values()], tags: [...corp.tags.values()] });
  });

  /** GET /__sim/corps/:corpid/calls: calls per API (refused ones included). */
  admin.get('/corps/:corpid/calls', (c) => c.json(Object.fromEntries(sim.state.calls.get(c.req.param('corpid')) ?? [])));

  return admin;
}
