/**
 * The audit log, read-only (`/api/audit`, super admins only): a filtered, paged list newest
 * first with the actor's name, and one entry with its before / after states. Entries are
 * written by each mutating route in the same batch as its change (worker/src/audit.ts) and
 * purged after `AUDIT_RETENTION_DAYS` by the Cron Trigger (worker/src/cron/purge.ts).
 */
import { Hono } from 'hono';
import type { AppEnv } from '../app-env';
import { ApiError } from '../errors';
import { validate } from '../validate';
import { requireRole } from '../auth/access';
import { auditRetentionDays } from '../cron/purge';
import { containsText, startsWithText } from '../db/search';
import { idPath } from '@shared/api/taxonomy';
import { auditListQuery, type AuditDetail, type AuditListItem, type AuditListResponse, type AuditParams } from '@shared/api/audit';
import { parseJsonOr } from '@shared/json';
import { readPage } from '../db/page';
import type { AuditLogRow, UserRow } from '../db/rows';

type Row = Pick<AuditLogRow, 'id' | 'at' | 'actor_user_id' | 'actor_ip' | 'action' | 'object_type' | 'object_id' | 'summary' | 'params'> & {
  actor_name: UserRow['name'] | null;
  actor_email: UserRow['email'] | null;
};

const COLUMNS = `a.id, a.at, a.actor_user_id, a.actor_ip, a.action, a.object_type, a.object_id, a.summary, a.params, u.name AS actor_name, u.email AS actor_email`;
const FROM = 'FROM audit_log a LEFT JOIN users u ON u.id = a.actor_user_id';

const toItem = (r: Row): AuditListItem => ({
  id: r.id,
  at: r.at,
  actor: r.actor_user_id !== null && r.actor_name !== null ? { id: r.actor_user_id, name: r.actor_name, email: r.actor_email ?? '' } : null,
  actorUserId: r.actor_user_id,
  ip: r.actor_ip,
  action: r.action,
  objectType: r.object_type,
  objectId: r.object_id,
  summary: r.summary,
  params: paramsOf(r.params),
});

/** Stored params as an object; null when absent (entries before 0007) or not an object. */
function paramsOf(text: string | null): AuditParams | null {
  const v = parseJson(text);
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as AuditParams) : null;
}

/** A stored JSON column; a value that is not JSON is shown as the text it is. */
const parseJson = (text: string | null): unknown => parseJsonOr<unknown>(text, text);

export const audit = new Hono<AppEnv>()
  .use(requireRole('super_admin'))
  .get('/', validate('query', auditListQuery), async (c) => {
    const q = c.req.valid('query');
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.actorUserId !== undefined) {
      where.push('a.actor_user_id = ?');
      params.push(q.actorUserId);
    }
    if (q.action) {
      const p = startsWithText('a.action', q.action);
      where.push(p.sql);
      params.push(...p.params);
    }
    if (q.objectType) {
      where.push('a.object_type = ?');
      params.push(q.objectType);
    }
    if (q.objectId) {
      where.push('a.object_id = ?');
      params.push(q.objectId);
    }
    if (q.from !== undefined) {
      where.push('a.at >= ?');
      params.push(q.from);
    }
    if (q.to !== undefined) {
      where.push('a.at < ?');
      params.push(q.to);
    }
    if (q.q) {
      // the English summary, or a value of the sentence: a rule's name finds its entries whichever language the screen shows
      const summary = containsText('a.summary', q.q);
      const value = containsText('p.value', q.q);
      where.push(`(${summary.sql} OR EXISTS (SELECT 1 FROM json_each(a.params) p WHERE ${value.sql}))`);
      params.push(...summary.params, ...value.params);
    }
    const cond = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const db = c.env.DB;
    const { rows, ...page } = await readPage<Row>(
      db,
      q,
      `SELECT ${COLUMNS} ${FROM} ${cond} ORDER BY a.at DESC, a.id DESC`,
      `SELECT COUNT(*) AS n FROM audit_log a ${cond}`,
      params,
    );
    const res: AuditListResponse = {
      ...page,
      items: rows.map(toItem),
      retentionDays: auditRetentionDays(c.env),
    };
    return c.json(res);
  })
  .get('/:id', validate('param', idPath), async (c) => {
    const { id } = c.req.valid('param');
    const row = await c.env.DB.prepare(`SELECT ${COLUMNS}, a.before, a.after ${FROM} WHERE a.id = ?`)
      .bind(id)
      .first<Row & { before: string | null; after: string | null }>();
    if (!row) throw new ApiError(404, 'not_found', `No audit entry with id ${id}`);
    return c.json({ ...toItem(row), before: parseJson(row.before), after: parseJson(row.after) } satisfies AuditDetail);
  });
