import { Hono } from 'hono';
import { and, asc, count, desc, eq, inArray, or, sql, type SQL } from 'drizzle-orm';
import type { AppEnv } from '../app-env';
import { db, type Db } from '../db/client';
import { contacts as contactsT, contactTags, departments, tagGroups, tags } from '../db/schema';
import { validate } from '../validate';
import { containsSql, containsText, nameKeyMatch, nameKeySql, startsWithSql } from '../db/search';
import { phoneSearchHash } from '../crypto/fields';
import { recordPhoneSearch } from '../crypto/phone-search';
import { actorOf, hasRole, userScope } from '../auth/access';
import { normalizePhone } from '@shared/import/fields';
import { ApiError } from '../errors';
import {
  contactListQuery,
  ownerLookupQuery,
  type ContactListQuery,
  type ContactSummary,
  type OwnerOption,
  type TagChip,
} from '@shared/api/contacts';
import type { Page } from '@shared/api/common';
import { idParam } from '@shared/api/common';
import { z } from 'zod';
import type { SessionUser } from '@shared/api/auth';

/** Department admins and staff see the contacts of their department and below; others do not exist for them. */
function scopeCondition(user: SessionUser): SQL | undefined {
  if (user.role === 'super_admin') return undefined;
  if (!user.departmentPath) return sql`0`;
  return sql`${contactsT.departmentId} IN (SELECT id FROM departments WHERE ${startsWithSql(departments.path, user.departmentPath)})`;
}

const orderBy: Record<ContactListQuery['sort'], SQL[]> = {
  last_active: [sql`${contactsT.lastActiveAt} desc nulls last`, desc(contactsT.id)],
  spend: [desc(contactsT.totalSpend), desc(contactsT.id)],
  name: [asc(contactsT.name), asc(contactsT.id)],
  created: [desc(contactsT.createdAt), desc(contactsT.id)],
};

/**
 * A contact's name or remark as the search box matches it: by its keys (index ranges), or, for a
 * query of punctuation alone (which keys fold away), by scanning for the text as typed.
 */
function contactTextSql(text: string): SQL[] {
  const keys = nameKeySql('contact', contactsT.id, text);
  return keys ? [keys] : [containsSql(contactsT.name, text), containsSql(contactsT.remark, text)];
}

/** `phoneHash`: the keyed hash of `q` when it is a phone number (exact match on the sealed phone). */
async function filters(d: Db, q: ContactListQuery, user: SessionUser, phoneHash: string | null = null): Promise<SQL[]> {
  const where: SQL[] = [];
  const scope = scopeCondition(user);
  if (scope) where.push(scope);
  if (q.q) {
    where.push(
      or(
        // any text inside name or remark, pinyin, initials: one index range (contactSearchText)
        ...contactTextSql(q.q),
        eq(contactsT.externalId, q.q),
        ...(phoneHash ? [eq(contactsT.phoneHash, phoneHash)] : []),
      )!,
    );
  }
  if (q.kind) where.push(eq(contactsT.kind, q.kind));
  if (q.ownerUserId !== undefined) where.push(eq(contactsT.ownerUserId, q.ownerUserId));
  if (q.tagId !== undefined) {
    const tag = await d.select({ id: tags.id }).from(tags).where(eq(tags.id, q.tagId)).get();
    if (!tag) throw new ApiError(400, 'unknown_reference', `tagId: no tag with id ${q.tagId}`, [{ path: 'tagId', message: 'no such tag' }]);
    where.push(inArray(contactsT.id, d.select({ id: contactTags.contactId }).from(contactTags).where(eq(contactTags.tagId, q.tagId))));
  }
  if (q.departmentId !== undefined) {
    const dept = await d.select({ path: departments.path }).from(departments).where(eq(departments.id, q.departmentId)).get();
    if (!dept)
      throw new ApiError(400, 'unknown_reference', `departmentId: no department with id ${q.departmentId}`, [
        { path: 'departmentId', message: 'no such department' },
      ]);
    // the department and every department below it
    where.push(
      inArray(contactsT.departmentId, d.select({ id: departments.id }).from(departments).where(startsWithSql(departments.path, dept.path))),
    );
  }
  return where;
}

const summaryColumns = {
  id: contactsT.id,
  kind: contactsT.kind,
  externalId: contactsT.externalId,
  name: contactsT.name,
  remark: contactsT.remark,
  gender: contactsT.gender,
  region: contactsT.region,
  city: contactsT.city,
  company: contactsT.company,
  occupation: contactsT.occupation,
  device: contactsT.device,
  sourceChannel: contactsT.sourceChannel,
  departmentId: contactsT.departmentId,
  // aliased: D1 batch results are keyed by column name, and `name` is taken by the contact
  departmentName: sql<string | null>`${departments.name}`.as('department_name'),
  ownerUserId: contactsT.ownerUserId,
  ownerName: sql<string | null>`(SELECT u.name FROM users u WHERE u.id = ${contactsT.ownerUserId})`.as('owner_name'),
  createdAt: contactsT.createdAt,
  lastActiveAt: contactsT.lastActiveAt,
  messageCount: contactsT.messageCount,
  purchaseCount: contactsT.purchaseCount,
  totalSpend: contactsT.totalSpend,
};

