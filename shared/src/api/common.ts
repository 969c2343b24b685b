import { z } from 'zod';

/**
 * A whole number sent as a query-string parameter, within bounds. Stricter than `z.coerce`:
 * "", "1.5", "1e3" and "-0" are refused with a message a person can act on.
 */
export function intParam(min: number, max: number) {
  return z
    .string()
    .regex(/^-?\d{1,15}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));
}

/** A positive database id sent as a query or path parameter. */
export const idParam = intParam(1, Number.MAX_SAFE_INTEGER);

export const pagingQuery = {
  page: intParam(1, 100_000).default(1),
  pageSize: intParam(1, 100).default(20),
};

/**
 * `confirm` of destructive requests: the count the user was shown. A 409
 * `confirmation_required` answers a request without it (or with a stale count), carrying the
 * object (`details` path `confirm.object`) and the current count (`confirm.count`).
 */
export const confirmField = z.strictObject({ count: z.number().int().min(0) }).optional();

/** One page of a list. */
export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  pageSize: number;
}
