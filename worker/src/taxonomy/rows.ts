/** Tag group and tag rows as D1 returns them, their API shapes, and the lookups every handler needs. */
import { ApiError } from '../errors';
import { canEditGroup, forbidden, GROUP_ACCESS_COLUMNS, type GroupAccess } from '../auth/access';
import { batch, type Results, type TagGroupRow, type TagRow } from '../db/rows';
import type { SessionUser } from '@shared/api/auth';
import type { TaxonomyGroup, TaxonomyTag } from '@shared/api/taxonomy';
import type { TaxonomySettings } from './settings';

/** A tag group with what decides who may touch it (`GROUP_ACCESS_COLUMNS`). */
export type GroupRow = Pick<TagGroupRow, 'id' | 'name' | 'description' | 'color' | 'exclusive' | 'max_tags' | 'department_id'> &
  Partial<Pick<TagGroupRow, 'wecom_sync'>> &
  GroupAccess;
export type { TagRow };

export const toGroup = (g: GroupRow, s: TaxonomySettings): TaxonomyGroup => ({
  id: g.id,
  name: g.name,
  description: g.description,
  color: g.color,
  exclusive: Boolean(g.exclusive),
  maxTags: g.max_tags,
  departmentId: g.department_id,
  applyRole: g.apply_role,
  editRole: g.edit_role,
  namingTemplate: s.templatesByGroupName.get(g.name)?.template ?? null,
});

export const toTag = (t: TagRow): TaxonomyTag => ({
  id: t.id,
  groupId: t.group_id,
  parentId: t.parent_id,
  level: t.level,
  name: t.name,
  description: t.description,
  color: t.color,
  status: t.status,
  retiredAt: t.retired_at,
  createdAt: t.created_at,
  lastAppliedAt: t.last_applied_at,
});

export async function groupById(db: D1Database, id: number): Promise<GroupRow | null> {
  return db.prepare(`SELECT g.*, ${GROUP_ACCESS_COLUMNS} FROM tag_groups g WHERE g.id = ?`).bind(id).first<GroupRow>();
}

/** 403 unless the user may edit the group (its roles and department decide: see canEditGroup). */
export function requireEditable(user: SessionUser, group: GroupRow) {
  if (!canEditGroup(user, group)) {
    throw forbidden(
      user,
      `tag group ${group.name} is edited by ${group.edit_role === 'super_admin' || group.department_path === null ? 'super admins' : 'admins of its department'} only`,
    );
  }
}

export async function tagById(db: D1Database, id: number): Promise<TagRow | null> {
  return db.prepare('SELECT * FROM tags WHERE id = ?').bind(id).first<TagRow>();
}
export async function requireTag(db: D1Database, id: number): Promise<TagRow> {
  const tag = await tagById(db, id);
  if (!tag) throw new ApiError(404, 'not_found', `No tag with id ${id}`);
  return tag;
}

/** A UNIQUE violation raced past our own check: still a 409, never a 500. */
export async function runBatch<const S extends readonly D1PreparedStatement[]>(
  db: D1Database,
  statements: S,
  conflictMessage: string,
): Promise<Results<S>> {
  try {
    return await batch(db, statements);
  } catch (e) {
    if (e instanceof Error && /UNIQUE constraint failed/i.test(e.message)) throw new ApiError(409, 'conflict', conflictMessage);
    throw e;
  }
}
