/** What the contact detail routes share: the contact in scope, its tag chips, its segments, the manual-edit audit sentence. */
import { findVisibleContact, userScope } from '../auth/access';
import type { SessionUser } from '@shared/api/auth';
import { ApiError } from '../errors';
import type { TagChip } from '@shared/api/contacts';
import type { JsonLogic } from '@shared/rules/types';
import { countWhere } from '../rules/preview';
import { previewContext } from '../rules/context';
import type { AuditParamsByAction } from '@shared/api/audit';
import { parseJsonObject, parseJsonOr } from '@shared/json';
import type { ContactEventRow, ContactRow } from '../db/rows';
import type { EventTimelineEntry } from '@shared/api/taxonomy';

/** The contact, if it exists and is in the user's scope: outside it, it does not exist (404, no leak). */
export async function requireContact(db: D1Database, id: number, user: SessionUser): Promise<ContactRow> {
  const row = await findVisibleContact(db, user, id);
  if (!row) throw new ApiError(404, 'not_found', `No contact with id ${id}`);
  return row;
}

/** The sentence's values: tag names joined (a list is not one of the scalar values params hold). */
export function manualTagsParams(contact: string, added: string[], removed: string[]): AuditParamsByAction['contact.tags'] {
  if (!removed.length) return { variant: 'add', contact, added: added.join(', ') };
  if (!added.length) return { variant: 'remove', contact, removed: removed.join(', ') };
  return { variant: 'both', contact, added: added.join(', '), removed: removed.join(', ') };
}

export const CHIPS_SQL = `SELECT t.id, t.name, coalesce(t.color, g.color) AS color, g.id AS groupId, g.name AS groupName
  FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id JOIN tag_groups g ON g.id = t.group_id
  WHERE ct.contact_id = ? ORDER BY g.sort_order, t.id`;

export async function chipsOf(db: D1Database, contactId: number): Promise<TagChip[]> {
  return (await db.prepare(CHIPS_SQL).bind(contactId).all<TagChip>()).results;
}

export const parseJson = parseJsonObject;

/**
 * The saved segments this contact is in now: each segment's stored audience predicate, scoped
 * to the one contact (an indexed primary-key lookup per segment). Segments whose graph does not
 * compile (logic null) have no members.
 */
export async function segmentsOf(db: D1Database, env: Env, contactId: number, user: SessionUser): Promise<{ id: number; name: string }[]> {
  // only segments the user may see (their department's, see departmentOwned)
  const visible = userScope(user, 'department_id');
  const { results } = await db
    .prepare(`SELECT id, name, logic FROM segments ${visible ? `WHERE ${visible.sql}` : ''} ORDER BY name, id`)
    .bind(...(visible?.params ?? []))
    .all<{ id: number; name: string; logic: string }>();
  const ctx = previewContext(env, Date.now());
  const scope = { sql: 'c.id = ?', params: [contactId] };
  const inIt = await Promise.all(
    results.map(async (s) => {
      const logic = parseJsonOr<JsonLogic | null>(s.logic, null);
      if (logic === null) return false;
      const n = await countWhere(db, logic, ctx, scope);
      return n.ok && n.value > 0;
    }),
  );
  return results.filter((_, i) => inIt[i]).map(({ id, name }) => ({ id, name }));
}

/** An event as the contact's timeline shows it, read from D1 or from the archive. */
export const timelineEntry = (
  r: Pick<ContactEventRow, 'id' | 'type' | 'occurred_at' | 'amount' | 'channel' | 'group_id' | 'text'>,
): EventTimelineEntry => ({
  id: r.id,
  type: r.type,
  occurredAt: r.occurred_at,
  amount: r.amount,
  channel: r.channel,
  groupId: r.group_id,
  text: r.text,
});
