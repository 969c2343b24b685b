/**
 * The security log, read-only (`/api/security-log`, super admins only): refused requests,
 * coalesced per minute with a count (worker/src/security/log.ts), latest first, filtered by who,
 * address, reason and time. Purged with the audit log after `AUDIT_RETENTION_DAYS`.
 */
import { Hono } from 'hono';
import type { AppEnv } from '../app-env';
import { validate } from '../validate';
import { requireRole } from '../auth/access';
import { auditRetentionDays } from '../cron/purge';
import { securityLogQuery, type SecurityEvent, type SecurityLogResponse } from '@shared/api/security-log';
import { readPage } from '../db/page';
import type { SecurityEventRow, UserRow } from '../db/rows';

type Row = SecurityEventRow & { user_name: UserRow['name'] | null; user_email: UserRow['email'] | null };

const toEvent = (r: Row): SecurityEvent => ({
  id: r.id,
  firstAt: r.first_at,
  lastAt: r.last_at,
  count: r.count,
  user: r.user_id !== null && r.user_name !== null ? { id: r.user_id, name: r.user_name, email: r.user_email ?? '' } : null,
  subject:
    r.subject.startsWith('email:') || r.subject.startsWith('source:')
      ? r.subject.slice(r.subject.indexOf(':') + 1)
      : r.subject === '*'
        ? '*'
        : null,
  ip: r.ip,
  method: r.method,
  route: r.route,
  path: r.path,
  status: r.status,
  reason: r.reason,
});

export const securityLog = new Hono<AppEnv>().use(requireRole('super_admin')).get('/', validate('query', securityLogQuery), async (c) => {
  const q = c.req.valid('query');
  const where: string[] = [];
  const params: (string | number)[] = [];
  // prefixes compared with substr (not LIKE: no wildcards to escape, no pattern-length limit)
  if (q.who) {
    const who = q.who.toLowerCase();
    // a user's email, or the email tried at sign-in / the webhook source (the subject after its `kind:`)
    where.push(`(substr(lower(u.email), 1, ?) = ? OR substr(lower(substr(e.subject, instr(e.subject, ':') + 1)), 1, ?) = ?)`);
    params.push(who.length, who, who.length, who);
  }
  if (q.ip) {
    where.push('substr(lower(e.ip), 1, ?) = ?');
    params.push(q.ip.length, q.ip.toLowerCase());
  }
  if (q.reason) {
    where.push('e.reason = ?');
    params.push(q.reason);
  }
  if (q.from !== undefined) {
    where.push('e.last_at >= ?');
    params.push(q.from);
  }
  if (q.to !== undefined) {
    where.push('e.first_at < ?');
    params.push(q.to);
  }
  const cond = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const from = 'FROM security_events e LEFT JOIN users u ON u.id = e.user_id';
  const db = c.env.DB;
  const { rows, ...page } = await readPage<Row>(
    db,
    q,
    `SELECT e.*, u.name AS user_name, u.email AS user_email ${from} ${cond} ORDER BY e.last_at DESC, e.id DESC`,
    `SELECT COUNT(*) AS n ${from} ${cond}`,
    params,
  );
  const res: SecurityLogResponse = {
    ...page,
    items: rows.map(toEvent),
    retentionDays: auditRetentionDays(c.env),
  };
  return c.json(res);
});
