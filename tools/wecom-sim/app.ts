/**
 * A local WeCom (企业微信) server API: the endpoints Segflow calls, at WeCom's paths, with
 * WeCom's JSON shapes, errcodes, token lifetimes, cursors, frequency limits and callbacks.
 * A Hono app over in-memory state using WebCrypto only, so it runs in Node (serve.ts, the worker
 * tests' outbound service) and in workerd alike.
 *
 * Built from WeCom's official server API documentation (developer.work.weixin.qq.com):
 * 「获取access_token」 (path/91039), 「全局错误码」 (path/90313), 「主动调用频率限制」 (path/90312);
 * the customer-contact APIs in apis.ts name their pages. The admin API (not WeCom's) is under
 * `/__sim/` (admin.ts); WeCom-side human changes and their callbacks are in changes.ts.
 */
import { Hono, type Context } from 'hono';
import { describeWecomErrcode } from '../../shared/src/wecom/errcodes';
import { adminRoutes } from './admin';
import { registerWecomApis } from './apis';
import { pushCallback, sealCallback, type CallbackFields, type DeliveryAttempt, type PendingCallback } from './callbacks';
import { SimClock } from './clock';
import { RateLimiter, type RateLimits } from './rate-limit';
import { seedCorp, type SeedOptions } from './seed';
import { activeTagCount, type AppKey, type Corp } from './state';

export interface WecomSimOptions {
  /** the clock every expiry, window and callback timestamp reads (default: real time) */
  clock?: SimClock;
  /** access_token lifetime in seconds (WeCom: 7200) */
  tokenTtlSeconds?: number;
  /** default frequency limits of every corp; default none (tests set small ones, benches WECOM_DOCUMENTED_LIMITS) */
  limits?: RateLimits;
  /** corp customer tags a company may hold (WeCom: 10,000) */
  maxCorpTags?: number;
  /** 'outbox' (default): callbacks wait for GET /__sim/callbacks; 'push': POSTed to the corp's callback URL */
  delivery?: 'outbox' | 'push';
  /** the fetch push mode uses (default: the global one) */
  fetch?: typeof fetch;
  /** push mode: ms between retries (WeCom retries a callback not answered in 5 s, three times) */
  retryDelayMs?: number;
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
  /** matching calls let through before the fault starts */
  after?: number;
  /** the fault ends at this corp time (ms), if set */
  until?: number;
}

export const DEFAULT_TOKEN_TTL_SECONDS = 7200;
export const DEFAULT_MAX_CORP_TAGS = 10_000;

/** WeCom's error answer: errcode and errmsg, the errmsg carrying a hint and the lookup URL as WeCom's do. */
export function wecomError(errcode: number, extra = '', nowMs = Date.now()) {
  const { errmsg } = describeWecomErrcode(errcode);
  return {
    errcode,
    errmsg: `${errmsg}${extra ? `: ${extra}` : ''}, hint: [${Math.floor(nowMs / 1000)}-sim], from ip: 127.0.0.1, more info at https://open.work.weixin.qq.com/devtool/query?e=${errcode}`,
  };
}

/** Thrown by a handler to answer a WeCom errcode. */
export class ApiError extends Error {
  constructor(
    readonly errcode: number,
    readonly detail = '',
  ) {
    super(`errcode ${errcode}${detail ? `: ${detail}` : ''}`);
  }
}

/** Thrown by an admin operation for a bad request (answered 400 with the message). */
export class SimError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 404 | 409 = 400,
  ) {
    super(message);
  }
}

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(64));
  let s = '';
  for (const b of bytes) s += 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'[b & 63];
  return s;
}

