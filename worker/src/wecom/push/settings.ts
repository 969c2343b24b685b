/**
 * A tag group's two WeCom settings (super admins, `PUT /api/wecom/tag-groups/:id`): 同步到企业微信
 * (`wecom_sync`: its tags are created as corp tags by the mirror) and the conflict policy
 * (`wecom_policy`). WeCom's limits are checked when the flag is set, not discovered by the cron:
 * names over 30 characters (40058) and 10,000 corp tags per company (40126), each a 409 naming
 * what to change; and again on a synced group's later new tags, renames and moves
 * (`requireWecomNames`, called by the taxonomy writes). A group cannot become WeCom-owned while a published rule writes its tags.
 */
import type { WecomGroupSettings, WecomGroupSettingsBody, WecomPolicy } from '@shared/api/wecom';
import { ApiError } from '../../errors';
import type { Actor } from '../../auth/access';
import { auditStatement } from '../../audit';
import { WECOM_MAX_CORP_TAGS, WECOM_NAME_MAX, namesTooLong, wecomGroupName, type TagRow } from './mapping';
import { rulesWritingGroup } from './policy';

interface GroupRow {
  id: number;
  name: string;
  wecom_sync: number;
  wecom_policy: WecomPolicy;
  /** origin of the group's live mapping in any corp: null = not mapped */
  origin: 'segflow' | 'wecom' | null;
}
type ActiveTag = TagRow & { groupId: number };

const GROUPS_SQL = `SELECT g.id, g.name, g.wecom_sync, g.wecom_policy,
  (SELECT min(m.origin) FROM wecom_tag_map m WHERE m.kind = 'group' AND m.segflow_id = g.id AND m.deleted_at IS NULL) AS origin
  FROM tag_groups g`;
const TAGS_SQL = `SELECT id, group_id AS groupId, parent_id AS parentId, name FROM tags WHERE status = 'active'`;

/** Names WeCom would refuse: the tags of the group whose path passes 30 characters. */
const tooLongOf = (groupId: number, tags: readonly ActiveTag[]): string[] =>
  namesTooLong(tags.filter((t) => t.groupId === groupId)).map((l) => l.name);

/** Every tag group with its WeCom settings, and how much of it the connection holds as corp tags. */
export async function listGroupSettings(db: D1Database, connectionId: number): Promise<WecomGroupSettings[]> {
  const [groups, tags, mapped] = await db.batch([
    db.prepare(`${GROUPS_SQL} ORDER BY g.sort_order, g.id`),
    db.prepare(TAGS_SQL),
    db.prepare(`SELECT segflow_id FROM wecom_tag_map WHERE connection_id = ? AND kind = 'tag' AND deleted_at IS NULL`).bind(connectionId),
  ]);
  const active = tags!.results as ActiveTag[];
  const mappedIds = new Set((mapped!.results as { segflow_id: number }[]).map((m) => m.segflow_id));
  return (groups!.results as GroupRow[]).map((g) => {
    const own = active.filter((t) => t.groupId === g.id);
    return {
      id: g.id,
      name: g.name,
      sync: !!g.wecom_sync,
      policy: g.wecom_policy,
      inWecom: !!g.wecom_sync || g.origin !== null,
      pulled: g.origin === 'wecom',
      tags: own.length,
      mappedTags: own.filter((t) => mappedIds.has(t.id)).length,
      tooLong: tooLongOf(g.id, active),
    };
  });
}

export async function setGroupSettings(
  db: D1Database,
  groupId: number,
  body: WecomGroupSettingsBody,
  actor: Actor,
  now: number,
): Promise<WecomGroupSettings> {
  const [groupRes, tagsRes, writersRes] = await db.batch([
    db.prepare(`${GROUPS_SQL} WHERE g.id = ?`).bind(groupId),
    db.prepare(`${TAGS_SQL} AND (group_id = ?1 OR id IN (SELECT parent_id FROM tags WHERE group_id = ?1))`).bind(groupId),
    db.prepare(rulesWritingGroup('?1')).bind(groupId),
  ]);
  const g = (groupRes!.results as GroupRow[])[0];
  if (!g) throw new ApiError(404, 'not_found', `Tag group ${groupId} does not exist`);
  const tags = tagsRes!.results as ActiveTag[];
  const inWecom = body.sync || g.origin !== null;

  if (body.sync && !g.wecom_sync) {
    if (wecomGroupName(g.name) === null)
      throw new ApiError(409, 'conflict', `The group name "${g.name}" is longer than WeCom's 30 characters: rename it first`, [
        { path: 'name', message: 'must be at most 30 characters for WeCom' },
      ]);
    const tooLong = tooLongOf(groupId, tags);
    if (tooLong.length)
      throw new ApiError(
        409,
        'conflict',
        `${tooLong.length} tag name(s) of the group would be longer than WeCom's 30 characters as "group path/tag": ${tooLong.join(', ')}`,
        tooLong.map((name) => ({ path: 'tags', message: `${name} is longer than 30 characters` })),
      );
    await requireUnderTagLimit(db, groupId);
  }
  const writers = writersRes!.results as { id: number; name: string }[];
  if (inWecom && body.policy === 'wecom' && writers.length)
    throw new ApiError(
      409,
      'conflict',
      `Published rules write tags of ${g.name}: ${writers.map((r) => r.name).join(', ')}. Change or archive them before WeCom owns the group`,
      writers.map((r) => ({ path: `rules.${r.id}`, message: `rule ${r.name} adds or removes tags of the group` })),
    );

  const changed = !!g.wecom_sync !== body.sync || g.wecom_policy !== body.policy;
  if (changed)
    await db.batch([
      db.prepare('UPDATE tag_groups SET wecom_sync = ?, wecom_policy = ? WHERE id = ?').bind(body.sync ? 1 : 0, body.policy, groupId),
      auditStatement(db, {
        actor,
        action: 'tag_group.wecom',
        objectType: 'tag_group',
        objectId: groupId,
        summary: `WeCom settings of tag group ${g.name}: sync ${body.sync ? 'on' : 'off'}, ${body.policy === 'segflow' ? 'Segflow owns' : 'WeCom owns'}`,
        params: { variant: `${body.sync ? 'on' : 'off'}_${body.policy}`, name: g.name },
        before: { sync: !!g.wecom_sync, policy: g.wecom_policy },
        after: body,
        at: now,
      }),
    ]);
  return {
    id: g.id,
    name: g.name,
    sync: body.sync,
    policy: body.policy,
    inWecom,
    pulled: g.origin === 'wecom',
    tags: tags.filter((t) => t.groupId === groupId).length,
    mappedTags: 0,
    tooLong: [],
  };
}

