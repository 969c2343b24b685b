import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { HTTPException } from 'hono/http-exception';
import type { ApiErrorBody, ErrorCode, FieldProblem } from '../../shared/src/api/errors';

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
}

export function errorBody(code: ErrorCode, message: string, details?: FieldProblem[]): ApiErrorBody {
  return { error: details ? { code, message, details } : { code, message } };
}

/** Renders every error as `{ error: { code, message, details? } }`; only real bugs become a 500. */
export function handleError(err: Error, c: Context): Response {
  if (err instanceof ApiError) {
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

export function handleNotFound(c: Context): Response {
  return c.json(errorBody('not_found', `No API route ${c.req.method} ${c.req.path}`), 404);
}
