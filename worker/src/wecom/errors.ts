/**
 * What a call to WeCom can fail with, as types the callers (test connection, and later the
 * backfill and the push) can tell apart: WeCom answered with an errcode, WeCom asked us to slow
 * down (and for how long to wait before trying again), or WeCom could not be reached at all.
 * None of them carries the access token or a secret.
 */

/** errcodes that mean "this access token is no good": refresh it once and try the call again. */
export const TOKEN_ERRCODES: ReadonlySet<number> = new Set([
  40014, // 不合法的access_token
  42001, // access_token已过期
]);

/** errcodes that mean "too many calls now": back off and try again (WeCom's 全局错误码 and 频率限制). */
export const RATE_LIMIT_ERRCODES: ReadonlySet<number> = new Set([
  45009, // 接口调用超过限制
  45033, // 接口并发调用超过限制
  -1, // 系统繁忙: WeCom advises retrying, at most three times
]);

/** WeCom answered `errcode != 0`. */
export class WecomApiError extends Error {
  constructor(
    /** The API path called (`/cgi-bin/gettoken`), without the query: never the token or the secret. */
    readonly path: string,
    readonly errcode: number,
    readonly errmsg: string,
  ) {
    super(`WeCom ${path} answered errcode ${errcode}: ${errmsg}`);
    this.name = 'WecomApiError';
  }
}

/**
 * WeCom's frequency limits (45009 / 45033, or -1 busy) still held after the bounded backoff inside
 * the call: the caller (a queue consumer, a resumable backfill) should try again after
 * `retryAfterMs` rather than hold a request open.
 */
export class WecomRateLimitedError extends WecomApiError {
  constructor(
    path: string,
    errcode: number,
    errmsg: string,
    readonly retryAfterMs: number,
    readonly attempts: number,
  ) {
    super(path, errcode, errmsg);
    this.name = 'WecomRateLimitedError';
    this.message = `WeCom ${path} is rate limited (errcode ${errcode}) after ${attempts} attempts: try again in ${retryAfterMs} ms`;
  }
}

/** WeCom could not be reached or did not answer JSON: a timeout, a network error, an HTTP error status. */
export class WecomUnreachableError extends Error {
  constructor(
    readonly path: string,
    readonly reason: 'timeout' | 'network' | 'http' | 'not_json',
    detail: string,
    /** The HTTP status when `reason` is `http`. */
    readonly status?: number,
  ) {
    super(`WeCom ${path} could not be reached (${reason}): ${detail}`);
    this.name = 'WecomUnreachableError';
  }
}

/** A connection whose secret for this app is not set: nothing to call WeCom with. */
export class WecomNotConfiguredError extends Error {
  constructor(
    readonly connectionId: number,
    readonly app: string,
  ) {
    super(`WeCom connection ${connectionId} has no ${app} secret`);
    this.name = 'WecomNotConfiguredError';
  }
}
