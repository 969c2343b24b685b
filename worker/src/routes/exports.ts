/**
 * Contact export (`/api/exports`): the Contacts list's filter or a segment's audience as a CSV
 * file (UTF-8 with BOM, so Excel on Chinese Windows opens it right; headers the import maps
 * back) or an XLSX workbook. Super admins only, so phone and ID numbers are in clear; audited as
 * `contact.export` with the filter and the row count before the first byte is sent. The file is
 * written by worker/src/segments/export.ts (keyset pages, streamed), as a segment page's export.
 */
import { Hono } from 'hono';
import type { AppEnv } from '../app-env';
import { ApiError } from '../errors';
import { validate } from '../validate';
import { actorOf, requireRole } from '../auth/access';
import { previewContext } from '../rules/context';
import { phoneSearchHash, redactNumbers } from '../crypto/fields';
import { containsText, nameKeyMatch, startsWithText } from '../db/search';
import { compileWhere } from '@shared/rules/sql';
import type { JsonLogic } from '@shared/rules/types';
import { exportContactsBody } from '@shared/api/exports';
import { exportContacts } from '../segments/export';

interface Where {
  sql: string;
  params: unknown[];
}

/** The Contacts list's filter as SQL over `contacts c` (worker/src/routes/contacts.ts, same meaning). */
async function filterWhere(
  db: D1Database,
  env: Env,
  f: NonNullable<ReturnType<typeof exportContactsBody.parse>['filter']>,
): Promise<Where> {
  const parts: string[] = [];
  const params: unknown[] = [];
  if (f.q) {
    const phoneHash = await phoneSearchHash(env, f.q);
    // as the list: keys (index ranges), or a scan for a query of punctuation alone
    const keys = nameKeyMatch('contact', 'c.id', f.q);
    const name = containsText('c.name', f.q);
    const remark = containsText('c.remark', f.q);
    const text = keys ?? { sql: `${name.sql} OR ${remark.sql}`, params: [...name.params, ...remark.params] };
    parts.push(`(${text.sql} OR c.external_id = ?${phoneHash ? ' OR c.phone_hash = ?' : ''})`);
    params.push(...text.params, f.q, ...(phoneHash ? [phoneHash] : []));
  }
  if (f.kind) {
    parts.push('c.kind = ?');
    params.push(f.kind);
  }
  if (f.tagId !== undefined) {
    if (!(await db.prepare('SELECT 1 FROM tags WHERE id = ?').bind(f.tagId).first())) {
      throw new ApiError(400, 'unknown_reference', `filter.tagId: no tag with id ${f.tagId}`, [
        { path: 'filter.tagId', message: 'no such tag' },
      ]);
    }
    parts.push('c.id IN (SELECT contact_id FROM contact_tags WHERE tag_id = ?)');
    params.push(f.tagId);
  }
  if (f.ownerUserId !== undefined) {
    parts.push('c.owner_user_id = ?');
    params.push(f.ownerUserId);
  }
  if (f.departmentId !== undefined) {
    const dept = await db.prepare('SELECT path FROM departments WHERE id = ?').bind(f.departmentId).first<{ path: string }>();
    if (!dept)
      throw new ApiError(400, 'unknown_reference', `filter.departmentId: no department with id ${f.departmentId}`, [
        { path: 'filter.departmentId', message: 'no such department' },
      ]);
    const sub = startsWithText('path', dept.path);
    parts.push(`c.department_id IN (SELECT id FROM departments WHERE ${sub.sql})`);
    params.push(...sub.params);
  }
  return { sql: parts.length ? parts.join(' AND ') : '1', params };
}

async function segmentWhere(db: D1Database, env: Env, segmentId: number): Promise<{ where: Where; name: string }> {
  const seg = await db.prepare('SELECT name, logic FROM segments WHERE id = ?').bind(segmentId).first<{ name: string; logic: string }>();
  if (!seg)
    throw new ApiError(400, 'unknown_reference', `segmentId: no segment with id ${segmentId}`, [
      { path: 'segmentId', message: 'no such segment' },
    ]);
  const logic = JSON.parse(seg.logic) as JsonLogic | null;
  if (logic === null)
    throw new ApiError(409, 'conflict', `Segment ${seg.name} has no valid audience to export`, [
      { path: 'segmentId', message: 'segment does not compile' },
    ]);
  const w = compileWhere(logic, previewContext(env, Date.now()));
  if (!w.ok)
    throw new ApiError(409, 'conflict', `Segment ${seg.name} cannot be evaluated: ${w.errors.map((e) => e.message).join('; ')}`, [
      { path: 'segmentId', message: 'segment does not compile' },
    ]);
  return { where: { sql: w.value.sql, params: w.value.params }, name: seg.name };
}

export const contactExports = new Hono<AppEnv>()
  .use(requireRole('super_admin'))
  .post('/contacts', validate('json', exportContactsBody), async (c) => {
    const b = c.req.valid('json');
    const db = c.env.DB;
    const { where, name } =
      b.segmentId !== undefined
        ? await segmentWhere(db, c.env, b.segmentId)
        : { where: await filterWhere(db, c.env, b.filter ?? {}), name: null };
    const format = b.format;
    const actor = actorOf(c);
    return exportContacts(db, c.env, {
      where,
      format,
      locale: b.locale,
      // super admins only (above): they see sealed fields in clear everywhere
      sealed: true,
      fileBase: name ?? 'contacts',
      audit: (n) => ({
        actor,
        action: 'contact.export',
        objectType: 'contact',
        objectId: b.segmentId !== undefined ? `segment:${b.segmentId}` : '*',
        summary: `${n} contacts exported to ${format.toUpperCase()}${name ? ` (segment ${name})` : ''}`,
        params: name
          ? { variant: format === 'xlsx' ? 'segment_xlsx' : 'segment', count: n, segment: name }
          : { variant: format === 'xlsx' ? 'filter_xlsx' : 'filter', count: n },
        // a phone or ID number typed into the search is kept masked
        after: {
          filter: b.filter ? { ...b.filter, ...(b.filter.q ? { q: redactNumbers(b.filter.q) } : {}) } : null,
          segmentId: b.segmentId ?? null,
          rows: n,
          format,
        },
        at: Date.now(),
      }),
    });
  });
