/**
 * The checks of a manual tag edit on one contact (`POST /api/contacts/:id/tags`): every tag
 * exists, the user may apply its group, none being added is retired, at most one tag of an
 * exclusive group is added, and none is of a group WeCom owns.
 */
import type { SessionUser } from '@shared/api/auth';
import type { ManualTagsBody } from '@shared/api/taxonomy';
import { canApplyGroup, forbidden, GROUP_ACCESS_COLUMNS, type GroupAccess } from '../auth/access';
import type { TagGroupRow, TagRow } from '../db/rows';
import { ApiError } from '../errors';
import { requireManualEditAllowed } from '../wecom/push/policy';

/** A tag of a manual edit, with its group's access facts. */
export type EditedTag = Pick<TagRow, 'id' | 'name' | 'status' | 'group_id'> & {
  group_name: TagGroupRow['name'];
  exclusive: TagGroupRow['exclusive'];
} & GroupAccess;

/**
 * The tags of a manual edit by id, or the refusal: 400 for an unknown tag, 403 for a group the
 * user may not apply, 409 for a retired tag, two tags of one exclusive group in `add`, or a tag
 * WeCom owns.
 */
export async function checkManualTags(db: D1Database, user: SessionUser, b: ManualTagsBody): Promise<Map<number, EditedTag>> {
  const ids = [...new Set([...b.add, ...b.remove])];
  const { results: tagRows } = await db
    .prepare(
      `SELECT t.id, t.name, t.status, t.group_id, g.name AS group_name, g.exclusive, ${GROUP_ACCESS_COLUMNS}
       FROM tags t JOIN tag_groups g ON g.id = t.group_id WHERE t.id IN (SELECT value FROM json_each(?))`,
    )
    .bind(JSON.stringify(ids))
    .all<EditedTag>();
  const byId = new Map(tagRows.map((t) => [t.id, t]));
  const unknown = ids.filter((t) => !byId.has(t));
  if (unknown.length) {
    throw new ApiError(
      400,
      'unknown_reference',
      `No tag with id ${unknown.join(', ')}`,
      unknown.map((t) => ({
        path: b.add.includes(t) ? `add.${b.add.indexOf(t)}` : `remove.${b.remove.indexOf(t)}`,
        message: 'no such tag',
      })),
    );
  }
  const denied = [
    ...new Set(
      ids
        .map((t) => byId.get(t)!)
        .filter((t) => !canApplyGroup(user, t))
        .map((t) => t.group_name),
    ),
  ];
  if (denied.length) {
    throw forbidden(user, `tags of ${denied.join(', ')} may not be applied by you (the group restricts who applies its tags)`);
  }
  const retired = b.add.map((t) => byId.get(t)!).filter((t) => t.status !== 'active');
  if (retired.length) {
    throw new ApiError(
      409,
      'conflict',
      `Retired tags cannot be added: ${retired.map((t) => t.name).join(', ')}`,
      retired.map((t) => ({ path: `add.${b.add.indexOf(t.id)}`, message: `${t.name} is retired` })),
    );
  }
  const exclusiveGroups = new Map<number, string[]>();
  for (const t of b.add.map((x) => byId.get(x)!))
    if (t.exclusive) exclusiveGroups.set(t.group_id, [...(exclusiveGroups.get(t.group_id) ?? []), t.name]);
  const clash = [...exclusiveGroups.entries()].find(([, names]) => names.length > 1);
  if (clash) {
    const groupName = byId.get(b.add.find((t) => byId.get(t)!.group_id === clash[0])!)!.group_name;
    throw new ApiError(409, 'conflict', `${groupName} is exclusive: add one of ${clash[1].join(', ')}, not several`, [
      { path: 'add', message: `several tags of exclusive group ${groupName}` },
    ]);
  }
  await requireManualEditAllowed(db, b);
  return byId;
}
