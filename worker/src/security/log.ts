/**
 * The security log: refused requests, recorded in one place (the app's `onError`,
 * worker/src/errors.ts) so no route has to remember it. What counts as a refusal: 401 (no
 * session, wrong password, bad webhook signature), 403 (role, bad CSRF token, revoked source),
 * 404 (an object the caller may not see, an id that does not exist, a route that does not
 * exist) and 429.
 *
 * Flooding. Every refusal is one small upsert, and rows are coalesced: one row per minute,
 * address, subject, method, route pattern (ids → `:id`) and reason, with a count. Two budgets
 * bound what a flood can add whatever it varies (paths, emails, addresses):
 * - an address (an IPv6 /64 counts as one) gets `ROWS_PER_NET_MINUTE` distinct rows a minute;
 *   beyond that its refusals are counted on one overflow row per reason (subject and route `*`);
 * - the log gets `ROWS_PER_HOUR` distinct rows an hour; beyond that refusals are counted on one
 *   row per minute and reason with address `*`.
 * So the table grows by at most ROWS_PER_HOUR + 60 × reasons rows an hour, and a refusal costs
 * one D1 write whose reads are index range counts. Writing the log must never change the answer:
 * a failure is logged to the console and the refusal goes out as it would have.
 */
import type { Context } from 'hono';
import type { AppEnv } from '../app-env';
import { clientIp } from '../auth/session';
import type { SecurityReason } from '@shared/api/security-log';

export const ROWS_PER_NET_MINUTE = 20;
export const ROWS_PER_HOUR = 600;
const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

/** A path as rows count it: numeric ids, long hex ids and UUIDs become `:id`, webhook sources `:sourceId`. */
export function routePattern(path: string): string {
  const p = path.slice(0, 200);
  const hook = /^\/api\/webhooks\/(wecom\/)?[^/]+$/.exec(p);
  if (hook) return `/api/webhooks/${hook[1] ?? ''}:sourceId`;
  return p
    .split('/')
    .map((s) => (/^\d+$/.test(s) || /^[0-9a-f]{16,}$/i.test(s) || /^[0-9a-f-]{36}$/i.test(s) ? ':id' : s))
    .join('/');
}

/** The address's network for the per-address budget: an IPv6 address by its /64, IPv4 as is. */
export function netOf(ip: string): string {
  if (!ip.includes(':')) return ip;
  const [head] = ip.split('::');
  const groups = (head ?? '').split(':').filter(Boolean);
  return `${groups.slice(0, 4).join(':')}::/64`;
}

/** What a refusal is recorded as, or null for an error that is not one (400, 409, 413, 500…). */
export function reasonOf(status: number, code: string, securityReason?: SecurityReason): SecurityReason | null {
  if (securityReason) return securityReason;
  if (status === 401) return code === 'invalid_signature' ? 'invalid_signature' : 'unauthorized';
  if (status === 403) return code === 'csrf_token_invalid' ? 'csrf_token_invalid' : 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 429) return 'rate_limited';
  return null;
}

/** Who the refusal is about: the signed-in user, the email tried at sign-in, the webhook source. */
function subjectOf(c: Context<AppEnv>, path: string): { subject: string; userId: number | null } {
  const user = c.get('user');
  if (user) return { subject: `user:${user.id}`, userId: user.id };
  const email = c.get('attemptedEmail');
  if (email) return { subject: `email:${email}`, userId: null };
  const hook = /^\/api\/webhooks\/(?:wecom\/)?([^/]+)$/.exec(path);
  if (hook) return { subject: `source:${hook[1]!.slice(0, 64)}`, userId: null };
  return { subject: '', userId: null };
}

/** Upserts the refusal's row (or an overflow row); never throws. */
export async function recordRefusal(c: Context<AppEnv>, status: number, reason: SecurityReason, at = Date.now()): Promise<void> {
  try {
    const db = c.env.DB;
    const path = c.req.path.slice(0, 200);
    const { subject, userId } = subjectOf(c, path);
    const ip = clientIp(c).slice(0, 64);
    const minute = Math.floor(at / MINUTE_MS) * MINUTE_MS;
    const hour = Math.floor(at / HOUR_MS) * HOUR_MS;
    const method = c.req.method.slice(0, 10);
    const net = netOf(ip);
    await db.batch([
      // its own row: if it exists already, or the address's and the log's budgets allow a new one
      db
        .prepare(
          `INSERT INTO security_events (minute, first_at, last_at, subject, user_id, ip, net, method, route, path, status, reason, count)
           SELECT ?1, ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 1
            WHERE EXISTS (SELECT 1 FROM security_events WHERE minute = ?1 AND ip = ?5 AND subject = ?3 AND method = ?7 AND route = ?8 AND reason = ?11)
               OR ((SELECT count(*) FROM security_events WHERE minute = ?1 AND net = ?6) < ?12
                   AND (SELECT count(*) FROM security_events WHERE minute >= ?13) < ?14)
           ON CONFLICT (minute, ip, subject, method, route, reason)
           DO UPDATE SET count = count + 1, last_at = excluded.last_at, path = excluded.path, status = excluded.status, user_id = coalesce(excluded.user_id, user_id)`,
        )
        .bind(
          minute,
          at,
          subject,
          userId,
          ip,
          net,
          method,
          routePattern(path),
          path,
          status,
          reason,
          ROWS_PER_NET_MINUTE,
          hour,
          ROWS_PER_HOUR,
        ),
      // else the overflow row of the address (or of everyone, when the log's hourly budget is spent)
      db
        .prepare(
          `INSERT INTO security_events (minute, first_at, last_at, subject, user_id, ip, net, method, route, path, status, reason, count)
           SELECT ?1, ?2, ?2, '*', NULL, CASE WHEN (SELECT count(*) FROM security_events WHERE minute >= ?6) < ?7 THEN ?3 ELSE '*' END,
                  CASE WHEN (SELECT count(*) FROM security_events WHERE minute >= ?6) < ?7 THEN ?4 ELSE '*' END, '*', '*', '*', ?5, ?8, 1
            WHERE changes() = 0
           ON CONFLICT (minute, ip, subject, method, route, reason) DO UPDATE SET count = count + 1, last_at = excluded.last_at, status = excluded.status`,
        )
        .bind(minute, at, ip, net, status, hour, ROWS_PER_HOUR, reason),
    ]);
  } catch (e) {
    console.warn('security log: could not record a refusal', c.req.method, c.req.path, e);
  }
}