/** The simulator's state and operations, apart from HTTP. */
export function createSimCore(options: WecomSimOptions = {}) {
  // Long on purpose: one closure over the simulator's state, so every operation sees the same corp maps, clock and limits.
  const clock = options.clock ?? new SimClock();
  const limiter = new RateLimiter();
  const state = {
    corps: new Map<string, Corp>(),
    tokens: new Map<string, TokenInfo>(),
    /** the live token per corp and app: WeCom hands back the same one while it is valid */
    currentToken: new Map<string, string>(),
    /** calls per corp per API, refused ones included (`?` when no corp could be told) */
    calls: new Map<string, Map<string, number>>(),
    faults: new Map<string, Fault[]>(),
    outbox: [] as PendingCallback[],
    deliveries: [] as DeliveryAttempt[],
    /** events that had no callback URL to go to (WeCom would not send them either) */
    unsent: 0,
    callbackSeq: 0,
  };
  const settings = {
    tokenTtl: options.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS,
    maxCorpTags: options.maxCorpTags ?? DEFAULT_MAX_CORP_TAGS,
    limits: options.limits ?? ({} as RateLimits),
    delivery: options.delivery ?? ('outbox' as 'outbox' | 'push'),
  };
  // push mode sends in order, one at a time, as WeCom's single sender would
  let pushChain: Promise<unknown> = Promise.resolve();

  const core = {
    clock,
    state,
    settings,
    limiter,
    /** A corp's time in ms: the simulator's clock plus the corp's own offset. */
    now(corp?: Corp): number {
      return clock.now() + (corp?.clockOffsetMs ?? 0);
    },
    corp(corpid: string): Corp | undefined {
      return state.corps.get(corpid);
    },
    /** Adds (or replaces) a corp built from a seed; returns it. */
    seed(opts: SeedOptions = {}): Corp {
      const corp = seedCorp({ nowSeconds: clock.nowSeconds(), ...opts });
      core.reset(corp.corpid);
      state.corps.set(corp.corpid, corp);
      return corp;
    },
    /** Forgets every corp, token, count, fault, window and callback (or only those of one corp). */
    reset(corpid?: string) {
      if (!corpid) {
        state.corps.clear();
        state.tokens.clear();
        state.currentToken.clear();
        state.calls.clear();
        state.faults.clear();
        state.outbox.length = 0;
        state.deliveries.length = 0;
        state.unsent = 0;
        limiter.reset();
        return;
      }
      state.corps.delete(corpid);
      core.revokeTokens(corpid);
      state.calls.delete(corpid);
      state.faults.delete(corpid);
      limiter.reset(corpid);
      state.outbox = state.outbox.filter((c) => c.corpid !== corpid);
    },
    /** Ends every live token of a corp early, as WeCom may (「获取access_token」: 提前使access_token失效). */
    revokeTokens(corpid: string) {
      for (const [t, info] of state.tokens) if (info.corpid === corpid) state.tokens.delete(t);
      for (const k of [...state.currentToken.keys()]) if (k.startsWith(`${corpid}|`)) state.currentToken.delete(k);
    },
    /** Issues (or hands back) the token of a corp's app. */
    token(corp: Corp, app: AppKey): { access_token: string; expires_in: number } {
      const now = core.now(corp);
      const key = `${corp.corpid}|${app}`;
      const live = state.currentToken.get(key);
      const info = live ? state.tokens.get(live) : undefined;
      // 有效期内重复获取返回相同结果，过期后获取会返回新的access_token (the page's older text); expires_in is what is left.
      if (info && info.expiresAt > now) return { access_token: info.token, expires_in: Math.ceil((info.expiresAt - now) / 1000) };
      // the expired token stays known, so it keeps answering 42001 (expired) rather than 40014 (unknown)
      const token = randomToken();
      state.tokens.set(token, { token, corpid: corp.corpid, app, expiresAt: now + settings.tokenTtl * 1000 });
      state.currentToken.set(key, token);
      return { access_token: token, expires_in: settings.tokenTtl };
    },
    tokenInfo(token: string): TokenInfo | undefined {
      return state.tokens.get(token);
    },
    count(corpid: string, api: string) {
      let m = state.calls.get(corpid);
      if (!m) state.calls.set(corpid, (m = new Map()));
      m.set(api, (m.get(api) ?? 0) + 1);
    },
    /** The next queued fault for this call, consumed. */
    takeFault(corp: Corp, api: string): number | null {
      const list = state.faults.get(corp.corpid);
      if (!list) return null;
      const now = core.now(corp);
      for (let i = 0; i < list.length; i++) {
        const f = list[i] as Fault;
        if ((f.until != null && now >= f.until) || f.remaining <= 0) {
          list.splice(i--, 1);
          continue;
        }
        if (f.api !== '*' && f.api !== api) continue;
        if (f.after) {
          f.after--;
          return null;
        }
        f.remaining--;
        if (f.remaining <= 0) list.splice(i, 1);
        return f.errcode;
      }
      return null;
    },
    addFault(corp: Corp, f: { api?: string; errcode: number; count?: number; durationMs?: number; after?: number }) {
      let list = state.faults.get(corp.corpid);
      if (!list) state.faults.set(corp.corpid, (list = []));
      list.push({
        api: f.api ?? '*',
        errcode: f.errcode,
        remaining: f.count ?? (f.durationMs != null ? Number.POSITIVE_INFINITY : 1),
        ...(f.after ? { after: f.after } : {}),
        ...(f.durationMs != null ? { until: core.now(corp) + f.durationMs } : {}),
      });
    },
    limitsOf(corp: Corp): RateLimits {
      return { ...settings.limits, ...corp.limits };
    },
    /** Sends a WeCom-side event to the corp's callback URL (outbox or push). Returns it, or null with no URL set. */
    async emit(corp: Corp, fields: CallbackFields): Promise<PendingCallback | null> {
      const sealed = await sealCallback(corp, fields, { nowSeconds: () => Math.floor(core.now(corp) / 1000) }, ++state.callbackSeq);
      if (!sealed) {
        state.unsent++;
        return null;
      }
      if (settings.delivery === 'outbox') state.outbox.push(sealed);
      else {
        const f = options.fetch ?? fetch;
        pushChain = pushChain.then(() =>
          pushCallback(sealed, { fetch: f, retryDelayMs: options.retryDelayMs }, (a) => {
            state.deliveries.push(a);
            if (state.deliveries.length > 1000) state.deliveries.splice(0, state.deliveries.length - 1000);
          }),
        );
      }
      return sealed;
    },
    /** Takes the pending callbacks (of one corp, or all). */
    drain(corpid?: string, keep = false): PendingCallback[] {
      const mine = state.outbox.filter((c) => !corpid || c.corpid === corpid);
      if (!keep) state.outbox = state.outbox.filter((c) => corpid && c.corpid !== corpid);
      return mine;
    },
    /** Resolves when every pushed callback so far has been delivered or given up. */
    settled(): Promise<unknown> {
      return pushChain;
    },
    /** What a test needs to connect to a corp, and how big it is. */
    summary(corp: Corp) {
      return {
        corpid: corp.corpid,
        name: corp.name,
        contactSecret: corp.contactSecret,
        agents: corp.agents,
        callback: corp.callback,
        followUsers: [...corp.followUsers.keys()],
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
  return core;
}

export type WecomSimCore = ReturnType<typeof createSimCore>;

/** What a WeCom API handler sees: the caller's corp and app, the query and the JSON body. */
export interface ApiCall {
  corp: Corp;
  app: AppKey;
  query: URLSearchParams;
  body: Record<string, unknown>;
  now: number;
}
export type ApiHandler = (call: ApiCall) => Record<string, unknown> | Promise<Record<string, unknown>>;
export interface ApiOptions {
  /** which token may call it: the 客户联系 kind (48002 otherwise) or a self-built app's */
  needs?: 'contact' | 'agent';
  /** fields WeCom's error answers of this API carry too (e.g. `follow_user: []`) */
  emptyOnError?: Record<string, unknown>;
  /** not counted against 基础频率 (发消息频率不计入基础频率) */
  unmetered?: boolean;
  /** the handler waits out `latencyMs` itself (to hold a resource across it) */
  handlesLatency?: boolean;
}
export type RegisterApi = (method: 'GET' | 'POST', name: string, handler: ApiHandler, opts?: ApiOptions) => void;

export function createWecomSim(options: WecomSimOptions = {}) {
  // Long on purpose: wires the core, the WeCom routes and the admin routes into one app, each step a few lines.
  const core = createSimCore(options);
  const { state, limiter } = core;
  const app = new Hono();
  app.route('/__sim', adminRoutes(core));

  const answer = (c: Context, body: Record<string, unknown>) => c.json(body, 200);

  // 「获取access_token」 GET /cgi-bin/gettoken?corpid=ID&corpsecret=SECRET
  app.get('/cgi-bin/gettoken', (c) => {
    const corpid = c.req.query('corpid') ?? '';
    const secret = c.req.query('corpsecret') ?? '';
    const corp = corpid ? state.corps.get(corpid) : undefined;
    core.count(corp ? corpid : '?', 'gettoken');
    const fail = (code: number) => answer(c, wecomError(code, '', core.now(corp)));
    if (!corpid) return fail(41002);
    if (!corp) return fail(40013);
    const fault = core.takeFault(corp, 'gettoken');
    if (fault != null) return fail(fault);
    if (!secret) return fail(41004);
    const agent = corp.agents.find((a) => a.secret === secret);
    const appKey: AppKey | null = secret === corp.contactSecret ? 'contact' : agent ? `agent:${agent.agentid}` : null;
    if (!appKey) return fail(40001);
    const limited = limiter.hit(corp.corpid, 'gettoken', core.now(corp), core.limitsOf(corp));
    if (limited) return fail(limited);
    return answer(c, { errcode: 0, errmsg: 'ok', ...core.token(corp, appKey) });
  });

  /** Registers a WeCom API: token check, counts, injected faults, frequency limits, then the handler. */
  const api: RegisterApi = (method, name, handler, opts = {}) => {
    app.on(method, `/cgi-bin/${name}`, async (c) => {
      const token = c.req.query('access_token');
      const info = token ? core.tokenInfo(token) : undefined;
      const corp = info ? state.corps.get(info.corpid) : undefined;
      core.count(corp?.corpid ?? '?', name);
      const fail = (code: number, extra = '') => answer(c, { ...wecomError(code, extra, core.now(corp)), ...opts.emptyOnError });
      if (!token) return fail(41001);
      if (!info || !corp) return fail(40014);
      const now = core.now(corp);
      if (info.expiresAt <= now) return fail(42001);
      const fault = core.takeFault(corp, name);
      if (fault != null) return fail(fault);
      const limits = core.limitsOf(corp);
      if (!opts.unmetered) {
        const limited = limiter.hit(corp.corpid, name, now, limits);
        if (limited) return fail(limited);
      }
      // 「全局错误码」 48002: 客户联系相关的接口，只能由系统应用“客户联系”，或配置到“可调用应用”列表中的自建应用调用
      if (opts.needs === 'contact' && info.app !== 'contact') {
        const agent = corp.agents.find((a) => `agent:${a.agentid}` === info.app);
        if (!agent?.contactApi) return fail(48002);
      }
      let body: Record<string, unknown> = {};
      if (method === 'POST') {
        const text = await c.req.text();
        if (text.trim() !== '') {
          try {
            const v = JSON.parse(text) as unknown;
            if (!v || typeof v !== 'object' || Array.isArray(v)) return fail(40058, 'the body must be a JSON object');
            body = v as Record<string, unknown>;
          } catch {
            return fail(40058, 'the body is not JSON');
          }
        }
      }
      const release = limiter.enter(corp.corpid, name, limits);
      if (release === 45033) return fail(45033);
      try {
        if (limits.latencyMs && !opts.handlesLatency) await new Promise((r) => setTimeout(r, limits.latencyMs));
        const out = await handler({ corp, app: info.app, query: new URL(c.req.url).searchParams, body, now });
        return answer(c, { errcode: 0, errmsg: 'ok', ...out });
      } catch (e) {
        if (e instanceof ApiError) return fail(e.errcode, e.detail);
        throw e;
      } finally {
        release();
      }
    });
  };
  registerWecomApis(api, core);

  app.notFound((c) => c.json({ errcode: 404, errmsg: `wecom-sim: no such API ${new URL(c.req.url).pathname}` }, 404));
  app.onError((e, c) => {
    if (e instanceof SimError) return c.json({ error: e.message }, e.status);
    console.error('wecom-sim:', e);
    return c.json({ errcode: -1, errmsg: `system busy (simulator error: ${e instanceof Error ? e.message : String(e)})` }, 500);
  });

  return { ...core, app };
}

export type WecomSim = ReturnType<typeof createWecomSim>;
