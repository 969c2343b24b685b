/**
 * Editing a tag group: name (unique), owning department, roles, limit (not below its active
 * tags) and exclusivity (refused while a contact holds two of its tags); one batch with its
 * audit row.
 */
import { ApiError } from '../errors';
import { auditStatement } from '../audit';
import { ownerDepartment, type Actor } from '../auth/access';
import type { SessionUser } from '@shared/api/auth';
import type { TaxonomyGroup, UpdateGroupBody } from '@shared/api/taxonomy';
import { groupById, requireEditable, runBatch, toGroup, type GroupRow } from './rows';
import type { TaxonomySettings } from './settings';

/** Applies `b` to group `id` as `user` (`actor` for the audit row). */
export async function updateGroup(
  db: D1Database,
  s: TaxonomySettings,
  user: SessionUser,
  actor: Actor,
  id: number,
  b: UpdateGroupBody,
): Promise<TaxonomyGroup> {
  // Long on purpose: a PATCH's per-field checks, then one batch with its audit entry.
  const group = await groupById(db, id);
  if (!group) throw new ApiError(404, 'not_found', `No tag group with id ${id}`);
  requireEditable(user, group);
  const departmentId = b.departmentId === undefined ? group.department_id : (await ownerDepartment(db, user, b.departmentId)).id;
  if (b.name !== undefined && b.name !== group.name) {
    const taken = await db.prepare('SELECT id FROM tag_groups WHERE name = ? AND id <> ?').bind(b.name, id).first<{ id: number }>();
    if (taken)
      throw new ApiError(409, 'conflict', `A tag group named ${b.name} exists (#${taken.id})`, [{ path: 'name', message: 'already used' }]);
  }
  if (b.exclusive === true && !group.exclusive) {
    // an exclusive group whose contacts already hold two of its tags would be a lie
    const row = await db
      .prepare(
        `SELECT count(*) AS n FROM (SELECT ct.contact_id FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id
         WHERE t.group_id = ? GROUP BY ct.contact_id HAVING count(*) > 1)`,
      )
      .bind(id)
      .first<{ n: number }>();
    if (row && row.n > 0) {
      throw new ApiError(409, 'conflict', `Cannot make ${group.name} exclusive: ${row.n} contacts hold more than one of its tags`, [
        { path: 'exclusive', message: `${row.n} contacts hold more than one tag of this group` },
      ]);
    }
  }
  if (b.maxTags != null) {
    const row = await db.prepare(`SELECT count(*) AS n FROM tags WHERE group_id = ? AND status = 'active'`).bind(id).first<{ n: number }>();
    if (row && row.n > b.maxTags) {
      throw new ApiError(409, 'conflict', `${group.name} has ${row.n} active tags, more than the limit ${b.maxTags}`, [
        { path: 'maxTags', message: `the group has ${row.n} active tags` },
      ]);
    }
  }
  const next: GroupRow = {
    ...group,
    name: b.name ?? group.name,
    description: b.description !== undefined ? b.description : group.description,
    color: b.color ?? group.color,
    exclusive: b.exclusive === undefined ? group.exclusive : b.exclusive ? 1 : 0,
    max_tags: b.maxTags !== undefined ? b.maxTags : group.max_tags,
    department_id: departmentId,
    apply_role: b.applyRole ?? group.apply_role,
    edit_role: b.editRole ?? group.edit_role,
  };
  const at = Date.now();
  await runBatch(
    db,
    [
      db
        .prepare(
          'UPDATE tag_groups SET name = ?, description = ?, color = ?, exclusive = ?, max_tags = ?, department_id = ?, apply_role = ?, edit_role = ? WHERE id = ?',
        )
        .bind(
          next.name,
          next.description,
          next.color,
          next.exclusive,
          next.max_tags,
          next.department_id,
          next.apply_role,
          next.edit_role,
          id,
        ),
      auditStatement(db, {
        actor: actor,
        action: 'tag_group.update',
        objectType: 'tag_group',
        objectId: id,
        summary: `Edited tag group ${next.name}`,
        params: { name: next.name },
        before: toGroup(group, s),
        after: toGroup(next, s),
        at,
      }),
    ],
    `A tag group named ${next.name} exists`,
  );
  return toGroup(next, s);
}
