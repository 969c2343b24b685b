/**
 * One HTTP exchange with WeCom's server API (`env.WECOM_API_BASE`: https://qyapi.weixin.qq.com in
 * production, the simulator in tests): GET with a query or POST with JSON, bounded by a timeout,
 * answered as parsed JSON. errcodes are the callers' business (client.ts); what cannot be read as
 * WeCom's JSON is a {@link WecomUnreachableError}.
 */
import { WecomApiError, WecomUnreachableError } from './errors';

export type QueryValue = string | number | boolean | undefined | null;
export type Query = Record<string, QueryValue>;

/** WeCom's answer: errcode / errmsg beside the API's own fields. */
export interface WecomAnswer {
  errcode?: number;
  errmsg?: string;
  [field: string]: unknown;
}

export const DEFAULT_TIMEOUT_MS = 10_000;

function urlOf(base: string, path: string, query: Query): string {
  // relative to the base, whatever its own path (a proxy may add a prefix)
  const url = new URL(base.replace(/\/+$/, '') + (path.startsWith('/') ? path : `/${path}`));
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
  return url.toString();
}

export async function wecomRequest(
  base: string,
  path: string,
  init: { query?: Query; body?: unknown; timeoutMs?: number },
): Promise<WecomAnswer> {
  const timeoutMs = init.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let res: Response;
  try {
    res = await fetch(urlOf(base, path, init.query ?? {}), {
      method: init.body === undefined ? 'GET' : 'POST',
      headers:
        init.body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    const name = e instanceof Error ? e.name : '';
    if (name === 'TimeoutError' || name === 'AbortError')
      throw new WecomUnreachableError(path, 'timeout', `no answer within ${timeoutMs} ms`);
    throw new WecomUnreachableError(path, 'network', e instanceof Error ? e.message : String(e));
  }
  let text: string;
  try {
    text = await res.text();
  } catch (e) {
    throw new WecomUnreachableError(path, 'timeout', e instanceof Error ? e.message : String(e));
  }
  if (!res.ok) throw new WecomUnreachableError(path, 'http', `HTTP ${res.status}`, res.status);
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as WecomAnswer;
  } catch {
    throw new WecomUnreachableError(path, 'not_json', `answered ${text.slice(0, 80)}`);
  }
}

/** A fresh access token (gettoken), with its lifetime in seconds. Throws {@link WecomApiError} on errcode != 0. */
export async function getToken(
  base: string,
  corpId: string,
  secret: string,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<{ token: string; expiresIn: number }> {
  const path = '/cgi-bin/gettoken';
  const a = await wecomRequest(base, path, { query: { corpid: corpId, corpsecret: secret }, timeoutMs });
  const errcode = typeof a.errcode === 'number' ? a.errcode : 0;
  if (errcode !== 0) throw new WecomApiError(path, errcode, typeof a.errmsg === 'string' ? a.errmsg : '');
  if (typeof a.access_token !== 'string' || !a.access_token)
    throw new WecomUnreachableError(path, 'not_json', 'no access_token in the answer');
  // WeCom documents 7200 s; an answer without it is taken as that
  const expiresIn = typeof a.expires_in === 'number' && a.expires_in > 0 ? a.expires_in : 7200;
  return { token: a.access_token, expiresIn };
}
