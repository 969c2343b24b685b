/**
 * The one way the worker calls WeCom's server API for a connected corp: test connection today,
 * the backfill and the tag push next. `call(path, { query })` is a GET, `call(path, { body })` a
 * POST with JSON; the access token comes from the shared cache (token-cache.ts), never a gettoken
 * per call.
 *
 * - errcode 0 (or none): the answer is returned as WeCom sent it;
 * - 40014 / 42001 (token refused or expired): the token is refreshed once (only that version:
 *   another isolate's newer token is taken as is) and the call made once more;
 * - 45009 / 45033 / -1 (frequency or concurrency limits, busy): a few retries inside the call
 *   with exponential backoff and jitter, each wait at most `backoffMaxMs`; then a
 *   {@link WecomRateLimitedError} telling the caller when to try again, because a request or a
 *   queue message should not sleep for a minute inside the worker;
 * - any other errcode: {@link WecomApiError} with errcode and errmsg;
 * - no answer within `timeoutMs`, a network error, an HTTP error, not JSON: {@link WecomUnreachableError}.
 */
import type { WecomApp } from '@shared/api/wecom';
import { RATE_LIMIT_ERRCODES, TOKEN_ERRCODES, WecomApiError, WecomRateLimitedError } from './errors';
import { DEFAULT_TIMEOUT_MS, wecomRequest, type Query, type WecomAnswer } from './http';
import { accessToken } from './token-cache';

export interface WecomClientOptions {
  /** Per HTTP exchange (gettoken included). */
  timeoutMs?: number;
  /** Retries after 45009 / 45033 / -1 inside one call (so at most this + 1 attempts). */
  rateLimitRetries?: number;
  /** The first backoff; each next one doubles, with jitter. */
  backoffBaseMs?: number;
  /** The longest single wait inside a call. */
  backoffMaxMs?: number;
}

const DEFAULTS: Required<WecomClientOptions> = {
  timeoutMs: DEFAULT_TIMEOUT_MS,
  rateLimitRetries: 3,
  backoffBaseMs: 200,
  backoffMaxMs: 2_000,
};
/** The longest wait a {@link WecomRateLimitedError} suggests: WeCom's limits count per minute. */
const MAX_RETRY_AFTER_MS = 60_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The backoff before retry `n` (0-based): half the exponential step fixed, half random, capped. */
export function backoffMs(n: number, baseMs: number, maxMs: number, random = Math.random): number {
  const step = Math.min(maxMs, baseMs * 2 ** n);
  return Math.round(step / 2 + random() * (step / 2));
}

export class WecomClient {
  private readonly opts: Required<WecomClientOptions>;

  constructor(
    private readonly env: Env,
    readonly connectionId: number,
    /** Which secret's token the calls carry: `contact` (客户联系) or `agent` (the self-built app). */
    readonly app: WecomApp,
    opts: WecomClientOptions = {},
  ) {
    this.opts = { ...DEFAULTS, ...opts };
  }

  /** GET `path` with `query`. */
  get<T extends object = WecomAnswer>(path: string, query: Query = {}): Promise<T & WecomAnswer> {
    return this.call<T>(path, { query });
  }

  /** POST `body` as JSON to `path` (with `query` beside the token, if any). */
  post<T extends object = WecomAnswer>(path: string, body: unknown, query: Query = {}): Promise<T & WecomAnswer> {
    return this.call<T>(path, { query, body });
  }

  /** Calls `path` (`/cgi-bin/externalcontact/get_corp_tag_list`): GET without a body, POST with one. */
  async call<T extends object = WecomAnswer>(path: string, req: { query?: Query; body?: unknown } = {}): Promise<T & WecomAnswer> {
    const { timeoutMs, rateLimitRetries, backoffBaseMs, backoffMaxMs } = this.opts;
    let token = await accessToken(this.env, this.connectionId, this.app, { timeoutMs });
    let refreshed = false;
    let retries = 0;
    for (;;) {
      const answer = await wecomRequest(this.env.WECOM_API_BASE, path, {
        query: { ...req.query, access_token: token.token },
        body: req.body,
        timeoutMs,
      });
      const errcode = typeof answer.errcode === 'number' ? answer.errcode : 0;
      if (errcode === 0) return answer as T & WecomAnswer;
      const errmsg = typeof answer.errmsg === 'string' ? answer.errmsg : '';
      if (TOKEN_ERRCODES.has(errcode) && !refreshed) {
        refreshed = true;
        token = await accessToken(this.env, this.connectionId, this.app, { refused: token.version, timeoutMs });
        continue;
      }
      if (RATE_LIMIT_ERRCODES.has(errcode)) {
        if (retries < rateLimitRetries) {
          await sleep(backoffMs(retries, backoffBaseMs, backoffMaxMs));
          retries++;
          continue;
        }
        const retryAfterMs = Math.min(MAX_RETRY_AFTER_MS, Math.max(backoffMaxMs, backoffBaseMs * 2 ** (retries + 1)));
        throw new WecomRateLimitedError(path, errcode, errmsg, retryAfterMs, retries + 1);
      }
      throw new WecomApiError(path, errcode, errmsg);
    }
  }
}