/**
 * 409 when a connected corp would pass WeCom's 10,000 corp tags once the group's unmapped tags are
 * created: its count at the last mirror (or what is mapped, if it was never mirrored) plus them.
 */
/**
 * A tag about to be created in group `group` (`POST /api/taxonomy/tags`): when the group is synced,
 * the mirror will create it in every connected corp, so WeCom's 10,000 must have room for it too.
 */
export async function requireRoomForNewTag(db: D1Database, group: { id: number; wecom_sync?: number | boolean | null }): Promise<void> {
  if (group.wecom_sync) await requireUnderTagLimit(db, group.id, 1, 'groupId');
}

async function requireUnderTagLimit(db: D1Database, groupId: number, extra = 0, path = 'sync'): Promise<void> {
  const { results } = await db
    .prepare(
      `SELECT c.corp_id,
         max(coalesce(s.wecom_tag_count, 0), (SELECT count(*) FROM wecom_tag_map m WHERE m.connection_id = c.id AND m.kind = 'tag' AND m.deleted_at IS NULL)) AS held,
         (SELECT count(*) FROM tags t WHERE t.group_id = ?1 AND t.status = 'active' AND NOT EXISTS
            (SELECT 1 FROM wecom_tag_map m WHERE m.connection_id = c.id AND m.kind = 'tag' AND m.segflow_id = t.id AND m.deleted_at IS NULL)) AS adding
       FROM wecom_connections c LEFT JOIN wecom_push_state s ON s.connection_id = c.id WHERE c.contact_secret_enc IS NOT NULL`,
    )
    .bind(groupId)
    .all<{ corp_id: string; held: number; adding: number }>();
  const over = results.filter((r) => r.held + r.adding + extra > WECOM_MAX_CORP_TAGS);
  if (over.length)
    throw new ApiError(
      409,
      'conflict',
      `WeCom allows ${WECOM_MAX_CORP_TAGS} corp tags per company: ${over.map((r) => `${r.corp_id} holds ${r.held} and the group adds ${r.adding + extra}`).join('; ')}`,
      over.map((r) => ({ path, message: `${r.corp_id}: ${r.held} + ${r.adding + extra} > ${WECOM_MAX_CORP_TAGS}` })),
    );
}

/**
 * A tag of a group synced to WeCom is a corp tag named by its path (wecom/push/mapping.ts): a new
 * tag, a rename or a move that makes it, or a tag under it, longer than WeCom's 30 characters is
 * refused here, before WeCom would refuse the add / edit_corp_tag (40058) and leave the two sides
 * apart. `tag.id` null: a tag about to be created.
 */
export async function requireWecomNames(
  db: D1Database,
  groupId: number,
  tag: { id: number | null; name: string; parentId: number | null },
  field: 'name' | 'parentId',
): Promise<void> {
  const { results } = await db
    .prepare('SELECT id, parent_id AS parentId, name, status FROM tags WHERE group_id = ?')
    .bind(groupId)
    .all<{ id: number; parentId: number | null; name: string; status: string }>();
  const id = tag.id ?? 0; // no stored tag has id 0
  const changed = { id, name: tag.name, parentId: tag.parentId, status: results.find((t) => t.id === id)?.status ?? 'active' };
  const after = tag.id === null ? [...results, changed] : results.map((t) => (t.id === id ? changed : t));
  // the tag and the tags under it: their paths are the ones this change writes
  const moved = new Set([id]);
  for (let size = 0; size !== moved.size;) {
    size = moved.size;
    for (const t of after) if (t.parentId !== null && moved.has(t.parentId)) moved.add(t.id);
  }
  const long = namesTooLong(after, moved);
  if (long.length)
    throw new ApiError(
      409,
      'wecom_name_too_long',
      `This group is synced to WeCom, where a tag is named by its path of at most ${WECOM_NAME_MAX} characters: ${long
        .map((l) => `"${l.name}" has ${[...l.name].length}`)
        .join(', ')}`,
      [{ path: field, message: `WeCom tag name over ${WECOM_NAME_MAX} characters: ${long[0]!.name}` }],
    );
}
