import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { HTTPException } from 'hono/http-exception';
import type { ApiErrorBody, ErrorCode, FieldProblem } from '@shared/api/errors';
import type { SecurityReason } from '@shared/api/security-log';
import type { AppEnv } from './app-env';
import { reasonOf, recordRefusal } from './security/log';

/** An error meant for the client: thrown anywhere, rendered by `onError` in the one error shape. */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ErrorCode,
    message: string,
    readonly details?: FieldProblem[],
  ) {
    super(message);
  }

  /** Seconds for a `Retry-After` header (429s). */
  retryAfter?: number;
  /** What the security log records instead of the code (a 404 that is really "outside your department"). */
  securityReason?: SecurityReason;
  /** Not a refusal worth a security log row (the app asking whether a signed-out visitor is signed in). */
  unrecorded?: boolean;
}

export function errorBody(code: ErrorCode, message: string, details?: FieldProblem[]): ApiErrorBody {
  return { error: details ? { code, message, details } : { code, message } };
}

/**
 * Renders every error as `{ error: { code, message, details? } }`; only real bugs become a 500.
 * Refusals (401, 403, 404, 429) are recorded in the security log first (worker/src/security/),
 * which never throws: the answer is the same whether or not the record could be written.
 */
export async function handleError(err: Error, c: Context<AppEnv>): Promise<Response> {
  if (err instanceof ApiError) {
    const reason = reasonOf(err.status, err.code, err.securityReason);
    if (reason && !err.unrecorded) await recordRefusal(c, err.status, reason);
    if (err.retryAfter !== undefined) c.header('Retry-After', String(err.retryAfter));
    return c.json(errorBody(err.code, err.message, err.details), err.status);
  }
  if (err instanceof HTTPException) {
    const status = err.status;
    const code: ErrorCode = status === 413 ? 'payload_too_large' : status === 404 ? 'not_found' : 'invalid_request';
    return c.json(errorBody(code, err.message || 'Bad request'), status);
  }
  console.error('unhandled error', c.req.method, c.req.path, err);
  return c.json(errorBody('internal', 'Internal error: the request was not applied'), 500);
}

export async function handleNotFound(c: Context<AppEnv>): Promise<Response> {
  await recordRefusal(c, 404, 'no_route');
  return c.json(errorBody('not_found', `No API route ${c.req.method} ${c.req.path}`), 404);
}
