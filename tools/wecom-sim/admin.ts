/**
 * The simulator's own admin API under `/__sim/` (not WeCom's): reset, seed, the clock, state
 * inspection, fault injection, limits, WeCom-side human changes and the callback outbox. Tests
 * and the demo drive it over HTTP, so it works the same through the worker tests' outbound
 * service and against serve.ts. Answers are plain JSON; mistakes are 400/404 `{ error }`.
 *
 * Many test files share one simulator: everything that can be is per corp (its own clock
 * offset, limits, faults, counts and outbox), so files that seed their own corp id do not
 * disturb each other.
 */
import { Hono } from 'hono';
import { SimError, type WecomSimCore } from './app';
import { applyChange, CHANGE_KINDS } from './changes';
import { WECOM_DOCUMENTED_LIMITS, type RateLimits } from './rate-limit';
import { type SeedOptions } from './seed';
import { type Corp, relationKey, relationsOf } from './state';

async function json(req: Request): Promise<Record<string, unknown>> {
  const text = await req.text();
  if (!text.trim()) return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new SimError('the body is not JSON');
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new SimError('the body must be a JSON object');
  return v as Record<string, unknown>;
}

function limitsFrom(body: Record<string, unknown>): RateLimits {
  if (body.preset === 'wecom') return WECOM_DOCUMENTED_LIMITS;
  if (body.preset === 'none') return {};
  const { perApi, apis, concurrentPerApi, latencyMs } = body as RateLimits;
  return { perApi, apis, concurrentPerApi, latencyMs };
}

