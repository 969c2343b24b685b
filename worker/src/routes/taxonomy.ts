/**
 * Taxonomy: tag groups and tags created, edited, retired, restored and merged
 * (`/api/taxonomy/…`). Handlers validate, check access and answer; the work lives in
 * `worker/src/taxonomy/` (rows, settings and limits, names, usage, edits, retire/restore, merge). Every mutation
 * and its `audit_log` row commit in one `DB.batch`; tag changes on contacts (merge) go through
 * the tag writer, never straight to `contact_tags`.
 */
import { Hono } from 'hono';
import type { AppEnv } from '../app-env';
import { ApiError } from '../errors';
import { validate } from '../validate';
import { MAX_TAG_LEVEL } from '@shared/domain';
import { checkTagName, type NamingTemplate } from '@shared/tags';
import { keyCreated } from '../search/keys';
import {
  checkTagNameBody,
  createGroupBody,
  createTagBody,
  emptyBody,
  idPath,
  mergeTagBody,
  retireTagBody,
  updateGroupBody,
  updateTagBody,
  type CheckTagNameResponse,
  type RetirementProposal,
  type TagUsage,
  type TaxonomyConfig,
} from '@shared/api/taxonomy';
import { auditStatementForNewRow } from '../audit';
import { typed } from '../db/rows';
import { scopedHolderCount, scopeUsage } from '../taxonomy/usage-scope';
import { groupById, requireEditable, requireTag, runBatch, tagById, toGroup, toTag, type GroupRow, type TagRow } from '../taxonomy/rows';
import { limitCheck, settings } from '../taxonomy/settings';
import { checkNewName, nearDuplicates } from '../taxonomy/names';
import { activeChildren, rulesUsing, segmentsUsing } from '../taxonomy/usage';
import { mergeTag } from '../taxonomy/merge';
import { updateTag } from '../taxonomy/tags';
import { requireWecomNames } from '../wecom/push/settings';
import { updateGroup } from '../taxonomy/groups';
import { restoreTag, retireTag } from '../taxonomy/status';
import { actorOf, ownerDepartment, requireRole } from '../auth/access';
import { DAY_MS } from '@shared/time';
import { requireRoomForNewTag } from '../wecom/push/settings';
import { mirrorTaxonomyChange } from '../wecom/push/tag-ops';

