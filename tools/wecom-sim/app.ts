/**
 * A local WeCom (企业微信) server API: the endpoints Segflow calls, at WeCom's paths, with
 * WeCom's JSON shapes, errcodes, token lifetimes, cursors, frequency limits and callbacks.
 * A Hono app over in-memory state using WebCrypto only, so it runs in Node (serve.ts, the worker
 * tests' outbound service) and in workerd alike.
 *
 * Built from WeCom's official server API documentation (developer.work.weixin.qq.com):
 * 「获取access_token」(path/91039), 「管理企业标签」(path/92117), 「全局错误码」(path/90313),
 * the other pages named on each route below.
 *
 * Admin API (not WeCom's) under `/__sim/`, see admin.ts.
 */
import { Hono, type Context } from 'hono';
import { describeWecomErrcode } from '../../shared/src/wecom/errcodes';
import { SimClock } from './clock';
import { activeTagCount, type AppKey, type Corp } from './state';
import { adminRoutes } from './admin';
import { type RateLimits, RateLimiter } from './rate-limit';
import { seedCorp, type SeedOptions } from './seed';

export interface WecomSimOptions {
  /** the clock every expiry and window reads (default: real time) */
  clock?: SimClock;
  /** access_token lifetime in seconds (WeCom: 7200) */
  tokenTtlSeconds?: number;
  /** frequency limits; default: none (tests set small ones, benches WeCom's: see WECOM_DOCUMENTED_LIMITS) */
  limits?: RateLimits;
  /** corp customer tags a company may hold (WeCom: 10,000) */
  maxCorpTags?: number;
  /** seed a demo corp at start */
  seedDemo?: SeedOptions;
}

interface TokenInfo {
  token: string;
  corpid: string;
  app: AppKey;
  expiresAt: number;
}

/** A queued fault: the next `remaining` calls to `api` ('*' = any) of a corp answer `errcode`. */
export interface Fault {
  api: string;
  errcode: number;
  remaining: number;
  /** the fault also ends at this time (ms), if set */
  until?: number;
}

export interface SimState {
  corps: Map<string, Corp>;
  tokens: Map<string, TokenInfo>;
  /** the live token per corp and app: WeCom hands back the same one while it is valid */
  currentToken: Map<string, string>;
  /** calls per corp per api (`?` when the corp could not be told) */
  calls: Map<string, Map<string, number>>;
  faults: Map<string, Fault[]>;
}

export const DEFAULT_TOKEN_TTL_SECONDS = 7200;
export const DEFAULT_MAX_CORP_TAGS = 10_000;

/** WeCom's JSON answer: errcode 0 carries the fields, anything else errcode + errmsg with a hint. */
export function wecomError(errcode: number, extra = '', nowMs = Date.now()) {
  const { errmsg } = describeWecomErrcode(errcode);
  const hint = `${Math.floor(nowMs / 1000)}_sim`;
  return {
    errcode,
    errmsg: `${errmsg}${extra ? `: ${extra}` : ''}, hint: [${hint}], from ip: 127.0.0.1, more info at https://open.work.weixin.qq.com/devtool/query?e=${errcode}`,
  };
}

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(48));
  let s = '';
  for (const b of bytes) s += 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'[b & 63];
  return s;
}

export class ApiError extends Error {
  constructor(
    readonly errcode: number,
    readonly detail = '',
  ) {
    super(`errcode ${errcode}${detail ? `: ${detail}` : ''}`);
  }
}

/** What a WeCom API handler sees: the caller's corp and app, the body and the query. */
export interface ApiCall {
  corp: Corp;
  app: AppKey;
  query: URLSearchParams;
  body: Record<string, unknown>;
  now: number;
}
type Handler = (call: ApiCall) => Record<string, unknown> | Promise<Record<string, unknown>>;