export function adminRoutes(core: WecomSimCore): Hono {
  // Long on purpose: the admin API's route table, one short handler per path; splitting it would scatter the table.
  const admin = new Hono();
  const corpOf = (corpid: string): Corp => {
    const corp = core.corp(corpid);
    if (!corp) throw new SimError(`no corp ${corpid} (seed it with POST /__sim/seed)`, 404);
    return corp;
  };

  /** GET /__sim: the corps held, the defaults, and where to read about the rest (README, 'Local WeCom simulator'). */
  admin.get('/', (c) =>
    c.json({
      simulator: 'wecom-sim (tools/wecom-sim): WeCom server API under /cgi-bin/, this admin API under /__sim/',
      corps: [...core.state.corps.values()].map((corp) => core.summary(corp)),
      limits: core.settings.limits,
      delivery: core.settings.delivery,
      pendingCallbacks: core.state.outbox.length,
      changeKinds: CHANGE_KINDS,
    }),
  );

  /** POST /__sim/reset {corpid?}: forget everything, or one corp. */
  admin.post('/reset', async (c) => {
    const body = await json(c.req.raw);
    core.reset(typeof body.corpid === 'string' ? body.corpid : undefined);
    return c.json({ ok: true });
  });

  /** POST /__sim/seed {corpid?, seed?, followUsers?, contacts?, chats?, sharedShare?, contactSecret?, agentid?, agentSecret?, agentContactApi?}. */
  admin.post('/seed', async (c) => {
    const body = await json(c.req.raw);
    const corp = core.seed(body as SeedOptions);
    if (body.callback) setCallback(corp, body.callback as Record<string, unknown>);
    return c.json(core.summary(corp));
  });

  /** GET|POST /__sim/clock {advanceMs?, set?, follow?}: the simulator's clock (every corp's). */
  admin.get('/clock', (c) => c.json({ now: core.clock.now(), frozen: core.clock.frozen }));
  admin.post('/clock', async (c) => {
    const body = await json(c.req.raw);
    if (typeof body.set === 'number') core.clock.set(body.set);
    if (typeof body.advanceMs === 'number') core.clock.advance(body.advanceMs);
    if (body.follow === true) core.clock.follow();
    return c.json({ now: core.clock.now(), frozen: core.clock.frozen });
  });

  /** GET|PUT /__sim/limits: the default frequency limits ({preset: 'wecom' | 'none'} or {perApi, apis, concurrentPerApi, latencyMs}). */
  admin.get('/limits', (c) => c.json(core.settings.limits));
  admin.put('/limits', async (c) => {
    core.settings.limits = limitsFrom(await json(c.req.raw));
    return c.json(core.settings.limits);
  });

  /** GET /__sim/callbacks?corpid=&peek=1: the pending callbacks (taken off the outbox unless peek). */
  admin.get('/callbacks', (c) => c.json(core.drain(c.req.query('corpid') || undefined, c.req.query('peek') === '1')));
  /** GET /__sim/deliveries: push mode's delivery attempts (status, answer). */
  admin.get('/deliveries', (c) => c.json(core.state.deliveries));
  /** PUT /__sim/delivery {mode: 'outbox' | 'push'}. */
  admin.put('/delivery', async (c) => {
    const { mode } = await json(c.req.raw);
    if (mode !== 'outbox' && mode !== 'push') throw new SimError('mode must be outbox or push');
    core.settings.delivery = mode;
    return c.json({ mode });
  });

  /** GET /__sim/corps/:corpid: credentials, sizes, callback configuration. */
  admin.get('/corps/:corpid', (c) => c.json(core.summary(corpOf(c.req.param('corpid')))));

  /** PUT /__sim/corps/:corpid/callback {url, token, encodingAesKey}: where WeCom sends this corp's callbacks. */
  admin.put('/corps/:corpid/callback', async (c) => {
    const corp = corpOf(c.req.param('corpid'));
    setCallback(corp, await json(c.req.raw));
    return c.json(corp.callback);
  });

  /** POST /__sim/corps/:corpid/clock {advanceMs}: move this corp's time only (token expiry, windows, CreateTime). */
  admin.post('/corps/:corpid/clock', async (c) => {
    const corp = corpOf(c.req.param('corpid'));
    const body = await json(c.req.raw);
    if (typeof body.advanceMs === 'number') corp.clockOffsetMs += body.advanceMs;
    if (body.reset === true) corp.clockOffsetMs = 0;
    return c.json({ now: core.now(corp), offsetMs: corp.clockOffsetMs });
  });

  /** PUT /__sim/corps/:corpid/limits: this corp's frequency limits (over the defaults). */
  admin.put('/corps/:corpid/limits', async (c) => {
    const corp = corpOf(c.req.param('corpid'));
    corp.limits = limitsFrom(await json(c.req.raw));
    core.limiter.reset(corp.corpid);
    return c.json(core.limitsOf(corp));
  });

  /** PUT /__sim/corps/:corpid/settings {contactSecretEditsAllTags?}. */
  admin.put('/corps/:corpid/settings', async (c) => {
    const corp = corpOf(c.req.param('corpid'));
    const body = await json(c.req.raw);
    if (typeof body.contactSecretEditsAllTags === 'boolean') corp.contactSecretEditsAllTags = body.contactSecretEditsAllTags;
    return c.json({ contactSecretEditsAllTags: corp.contactSecretEditsAllTags });
  });

  /** POST /__sim/corps/:corpid/revoke-tokens: WeCom ending tokens early (the next call answers 40014). */
  admin.post('/corps/:corpid/revoke-tokens', (c) => {
    core.revokeTokens(corpOf(c.req.param('corpid')).corpid);
    return c.json({ ok: true });
  });

  /**
   * POST /__sim/corps/:corpid/faults {api?, errcode, count?, durationMs?, after?}: the next `count` calls
   * (default 1) to `api` (a path under /cgi-bin/, e.g. `externalcontact/mark_tag`; default any)
   * answer `errcode`; with `durationMs` and no count, every call for that long (a storm); with
   * `after`, that many matching calls are answered first.
   * DELETE clears them; GET lists them.
   */
  admin.post('/corps/:corpid/faults', async (c) => {
    const corp = corpOf(c.req.param('corpid'));
    const body = await json(c.req.raw);
    if (typeof body.errcode !== 'number') throw new SimError('errcode (a number) is required');
    core.addFault(corp, {
      errcode: body.errcode,
      ...(typeof body.api === 'string' ? { api: body.api } : {}),
      ...(typeof body.count === 'number' ? { count: body.count } : {}),
      ...(typeof body.durationMs === 'number' ? { durationMs: body.durationMs } : {}),
      ...(typeof body.after === 'number' ? { after: body.after } : {}),
    });
    return c.json(core.state.faults.get(corp.corpid) ?? []);
  });
  admin.get('/corps/:corpid/faults', (c) => c.json(core.state.faults.get(corpOf(c.req.param('corpid')).corpid) ?? []));
  admin.delete('/corps/:corpid/faults', (c) => {
    core.state.faults.delete(corpOf(c.req.param('corpid')).corpid);
    return c.json({ ok: true });
  });

  /** GET /__sim/corps/:corpid/calls: calls per API (refused ones included); DELETE zeroes them. */
  admin.get('/corps/:corpid/calls', (c) => c.json(Object.fromEntries(core.state.calls.get(c.req.param('corpid')) ?? [])));
  admin.delete('/corps/:corpid/calls', (c) => {
    core.state.calls.delete(c.req.param('corpid'));
    return c.json({ ok: true });
  });

  /** GET /__sim/corps/:corpid/tags: the corp tag library as stored (deleted ones and creators included). */
  admin.get('/corps/:corpid/tags', (c) => {
    const corp = corpOf(c.req.param('corpid'));
    return c.json({ groups: [...corp.tagGroups.values()], tags: [...corp.tags.values()] });
  });

  /**
   * GET /__sim/corps/:corpid/tags/:tag_id/holders?limit=: how many follow-user relations hold a corp
   * tag, and the first `limit` (default 100) of them, for checks like "every push landed, once".
   */
  admin.get('/corps/:corpid/tags/:tagId/holders', (c) => {
    const corp = corpOf(c.req.param('corpid'));
    const tagId = c.req.param('tagId');
    if (!corp.tags.has(tagId)) throw new SimError(`no tag ${tagId}`, 404);
    const limit = Math.min(10_000, Number(c.req.query('limit') ?? 100));
    const holders = [...corp.relations.values()].filter((r) => r.tagIds.includes(tagId));
    return c.json({
      count: holders.length,
      customers: new Set(holders.map((r) => r.external_userid)).size,
      relations: holders.slice(0, limit).map((r) => ({ userid: r.userid, external_userid: r.external_userid })),
    });
  });

  /** GET /__sim/corps/:corpid/contacts?offset=&limit=: external contacts with their relations. */
  admin.get('/corps/:corpid/contacts', (c) => {
    const corp = corpOf(c.req.param('corpid'));
    const offset = Number(c.req.query('offset') ?? 0);
    const limit = Math.min(1000, Number(c.req.query('limit') ?? 100));
    const ids = [...corp.contacts.keys()].slice(offset, offset + limit);
    return c.json({ total: corp.contacts.size, items: ids.map((id) => contactView(corp, id)) });
  });

  /** GET /__sim/corps/:corpid/contacts/:external_userid: one contact, its tags per follow user (ids and names). */
  admin.get('/corps/:corpid/contacts/:ext', (c) => {
    const corp = corpOf(c.req.param('corpid'));
    const ext = c.req.param('ext');
    if (!corp.contacts.has(ext)) throw new SimError(`no contact ${ext}`, 404);
    return c.json(contactView(corp, ext));
  });

  /** GET /__sim/corps/:corpid/relations/:userid/:external_userid: one relation as stored. */
  admin.get('/corps/:corpid/relations/:userid/:ext', (c) => {
    const corp = corpOf(c.req.param('corpid'));
    const rel = corp.relations.get(relationKey(c.req.param('userid'), c.req.param('ext')));
    if (!rel) throw new SimError('no such relation', 404);
    return c.json(rel);
  });

  /**
   * GET /__sim/corps/:corpid/relations: every follow-user relation, compact, for benches comparing
   * a whole corp with what was pulled: `[userid, external_userid, tag ids, mark_tag calls accepted]`.
   */
  admin.get('/corps/:corpid/relations', (c) => {
    const corp = corpOf(c.req.param('corpid'));
    const relations = [...corp.relations.values()].map((r) => [r.userid, r.external_userid, r.tagIds, r.marks ?? 0]);
    return c.json({ contacts: corp.contacts.size, count: relations.length, relations });
  });

  /** GET /__sim/corps/:corpid/chats: the group chats as stored. */
  admin.get('/corps/:corpid/chats', (c) => c.json([...corpOf(c.req.param('corpid')).chats.values()]));

  /** GET /__sim/corps/:corpid/messages: app messages sent with message/send (dropped ones marked). */
  admin.get('/corps/:corpid/messages', (c) => c.json(corpOf(c.req.param('corpid')).messages));

  /**
   * POST /__sim/corps/:corpid/changes/:kind: a change made on WeCom's side by a person, which
   * sends the callback WeCom would (see changes.ts for the kinds and their bodies).
   */
  admin.post('/corps/:corpid/changes/:kind', async (c) => {
    const corp = corpOf(c.req.param('corpid'));
    const { result, callbacks } = await applyChange(core, corp, c.req.param('kind'), await json(c.req.raw));
    return c.json({ ...result, callbacks: callbacks.map((cb) => (cb ? { id: cb.id, event: cb.event } : null)) });
  });

  return admin;
}

function setCallback(corp: Corp, body: Record<string, unknown>) {
  const { url, token, encodingAesKey } = body;
  if (typeof url !== 'string' || !/^https?:\/\//.test(url)) throw new SimError('url must be an http(s) URL');
  if (typeof token !== 'string' || !/^[A-Za-z0-9]{1,32}$/.test(token)) throw new SimError('token must be 1 to 32 letters or digits');
  if (typeof encodingAesKey !== 'string' || !/^[A-Za-z0-9]{43}$/.test(encodingAesKey))
    throw new SimError('encodingAesKey must be 43 letters or digits');
  corp.callback = { url, token, encodingAesKey };
}

function contactView(corp: Corp, ext: string) {
  return {
    ...corp.contacts.get(ext),
    follow_users: relationsOf(corp, ext).map((r) => ({
      ...r,
      tags: r.tagIds.map((id) => {
        const t = corp.tags.get(id);
        return { id, name: t?.name, group: t ? corp.tagGroups.get(t.group_id)?.group_name : undefined };
      }),
    })),
  };
}