/** Tag chips of many contacts in one query, grouped by contact id. */
async function tagChipsByContactId(d: Db, ids: number[]): Promise<Map<number, TagChip[]>> {
  const byId = new Map<number, TagChip[]>();
  if (ids.length === 0) return byId;
  const rows = await d
    .select({
      contactId: contactTags.contactId,
      id: tags.id,
      name: tags.name,
      color: sql<string>`coalesce(${tags.color}, ${tagGroups.color})`,
      groupId: tagGroups.id,
      groupName: tagGroups.name,
    })
    .from(contactTags)
    .innerJoin(tags, eq(tags.id, contactTags.tagId))
    .innerJoin(tagGroups, eq(tagGroups.id, tags.groupId))
    .where(inArray(contactTags.contactId, ids))
    .orderBy(asc(tagGroups.sortOrder), asc(tags.id));
  for (const { contactId, ...chip } of rows) {
    const list = byId.get(contactId) ?? [];
    list.push(chip);
    byId.set(contactId, list);
  }
  return byId;
}

const summaryQuery = (d: Db) =>
  d.select(summaryColumns).from(contactsT).leftJoin(departments, eq(departments.id, contactsT.departmentId)).$dynamic();
type SummaryRow = Awaited<ReturnType<typeof summaryQuery>>[number];

function toSummary(row: SummaryRow, chips: TagChip[]): ContactSummary {
  const { departmentId, departmentName, ownerUserId, ownerName, ...rest } = row;
  return {
    ...rest,
    department: departmentId == null ? null : { id: departmentId, name: departmentName ?? '' },
    owner: ownerUserId == null ? null : { id: ownerUserId, name: ownerName ?? '' },
    tags: chips,
  };
}

/**
 * Contact summaries with their tag chips, in the order of `ids` (unknown ids are skipped): what
 * `GET /api/contacts` shows, for other screens that list contacts (rule and segment previews).
 */
export async function contactSummaries(d: Db, ids: number[]): Promise<ContactSummary[]> {
  if (ids.length === 0) return [];
  const [rows, chips] = await Promise.all([summaryQuery(d).where(inArray(contactsT.id, ids)), tagChipsByContactId(d, ids)]);
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.flatMap((id) => {
    const row = byId.get(id);
    return row ? [toSummary(row, chips.get(id) ?? [])] : [];
  });
}

export const contacts = new Hono<AppEnv>()
  .get('/', validate('query', contactListQuery), async (c) => {
    const q = c.req.valid('query');
    const d = db(c.env);
    const user = c.get('user');
    const phoneHash = q.q ? await phoneSearchHash(c.env, q.q) : null;
    // whoever sees phones masked may not complete one by trying numbers: audited, limited (429)
    if (phoneHash && !hasRole(user, 'super_admin'))
      await recordPhoneSearch(c.env.DB, { ...actorOf(c), userId: user.id }, normalizePhone(q.q!)!, phoneHash);
    const where = and(...(await filters(d, q, user, phoneHash)));
    const [totalRows, rows] = await d.batch([
      d.select({ n: count() }).from(contactsT).where(where),
      summaryQuery(d)
        .where(where)
        .orderBy(...orderBy[q.sort])
        .limit(q.pageSize)
        .offset((q.page - 1) * q.pageSize),
    ]);
    const chips = await tagChipsByContactId(
      d,
      rows.map((r) => r.id),
    );
    const body: Page<ContactSummary> = {
      items: rows.map((r) => toSummary(r, chips.get(r.id) ?? [])),
      total: totalRows[0]?.n ?? 0,
      page: q.page,
      pageSize: q.pageSize,
    };
    return c.json(body);
  })
  .get('/owners', validate('query', ownerLookupQuery), async (c) => {
    const { q, id } = c.req.valid('query');
    const scope = userScope(c.get('user'), 'u.department_id');
    const keys = q ? nameKeyMatch('user', 'u.id', q) : null;
    const name = q ? containsText('u.name', q) : null;
    const where = [
      'u.disabled = 0',
      ...(scope ? [scope.sql] : []),
      ...(q ? [keys ? `(${name!.sql} OR ${keys.sql})` : name!.sql] : []),
      ...(id !== undefined ? ['u.id = ?'] : []),
    ].join(' AND ');
    const { results } = await c.env.DB.prepare(
      `SELECT u.id, u.name, d.name AS departmentName FROM users u LEFT JOIN departments d ON d.id = u.department_id
       WHERE ${where} ORDER BY u.name, u.id LIMIT 20`,
    )
      .bind(...(scope?.params ?? []), ...(name?.params ?? []), ...(keys?.params ?? []), ...(id !== undefined ? [id] : []))
      .all<OwnerOption>();
    return c.json({ items: results });
  })
  .get('/:id', validate('param', z.object({ id: idParam })), async (c) => {
    const { id } = c.req.valid('param');
    const d = db(c.env);
    const row = await summaryQuery(d)
      .where(and(eq(contactsT.id, id), scopeCondition(c.get('user'))))
      .get();
    if (!row) throw new ApiError(404, 'not_found', `No contact with id ${id}`);
    const chips = await tagChipsByContactId(d, [id]);
    return c.json(toSummary(row, chips.get(id) ?? []));
  });