/** The simulator's state and operations, apart from HTTP. */
export function createSimCore(options: WecomSimOptions = {}) {
  const clock = options.clock ?? new SimClock();
  const tokenTtl = options.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
  const state: SimState = { corps: new Map(), tokens: new Map(), currentToken: new Map(), calls: new Map(), faults: new Map() };
  const limiter = new RateLimiter(clock, options.limits ?? {});
  const sim = {
    clock,
    tokenTtl,
    state,
    limiter,
    maxCorpTags: options.maxCorpTags ?? DEFAULT_MAX_CORP_TAGS,
    /** Adds (or replaces) a corp built from a seed; returns it. */
    seed(opts: SeedOptions = {}): Corp {
      const corp = seedCorp({ nowSeconds: clock.nowSeconds(), ...opts });
      removeCorp(corp.corpid);
      state.corps.set(corp.corpid, corp);
      return corp;
    },
    /** Forgets every corp, token, count, fault and window (or only those of one corp). */
    reset(corpid?: string) {
      if (corpid) return removeCorp(corpid);
      state.corps.clear();
      state.tokens.clear();
      state.currentToken.clear();
      state.calls.clear();
      state.faults.clear();
      limiter.reset();
    },
    /** Ends every live token of a corp early, as WeCom may (「获取access_token」: 提前使access_token失效). */
    revokeTokens(corpid: string) {
      for (const [t, info] of state.tokens) if (info.corpid === corpid) state.tokens.delete(t);
      for (const k of [...state.currentToken.keys()]) if (k.startsWith(`${corpid}|`)) state.currentToken.delete(k);
    },
    corp(corpid: string): Corp | undefined {
      return state.corps.get(corpid);
    },
    /** What a test needs to connect to a corp, and how big it is. */
    summary(corp: Corp) {
      return {
        corpid: corp.corpid,
        name: corp.name,
        contactSecret: corp.contactSecret,
        agents: corp.agents,
        callback: corp.callback,
        counts: {
          followUsers: corp.followUsers.size,
          contacts: corp.contacts.size,
          relations: corp.relations.size,
          tagGroups: [...corp.tagGroups.values()].filter((g) => !g.deleted).length,
          tags: activeTagCount(corp),
          chats: corp.chats.size,
        },
      };
    },
  };

  function removeCorp(corpid: string) {
    state.corps.delete(corpid);
    sim.revokeTokens(corpid);
    state.calls.delete(corpid);
    state.faults.delete(corpid);
    limiter.reset(corpid);
  }

  function count(corpid: string, api: string) {
    let m = state.calls.get(corpid);
    if (!m) state.calls.set(corpid, (m = new Map()));
    m.set(api, (m.get(api) ?? 0) + 1);
  }

  /** The next queued fault for this call, consumed. */
  function takeFault(corpid: string, api: string): number | null {
    const list = state.faults.get(corpid);
    if (!list) return null;
    const now = clock.now();
    for (let i = 0; i < list.length; i++) {
      const f = list[i] as Fault;
      if ((f.until != null && now >= f.until) || f.remaining <= 0) {
        list.splice(i--, 1);
        continue;
      }
      if (f.api !== '*' && f.api !== api) continue;
      f.remaining--;
      if (f.remaining <= 0) list.splice(i, 1);
      return f.errcode;
    }
    return null;
  }

  return { ...sim, count, takeFault };
}

