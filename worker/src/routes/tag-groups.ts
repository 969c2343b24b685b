import { Hono } from 'hono';
import type { AppEnv } from '../app-env';
import { parseJsonOr } from '@shared/json';
import { canApplyGroup, canEditGroup, contactScope, GROUP_ACCESS_COLUMNS } from '../auth/access';
import type { TagGroupWithTags } from '@shared/api/tags';
import { batch, typed, type ContactTagRow, type TagRow } from '../db/rows';
import type { GroupRow } from '../taxonomy/rows';

type ListedTag = Pick<
  TagRow,
  'id' | 'group_id' | 'name' | 'parent_id' | 'level' | 'color' | 'status' | 'description' | 'last_applied_at'
> & {
  /** JSON array of the name's ASCII search keys */
  search_keys: string;
};
type Holders = Pick<ContactTagRow, 'tag_id'> & { n: number };

/**
 * Tag groups with their tags, how many contacts (in the user's scope) hold each tag now, and
 * what the user may do with each group.
 */
export const tagGroups = new Hono<AppEnv>().get('/', async (c) => {
  const db = c.env.DB;
  const user = c.get('user');
  const scope = contactScope(user);
  const [groups, tagRows, counts] = await batch(db, [
    typed<GroupRow>(
      db.prepare(
        `SELECT g.id, g.name, g.description, g.color, g.exclusive, g.max_tags, g.department_id, ${GROUP_ACCESS_COLUMNS} FROM tag_groups g ORDER BY g.sort_order, g.id`,
      ),
    ),
    typed<ListedTag>(
      db.prepare(
        `SELECT id, group_id, name, parent_id, level, color, status, description, last_applied_at,
                (SELECT json_group_array(k.key) FROM search_keys k WHERE k.kind = 'tag' AND k.ref_id = tags.id AND k.key GLOB '[a-z0-9]*') AS search_keys
         FROM tags ORDER BY level, id`,
      ),
    ),
    typed<Holders>(
      scope
        ? db
            .prepare(
              `SELECT ct.tag_id, count(*) AS n FROM contact_tags ct JOIN contacts c ON c.id = ct.contact_id WHERE ${scope.sql} GROUP BY ct.tag_id`,
            )
            .bind(...scope.params)
        : // served by contact_tags_tag_idx: an index-only scan
          db.prepare('SELECT tag_id, count(*) AS n FROM contact_tags GROUP BY tag_id'),
    ),
  ]);
  const holdersByTagId = new Map(counts.results.map((r) => [r.tag_id, r.n]));
  const allTags = tagRows.results;
  const body: TagGroupWithTags[] = groups.results.map((g) => ({
    id: g.id,
    name: g.name,
    description: g.description,
    color: g.color,
    exclusive: !!g.exclusive,
    maxTags: g.max_tags,
    departmentId: g.department_id,
    applyRole: g.apply_role,
    editRole: g.edit_role,
    canApply: canApplyGroup(user, g),
    canEdit: canEditGroup(user, g),
    tags: allTags
      .filter((t) => t.group_id === g.id)
      .map((t) => ({
        id: t.id,
        name: t.name,
        parentId: t.parent_id,
        level: t.level,
        color: t.color,
        status: t.status,
        description: t.description,
        lastAppliedAt: t.last_applied_at,
        holders: holdersByTagId.get(t.id) ?? 0,
        searchKeys: parseJsonOr<string[]>(t.search_keys, []),
      })),
  }));
  return c.json(body);
});
