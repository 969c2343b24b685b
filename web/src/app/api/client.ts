import type { ApiErrorBody } from '../../../../shared/src/api/errors';

/** An API answer other than 2xx, carrying the server's `{ error: { code, message } }`. */
export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
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
  let res: Response;
  try {
    res = await fetch(`/api${path}${qs ? `?${qs}` : ''}`, { headers: { accept: 'application/json' } });
  } catch {
    throw new ApiRequestError(0, 'network', '');
  }
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as ApiErrorBody | null;
    throw new ApiRequestError(res.status, body?.error.code ?? 'http_error', body?.error.message ?? res.statusText);
  }
  return res.json() as Promise<T>;
}
