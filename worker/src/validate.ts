import { validator } from 'hono/validator';
import type { ValidationTargets } from 'hono';
import type { z } from 'zod';
import { ApiError } from './errors';

/**
 * Validates one part of the request with a schema from `shared/`: a failure is a 400 whose
 * message and `details` name each offending field, never a 500 further down.
 */
export function validate<T extends keyof ValidationTargets, S extends z.ZodType>(target: T, schema: S) {
  return validator(target, async (value, c) => {
    // Hono reads a JSON body only under a JSON content type and passes {} otherwise: a body sent
    // as text or a form would be silently ignored (an optional-only PATCH would "succeed").
    if (target === 'json' && !/^application\/([\w.+-]+\+)?json\b/i.test(c.req.header('content-type') ?? '')) {
      if ((await c.req.text()).trim() !== '') {
        throw new ApiError(415, 'invalid_request', 'Content-Type must be application/json for this body', [
          { path: 'content-type', message: 'must be application/json' },
        ]);
      }
    }
    const result = schema.safeParse(value);
    if (result.success) return result.data as z.output<S>;
    const details = result.error.issues.map((issue) => {
      const path = issue.path.join('.');
      if (issue.code === 'unrecognized_keys') {
        return { path: issue.keys.join(', '), message: `unknown ${target === 'query' ? 'parameter' : 'field'}` };
      }
      return { path: path || target, message: issue.message };
    });
    const message = details.map((d) => `${d.path}: ${d.message}`).join('; ');
    throw new ApiError(400, 'invalid_request', `Invalid ${target}: ${message}`, details);
  });
}
