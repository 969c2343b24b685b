import { Hono } from 'hono';
import { asc, count, eq } from 'drizzle-orm';
import type { AppEnv } from '../app-env';
import { db } from '../db/client';
import { contactTags, tagGroups as tagGroupsT, tags } from '../db/schema';
import type { TagGroupWithTags } from '../../../shared/src/api/tags';

/** Tag groups with their tags and how many contacts hold each tag now. */
export const tagGroups = new Hono<AppEnv>().get('/', async (c) => {
  const d = db(c.env);
  const [groups, tagRows, counts] = await d.batch([
    d.select().from(tagGroupsT).orderBy(asc(tagGroupsT.sortOrder), asc(tagGroupsT.id)),
    d.select().from(tags).orderBy(asc(tags.level), asc(tags.id)),
    // served by contact_tags_tag_idx: an index-only scan
    d.select({ tagId: contactTags.tagId, n: count() }).from(contactTags).groupBy(contactTags.tagId),
  ]);
  const holdersByTagId = new Map(counts.map((r) => [r.tagId, r.n]));
  const body: TagGroupWithTags[] = groups.map((g) => ({
    id: g.id,
    name: g.name,
    description: g.description,
    color: g.color,
    exclusive: g.exclusive,
    maxTags: g.maxTags,
    tags: tagRows
      .filter((t) => t.groupId === g.id)
      .map((t) => ({
        id: t.id,
        name: t.name,
        parentId: t.parentId,
        level: t.level,
        color: t.color,
        status: t.status,
        description: t.description,
        lastAppliedAt: t.lastAppliedAt,
        holders: holdersByTagId.get(t.id) ?? 0,
      })),
  }));
  return c.json(body);
});
