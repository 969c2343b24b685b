import { z } from 'zod';
import { intParam, pagingQuery, type Page } from './common';

/**
 * Why a request was refused, as the security log records it: the error code of the answer, but
 * a 404 on an object outside the caller's department is `out_of_scope` (the client still sees
 * `not_found`), and a 404 for a route that does not exist is `no_route`.
 */
export const SECURITY_REASONS = [
  'unauthorized',
  'forbidden',
  'csrf_token_invalid',
  'out_of_scope',
  'not_found',
  'no_route',
  'invalid_signature',
  'rate_limited',
] as const;
export type SecurityReason = (typeof SECURITY_REASONS)[number];

const time = intParam(0, 8_640_000_000_000_000);

/**
 * `GET /api/security-log` (super admins) → `SecurityLogResponse`, latest first. `who` is the
 * start of an email (a user's, or the one tried at sign-in) or of a webhook source id, `ip` the
 * start of an address; both case-insensitive. `from` / `to` epoch ms (inclusive / exclusive).
 */
export const securityLogQuery = z
  .object({
    ...pagingQuery,
    who: z.string().trim().max(200, 'must be at most 200 characters').optional(),
    ip: z.string().trim().max(64, 'must be at most 64 characters').optional(),
    reason: z.enum(SECURITY_REASONS).optional(),
    from: time.optional(),
    to: time.optional(),
  })
  .strict()
  .refine((q) => q.from === undefined || q.to === undefined || q.from < q.to, { message: 'must be before to', path: ['from'] });
export type SecurityLogQuery = z.output<typeof securityLogQuery>;

/**
 * Refusals of one minute with the same subject, address, method, route and reason, counted.
 * `subject` is `*` (with `route` `*`) on an overflow row: what an address sent beyond its
 * distinct-row budget for the minute; `ip` is `*` too when the whole log's hourly budget was spent.
 */
export interface SecurityEvent {
  id: number;
  firstAt: number;
  lastAt: number;
  count: number;
  /** the signed-in user, if any */
  user: { id: number; name: string; email: string } | null;
  /** the email tried at sign-in, or the webhook source id */
  subject: string | null;
  ip: string;
  method: string;
  /** the route with ids replaced by `:id` (what rows are counted by) */
  route: string;
  /** the last concrete path of those counted */
  path: string;
  status: number;
  reason: SecurityReason;
}

export type SecurityLogResponse = Page<SecurityEvent> & { retentionDays: number };
