/**
 * Editing a tag: renaming (naming rules, duplicates), moving it under another parent of its group
 * (its whole subtree's levels recomputed, at most MAX_TAG_LEVEL deep, no cycles), description and
 * colour; one batch with its audit row.
 */
import { ApiError } from '../errors';
import { auditStatement } from '../audit';
import type { Actor } from '../auth/access';
import { MAX_TAG_LEVEL } from '@shared/domain';
import type { SessionUser } from '@shared/api/auth';
import type { TaxonomyTag, UpdateTagBody } from '@shared/api/taxonomy';
import { groupById, requireEditable, requireTag, runBatch, tagById, toTag, type TagRow } from './rows';
import { checkNewName } from './names';
import type { TaxonomySettings } from './settings';
import { keyStatements } from '../search/keys';
import { requireWecomNames } from '../wecom/push/settings';

/** Applies `b` to tag `id` as `user` (`actor` for the audit row). */
export async function updateTag(
  db: D1Database,
  s: TaxonomySettings,
  user: SessionUser,
  actor: Actor,
  id: number,
  b: UpdateTagBody,
): Promise<TaxonomyTag> {
  // Long on purpose: a PATCH's per-field checks, then one batch with its audit entry.
  const tag = await requireTag(db, id);
  const group = (await groupById(db, tag.group_id))!;
  requireEditable(user, group);
  if (b.name !== undefined && b.name !== tag.name)
    await checkNewName(db, s, group, b.name, { excludeId: id, allowDuplicate: b.allowDuplicate });

  // moving under another parent: recompute the level of the tag and its whole subtree
  const levelUpdates: { id: number; level: number }[] = [];
  let parentId = tag.parent_id;
  if (b.parentId !== undefined && b.parentId !== tag.parent_id) {
    const { results: groupTags } = await db
      .prepare('SELECT id, parent_id, level, name, status FROM tags WHERE group_id = ?')
      .bind(tag.group_id)
      .all<Pick<TagRow, 'id' | 'parent_id' | 'level' | 'name' | 'status'>>();
    const childrenOf = (pid: number) => groupTags.filter((t) => t.parent_id === pid);
    const subtree: { id: number; depth: number }[] = [];
    const walk = (tid: number, depth: number) => {
      subtree.push({ id: tid, depth });
      for (const ch of childrenOf(tid)) walk(ch.id, depth + 1);
    };
    walk(id, 0);
    let newLevel = 1;
    if (b.parentId !== null) {
      const parent = groupTags.find((t) => t.id === b.parentId);
      if (!parent) {
        const elsewhere = await tagById(db, b.parentId);
        if (!elsewhere)
          throw new ApiError(400, 'unknown_reference', `parentId: no tag with id ${b.parentId}`, [
            { path: 'parentId', message: 'no such tag' },
          ]);
        throw new ApiError(400, 'invalid_request', `parentId: ${elsewhere.name} belongs to another group`, [
          { path: 'parentId', message: 'must be a tag of the same group' },
        ]);
      }
      if (subtree.some((n) => n.id === parent.id))
        throw new ApiError(
          409,
          'conflict',
          `Cannot move ${tag.name} under ${parent.name}: it is ${parent.id === id ? 'the tag itself' : 'one of its own descendants'}`,
          [{ path: 'parentId', message: 'would make a cycle' }],
        );
      newLevel = parent.level + 1;
    }
    const deepest = newLevel + Math.max(...subtree.map((n) => n.depth));
    if (deepest > MAX_TAG_LEVEL)
      throw new ApiError(
        409,
        'conflict',
        `Moving ${tag.name} there would put its tags on level ${deepest}: tags nest at most ${MAX_TAG_LEVEL} levels deep`,
        [{ path: 'parentId', message: `at most ${MAX_TAG_LEVEL} levels` }],
      );
    for (const n of subtree) levelUpdates.push({ id: n.id, level: newLevel + n.depth });
    parentId = b.parentId;
  }

  const next: TagRow = {
    ...tag,
    name: b.name ?? tag.name,
    parent_id: parentId,
    level: levelUpdates.find((u) => u.id === id)?.level ?? tag.level,
    description: b.description !== undefined ? b.description : tag.description,
    color: b.color !== undefined ? b.color : tag.color,
  };
  if (group.wecom_sync && (next.name !== tag.name || next.parent_id !== tag.parent_id))
    await requireWecomNames(
      db,
      next.group_id,
      { id, name: next.name, parentId: next.parent_id },
      next.name !== tag.name ? 'name' : 'parentId',
    );
  const at = Date.now();
  await runBatch(
    db,
    [
      db
        .prepare('UPDATE tags SET name = ?, parent_id = ?, description = ?, color = ? WHERE id = ?')
        .bind(next.name, next.parent_id, next.description, next.color, id),
      ...keyStatements(db, 'tag', [{ id, name: next.name }]),
      ...levelUpdates.map((u) => db.prepare('UPDATE tags SET level = ? WHERE id = ?').bind(u.level, u.id)),
      auditStatement(db, {
        actor: actor,
        action: 'tag.update',
        objectType: 'tag',
        objectId: id,
        summary: next.name === tag.name ? `Edited tag ${tag.name}` : `Renamed tag ${tag.name} to ${next.name}`,
        params: next.name === tag.name ? { variant: 'edit', name: tag.name } : { variant: 'rename', from: tag.name, to: next.name },
        before: toTag(tag),
        after: toTag(next),
        at,
      }),
    ],
    `Group ${group.name} already has a tag named ${next.name}`,
  );
  return toTag(next);
}
