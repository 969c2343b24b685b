import type { ApiErrorBody } from '@shared/api/errors';
import { CSRF_HEADER } from '@shared/api/auth';

/**
 * The session's CSRF token, echoed on every write (the session cookie itself is HttpOnly), and
 * what to do when the server says the session is gone. Both are set by the session store.
 */
const session: { csrfToken: string; onUnauthorized: () => void } = { csrfToken: '', onUnauthorized: () => {} };

export function setCsrfToken(token: string) {
  session.csrfToken = token;
}
export function onUnauthorized(handler: () => void) {
  session.onUnauthorized = handler;
}

/** An API answer other than 2xx, carrying the server's `{ error: { code, message } }`. */
export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The error's `details` (a 409 publish carries the new counts there). */
    readonly details?: unknown,
  ) {
    super(message);
  }
}

type QueryValue = string | number | undefined | null;

/** The one place the web app talks to the worker: every screen goes through here. */
export async function apiGet<T>(path: string, query: Record<string, QueryValue> = {}): Promise<T> {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  }
  const qs = params.toString();
  return request<T>(`/api${path}${qs ? `?${qs}` : ''}`, { headers: { accept: 'application/json' } });
}

/** POST a JSON body. */
export const apiPost = <T>(path: string, body: unknown = {}) => sendJson<T>('POST', path, body);
/** PUT a JSON body. */
export const apiPut = <T>(path: string, body: unknown) => sendJson<T>('PUT', path, body);
/** PATCH a JSON body (partial updates). */
export const apiPatch = <T>(path: string, body: unknown) => sendJson<T>('PATCH', path, body);
/** DELETE; resolves to undefined on 204. */
export const apiDelete = (path: string) =>
  request<void>(`/api${path}`, { method: 'DELETE', headers: { accept: 'application/json', [CSRF_HEADER]: session.csrfToken } });

function sendJson<T>(method: string, path: string, body: unknown): Promise<T> {
  return request<T>(`/api${path}`, {
    method,
    headers: { accept: 'application/json', 'content-type': 'application/json', [CSRF_HEADER]: session.csrfToken },
    body: JSON.stringify(body),
  });
}

/** POST a JSON body and receive a file (an export): its bytes and the name the server gave it. */
export async function apiPostForFile(path: string, body: unknown): Promise<{ blob: Blob; fileName: string | null; headers: Headers }> {
  const res = await send(`/api${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [CSRF_HEADER]: session.csrfToken },
    body: JSON.stringify(body),
  });
  const disposition = res.headers.get('content-disposition') ?? '';
  const star = /filename\*=UTF-8''([^;]+)/i.exec(disposition);
  const plain = /filename="([^"]+)"/i.exec(disposition);
  return { blob: await res.blob(), fileName: star ? decodeURIComponent(star[1]!) : (plain?.[1] ?? null), headers: res.headers };
}

async function request<T>(url: string, init: RequestInit): Promise<T> {
  const res = await send(url, init);
  if (res.status === 204) return undefined as T;
  return res.json() as Promise<T>;
}

/** fetch, with network failures, 401 and non-2xx answers turned into ApiRequestError. */
async function send(url: string, init: RequestInit): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch {
    throw new ApiRequestError(0, 'network', '');
  }
  if (res.status === 401 && !url.startsWith('/api/auth/')) session.onUnauthorized();
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as ApiErrorBody | null;
    throw new ApiRequestError(res.status, body?.error.code ?? 'http_error', body?.error.message ?? res.statusText, body?.error.details);
  }
  return res;
}