export function createWecomSim(options: WecomSimOptions = {}) {
  const sim = createSimCore(options);
  const { clock, state, limiter, tokenTtl, count, takeFault } = sim;
  const app = new Hono();
  app.route('/__sim', adminRoutes(sim));

  const answer = (c: Context, body: Record<string, unknown>) => c.json(body, 200);
  const fail = (c: Context, errcode: number, extra = '') => answer(c, wecomError(errcode, extra, clock.now()));

  async function readBody(c: Context): Promise<Record<string, unknown> | null> {
    if (c.req.method !== 'POST') return {};
    const text = await c.req.text();
    if (text.trim() === '') return {};
    try {
      const v = JSON.parse(text) as unknown;
      return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  }

  // 「获取access_token」 GET /cgi-bin/gettoken?corpid=ID&corpsecret=SECRET
  app.get('/cgi-bin/gettoken', (c) => {
    const corpid = c.req.query('corpid') ?? '';
    const secret = c.req.query('corpsecret') ?? '';
    const corp = corpid ? state.corps.get(corpid) : undefined;
    count(corp ? corpid : '?', 'gettoken');
    if (!corpid) return fail(c, 41002);
    if (!corp) return fail(c, 40013);
    const fault = takeFault(corpid, 'gettoken');
    if (fault != null) return fail(c, fault);
    if (!secret) return fail(c, 41004);
    const agent = corp.agents.find((a) => a.secret === secret);
    const appKey: AppKey | null = secret === corp.contactSecret ? 'contact' : agent ? `agent:${agent.agentid}` : null;
    if (!appKey) return fail(c, 40001);
    const limited = limiter.hit(corpid, 'gettoken');
    if (limited) return fail(c, limited);
    const now = clock.now();
    const key = `${corpid}|${appKey}`;
    const live = state.currentToken.get(key);
    const info = live ? state.tokens.get(live) : undefined;
    if (info && info.expiresAt > now) {
      // Within its validity WeCom answers the same token; expires_in is what is left of it.
      return answer(c, { errcode: 0, errmsg: 'ok', access_token: info.token, expires_in: Math.ceil((info.expiresAt - now) / 1000) });
    }
    const token = randomToken();
    state.tokens.set(token, { token, corpid, app: appKey, expiresAt: now + tokenTtl * 1000 });
    state.currentToken.set(key, token);
    return answer(c, { errcode: 0, errmsg: 'ok', access_token: token, expires_in: tokenTtl });
  });

  /** Registers a WeCom API: token check, counts, injected faults, frequency limits, then the handler. */
  function api(method: 'GET' | 'POST', name: string, handler: Handler, opts: { needs?: 'contact' | 'agent' } = {}) {
    app.on(method, `/cgi-bin/${name}`, async (c) => {
      const token = c.req.query('access_token');
      const info = token ? state.tokens.get(token) : undefined;
      count(info?.corpid ?? '?', name);
      if (!token) return fail(c, 41001);
      if (!info) return fail(c, 40014);
      const now = clock.now();
      if (info.expiresAt <= now) return fail(c, 42001);
      const corp = state.corps.get(info.corpid);
      if (!corp) return fail(c, 40014);
      const fault = takeFault(corp.corpid, name);
      if (fault != null) return fail(c, fault);
      const limited = limiter.hit(corp.corpid, name);
      if (limited) return fail(c, limited);
      // 客户联系 APIs take the 客户联系 secret's token (「全局错误码」 48002, case 4).
      if (opts.needs === 'contact' && info.app !== 'contact') return fail(c, 48002);
      if (opts.needs === 'agent' && info.app === 'contact') return fail(c, 48002);
      const body = await readBody(c);
      if (body == null) return fail(c, 40058, 'body is not a JSON object');
      const release = limiter.enter(corp.corpid, name);
      if (release === 45033) return fail(c, 45033);
      try {
        await limiter.latency();
        return answer(c, {
          errcode: 0,
          errmsg: 'ok',
          ...(await handler({ corp, app: info.app, query: new URL(c.req.url).searchParams, body, now })),
        });
      } catch (e) {
        if (e instanceof ApiError) return fail(c, e.errcode, e.detail);
        throw e;
      } finally {
        release();
      }
    });
  }

  // 「管理企业标签 · 获取企业标签库」 POST externalcontact/get_corp_tag_list
  api(
    'POST',
    'externalcontact/get_corp_tag_list',
    ({ corp, body }) => {
      const tagIds = strings(body.tag_id);
      const groupIds = strings(body.group_id);
      const groups = [...corp.tagGroups.values()].filter((g) => !g.deleted).sort((a, b) => b.order - a.order);
      const out = [];
      for (const g of groups) {
        // group_id wins over tag_id when both are given
        if (groupIds.length && !groupIds.includes(g.group_id)) continue;
        const tags = [...corp.tags.values()]
          .filter((t) => t.group_id === g.group_id && !t.deleted)
          .filter((t) => groupIds.length > 0 || tagIds.length === 0 || tagIds.includes(t.id))
          .sort((a, b) => b.order - a.order);
        if (!groupIds.length && tagIds.length && tags.length === 0) continue;
        out.push({
          group_id: g.group_id,
          group_name: g.group_name,
          create_time: g.create_time,
          order: g.order,
          tag: tags.map((t) => ({ id: t.id, name: t.name, create_time: t.create_time, order: t.order })),
        });
      }
      return { tag_group: out };
    },
    { needs: 'contact' },
  );

  app.notFound((c) => c.json({ errcode: 404, errmsg: `wecom-sim: no such API ${new URL(c.req.url).pathname}` }, 404));

  return { ...sim, app, api };
}

export type WecomSim = ReturnType<typeof createWecomSim>;
export type WecomSimCore = ReturnType<typeof createSimCore>;

export function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}