export const taxonomy = new Hono<AppEnv>()
  .get('/config', async (c) => {
    const s = settings(c.env);
    const [groups, total] = await c.env.DB.batch<{ id: number; name: string; n: number }>([
      c.env.DB.prepare('SELECT id, name FROM tag_groups'),
      c.env.DB.prepare(`SELECT count(*) AS n FROM tags WHERE status = 'active'`),
    ]);
    const namingTemplates: Record<number, string> = {};
    for (const g of groups!.results) {
      const t = s.templatesByGroupName.get(g.name);
      if (t) namingTemplates[g.id] = t.template;
    }
    const body: TaxonomyConfig = {
      maxLevel: MAX_TAG_LEVEL,
      perGroupLimit: s.perGroupLimit,
      totalLimit: s.totalLimit,
      totalTags: total!.results[0]?.n ?? 0,
      retirementIdleDays: s.retirementIdleDays,
      namingTemplates,
    };
    return c.json(body);
  })

  // ---- groups ----
  .post('/groups', requireRole('dept_admin'), validate('json', createGroupBody), async (c) => {
    const b = c.req.valid('json');
    const db = c.env.DB;
    const s = settings(c.env);
    const departmentId = (await ownerDepartment(db, c.get('user'), b.departmentId)).id;
    const taken = await db.prepare('SELECT id FROM tag_groups WHERE name = ?').bind(b.name).first<{ id: number }>();
    if (taken)
      throw new ApiError(409, 'conflict', `A tag group named ${b.name} exists (#${taken.id})`, [{ path: 'name', message: 'already used' }]);
    const at = Date.now();
    const [inserted] = await runBatch(
      db,
      [
        typed<GroupRow>(
          db
            .prepare(
              `INSERT INTO tag_groups (name, description, color, exclusive, max_tags, department_id, apply_role, edit_role, sort_order)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, (SELECT coalesce(max(sort_order), 0) + 1 FROM tag_groups))
             RETURNING *, (SELECT path FROM departments WHERE id = department_id) AS department_path`,
            )
            .bind(
              b.name,
              b.description ?? null,
              b.color ?? '#409eff',
              b.exclusive ? 1 : 0,
              b.maxTags ?? null,
              departmentId,
              b.applyRole ?? 'staff',
              b.editRole ?? 'dept_admin',
            ),
        ),
        auditStatementForNewRow(db, {
          at,
          actor: actorOf(c),
          action: 'tag_group.create',
          objectType: 'tag_group',
          summary: `Created tag group ${b.name}`,
          params: { name: b.name },
          after: b,
        }),
      ],
      `A tag group named ${b.name} exists`,
    );
    return c.json(toGroup(inserted.results[0]!, s), 201);
  })
  .patch('/groups/:id', validate('param', idPath), validate('json', updateGroupBody), async (c) => {
    const group = await updateGroup(c.env.DB, settings(c.env), c.get('user'), actorOf(c), c.req.valid('param').id, c.req.valid('json'));
    await mirrorTaxonomyChange(c.env, 'group', group.id); // a mirrored group renamed in WeCom too
    return c.json(group);
  })

  // ---- tags ----
  .post('/tags/check', validate('json', checkTagNameBody), async (c) => {
    const b = c.req.valid('json');
    const db = c.env.DB;
    const s = settings(c.env);
    let template: NamingTemplate | undefined;
    if (b.groupId !== undefined) {
      const group = await groupById(db, b.groupId);
      if (!group)
        throw new ApiError(400, 'unknown_reference', `groupId: no tag group with id ${b.groupId}`, [
          { path: 'groupId', message: 'no such group' },
        ]);
      template = s.templatesByGroupName.get(group.name);
    }
    const body: CheckTagNameResponse = {
      problems: b.name.trim() ? checkTagName(b.name, template) : [],
      duplicates: b.name.trim() ? await nearDuplicates(db, b.name, b.excludeTagId) : [],
    };
    return c.json(body);
  })
  .post('/tags', validate('json', createTagBody), async (c) => {
    const b = c.req.valid('json');
    const db = c.env.DB;
    const s = settings(c.env);
    const group = await groupById(db, b.groupId);
    if (!group)
      throw new ApiError(400, 'unknown_reference', `groupId: no tag group with id ${b.groupId}`, [
        { path: 'groupId', message: 'no such group' },
      ]);
    requireEditable(c.get('user'), group);
    let level = 1;
    if (b.parentId != null) {
      const parent = await tagById(db, b.parentId);
      if (!parent)
        throw new ApiError(400, 'unknown_reference', `parentId: no tag with id ${b.parentId}`, [
          { path: 'parentId', message: 'no such tag' },
        ]);
      if (parent.group_id !== group.id)
        throw new ApiError(400, 'invalid_request', `parentId: ${parent.name} belongs to another group`, [
          { path: 'parentId', message: 'must be a tag of the same group' },
        ]);
      if (parent.level >= MAX_TAG_LEVEL)
        throw new ApiError(409, 'conflict', `${parent.name} is on level ${MAX_TAG_LEVEL}: tags nest at most ${MAX_TAG_LEVEL} levels deep`, [
          { path: 'parentId', message: `at most ${MAX_TAG_LEVEL} levels` },
        ]);
      if (parent.status !== 'active')
        throw new ApiError(409, 'conflict', `${parent.name} is retired: restore it before adding tags under it`, [
          { path: 'parentId', message: 'retired' },
        ]);
      level = parent.level + 1;
    }
    await checkNewName(db, s, group, b.name, { allowDuplicate: b.allowDuplicate });
    if (group.wecom_sync) await requireWecomNames(db, group.id, { id: null, name: b.name, parentId: b.parentId ?? null }, 'name');
    await limitCheck(db, s, group);
    await requireRoomForNewTag(db, group);
    const at = Date.now();
    const [inserted] = await runBatch(
      db,
      [
        typed<TagRow>(
          db
            .prepare(
              `INSERT INTO tags (group_id, parent_id, level, name, description, color, status, created_at)
             VALUES (?, ?, ?, ?, ?, ?, 'active', ?) RETURNING *`,
            )
            .bind(group.id, b.parentId ?? null, level, b.name, b.description ?? null, b.color ?? null, at),
        ),
        auditStatementForNewRow(db, {
          at,
          actor: actorOf(c),
          action: 'tag.create',
          objectType: 'tag',
          summary: `Created tag ${group.name} › ${b.name}`,
          params: { group: group.name, name: b.name },
          after: { ...b, level },
        }),
      ],
      `Group ${group.name} already has a tag named ${b.name}`,
    );
    await keyCreated(db, 'tag', [{ id: inserted.results[0]!.id, name: b.name }]);
    return c.json(toTag(inserted.results[0]!), 201);
  })
  .patch('/tags/:id', validate('param', idPath), validate('json', updateTagBody), async (c) => {
    const tag = await updateTag(c.env.DB, settings(c.env), c.get('user'), actorOf(c), c.req.valid('param').id, c.req.valid('json'));
    await mirrorTaxonomyChange(c.env, 'tag', tag.id); // a mirrored tag (and those under it) renamed in WeCom too
    return c.json(tag);
  })
  .get('/tags/:id/usage', validate('param', idPath), async (c) => {
    const { id } = c.req.valid('param');
    const db = c.env.DB;
    const tag = await requireTag(db, id);
    const user = c.get('user');
    const [rules, segments, children, holders] = await Promise.all([
      rulesUsing(db, id),
      segmentsUsing(db, id),
      activeChildren(db, id),
      scopedHolderCount(db, user, id),
    ]);
    const body: TagUsage = {
      tag: toTag(tag),
      ...holders,
      ...scopeUsage(user, rules.uses, rules.rows, segments),
      children,
    };
    return c.json(body);
  })
  .post('/tags/:id/retire', validate('param', idPath), validate('json', retireTagBody), async (c) => {
    const tag = await retireTag(c.env.DB, c.get('user'), actorOf(c), c.req.valid('param').id, c.req.valid('json'));
    await mirrorTaxonomyChange(c.env, 'tag', tag.id); // a mirrored tag deleted in WeCom (del_corp_tag)
    return c.json(tag);
  })
  .post('/tags/:id/restore', validate('param', idPath), validate('json', emptyBody), async (c) => {
    return c.json(await restoreTag(c.env.DB, c.env, c.get('user'), actorOf(c), c.req.valid('param').id));
  })
  .post('/tags/:id/merge', validate('param', idPath), validate('json', mergeTagBody), async (c) => {
    const { id } = c.req.valid('param');
    const merged = await mergeTag(c.env.DB, c.get('user'), actorOf(c), id, c.req.valid('json'));
    await mirrorTaxonomyChange(c.env, 'tag', id); // the merged tag is retired: deleted in WeCom too
    return c.json(merged);
  })
  .get('/retirement-proposals', async (c) => {
    const db = c.env.DB;
    const s = settings(c.env);
    const now = Date.now();
    const cutoff = now - s.retirementIdleDays * DAY_MS;
    const { results } = await db
      .prepare(
        `SELECT t.*, g.name AS group_name, (SELECT count(*) FROM contact_tags ct WHERE ct.tag_id = t.id) AS holders
         FROM tags t JOIN tag_groups g ON g.id = t.group_id
         WHERE t.status = 'active' AND coalesce(t.last_applied_at, t.created_at) < ?
           AND NOT EXISTS (SELECT 1 FROM tags ch WHERE ch.parent_id = t.id AND ch.status = 'active')
         ORDER BY coalesce(t.last_applied_at, t.created_at), t.id`,
      )
      .bind(cutoff)
      .all<TagRow & { group_name: string; holders: number }>();
    const body: RetirementProposal[] = results.map((r) => ({
      tag: toTag(r),
      groupName: r.group_name,
      holders: r.holders,
      idleDays: Math.floor((now - (r.last_applied_at ?? r.created_at)) / DAY_MS),
    }));
    return c.json(body);
  });
