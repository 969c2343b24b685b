/**
 * The list of manual WeCom edits of Segflow-owned corp tags ("Segflow owns"): each one the pull
 * found (wecom_push_overrides, written in the pull's own batch) with the push that reverted it,
 * newest first, paged. Contacts are scoped as every contact read is (`contactScope`): a row of a
 * contact the reader may not see is not listed. Only the contact's name leaves, never a sealed
 * field.
 */
import type { SessionUser } from '@shared/api/auth';
import type { WecomOverride, WecomOverridesPage } from '@shared/api/wecom';
import { ApiError } from '../../errors';
import { contactScope } from '../../auth/access';

export async function listOverrides(
  db: D1Database,
  user: SessionUser,
  connectionId: number,
  q: { page: number; pageSize: number },
): Promise<WecomOverridesPage> {
  if (!(await db.prepare('SELECT 1 FROM wecom_connections WHERE id = ?').bind(connectionId).first()))
    throw new ApiError(404, 'not_found', `No WeCom connection with id ${connectionId}`);
  const scope = contactScope(user);
  const where = `o.connection_id = ?${scope ? ` AND ${scope.sql}` : ''}`;
  const params = [connectionId, ...(scope?.params ?? [])];
  const from = `FROM wecom_push_overrides o JOIN contacts c ON c.id = o.contact_id LEFT JOIN tags t ON t.id = o.tag_id WHERE ${where}`;
  const [total, rows] = await db.batch([
    db.prepare(`SELECT count(*) AS n ${from}`).bind(...params),
    db
      .prepare(
        `SELECT o.id, o.at, o.contact_id, c.name AS contact_name, o.userid, o.tag_id, coalesce(t.name, o.wecom_tag_id) AS tag_name, o.op, o.reverted_at
         ${from} ORDER BY o.at DESC, o.id DESC LIMIT ? OFFSET ?`,
      )
      .bind(...params, q.pageSize, (q.page - 1) * q.pageSize),
  ]);
  return {
    total: (total!.results[0] as { n: number }).n,
    page: q.page,
    pageSize: q.pageSize,
    items: (
      rows!.results as {
        id: number;
        at: number;
        contact_id: number;
        contact_name: string;
        userid: string;
        tag_id: number;
        tag_name: string;
        op: 'added' | 'removed';
        reverted_at: number | null;
      }[]
    ).map((r): WecomOverride => ({
      id: r.id,
      at: r.at,
      contactId: r.contact_id,
      contactName: r.contact_name,
      userid: r.userid,
      tagId: r.tag_id,
      tagName: r.tag_name,
      op: r.op,
      revertedAt: r.reverted_at,
    })),
  };
}
