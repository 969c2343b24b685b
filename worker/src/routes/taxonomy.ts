/**
 * Taxonomy: tag groups and tags created, edited, retired, restored and merged
 * (`/api/taxonomy/…`). Every mutation and its `audit_log` row commit in one `DB.batch`; tag
 * changes on contacts (merge) go through the tag writer, never straight to `contact_tags`.
 */
import { Hono } from 'hono';
import type { AppEnv } from '../app-env';
import { ApiError } from '../errors';
import { validate } from '../validate';
import { tagSetStatements, type TagWriteSource } from '../tagging/tag-writer';
import { MAX_TAG_LEVEL, type TagStatus } from '../../../shared/src/domain';
import type { FieldProblem } from '../../../shared/src/api/errors';
import {
  checkTagName,
  findNearDuplicates,
  parseNamingTemplate,
  replaceTagInGraph,
  replaceTagInLogic,
  tagUseInGraph,
  type DuplicateReason,
  type NameProblem,
  type NamingTemplate,
} from '../../../shared/src/tags';
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
  type DuplicateWarning,
  type MergeResult,
  type RetirementProposal,
  type TagRuleUse,
  type TagUsage,
  type TaxonomyConfig,
  type TaxonomyGroup,
  type TaxonomyTag,
} from '../../../shared/src/api/taxonomy';
import type { JsonLogic } from '../../../shared/src/rules/types';
import { auditParams, auditStatement, auditStatementIfChanged } from '../audit';
import { scopedHolderCount, scopeUsage } from '../tagging/usage-scope';
import { actorOf, canEditGroup, forbidden, GROUP_ACCESS_COLUMNS, inScope, ownerDepartment, requireRole, type GroupAccess } from '../auth/access';
import { requireConfirmation } from '../auth/confirm';
import type { SessionUser } from '../../../shared/src/api/auth';

const DAY = 86_400_000;

// ---- configuration ([vars] in wrangler.toml) ----

interface TaxonomySettings {
  perGroupLimit: number;
  totalLimit: number;
  retirementIdleDays: number;
  /** group name → template */
  templatesByGroupName: Map<string, NamingTemplate>;
}

/**
 * Limits and naming templates come from `[vars]`: the schema has no column for a group's
 * template yet, so templates are keyed by group name in `TAG_NAMING_TEMPLATES` (JSON). A
 * malformed value falls back to the defaults rather than taking the taxonomy down.
 */
function settings(env: Env): TaxonomySettings {
  const vars = env as unknown as Record<string, string | undefined>;
  const int = (key: string, fallback: number) => {
    const n = Number(vars[key]);
    return Number.isInteger(n) && n > 0 ? n : fallback;
  };
  const templatesByGroupName = new Map<string, NamingTemplate>();
  try {
    const raw = JSON.parse(vars.TAG_NAMING_TEMPLATES ?? '{}') as Record<string, unknown>;
    for (const [group, template] of Object.entries(raw)) {
      const parsed = typeof template === 'string' ? parseNamingTemplate(template) : null;
      if (parsed) templatesByGroupName.set(group, parsed);
    }
  } catch {
    console.warn('TAG_NAMING_TEMPLATES is not valid JSON; no naming templates apply');
  }
  return {
    // WeCom allows a few thousand corp tags in all; these defaults stay well inside it
    perGroupLimit: int('TAG_LIMIT_PER_GROUP', 200),
    totalLimit: int('TAG_LIMIT_TOTAL', 3000),
    retirementIdleDays: int('TAG_RETIREMENT_IDLE_DAYS', 180),
    templatesByGroupName,
  };
}

// ---- rows ----

interface GroupRow extends GroupAccess {
  id: number;
  name: string;
  description: string | null;
  color: string;
  exclusive: number;
  max_tags: number | null;
  department_id: number | null;
}
interface TagRow {
  id: number;
  group_id: number;
  parent_id: number | null;
  level: number;
  name: string;
  description: string | null;
  color: string | null;
  status: TagStatus;
  retired_at: number | null;
  created_at: number;
  last_applied_at: number | null;
}

const toGroup = (g: GroupRow, s: TaxonomySettings): TaxonomyGroup => ({
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

const toTag = (t: TagRow): TaxonomyTag => ({
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

async function groupById(db: D1Database, id: number): Promise<GroupRow | null> {
  return db.prepare(`SELECT g.*, ${GROUP_ACCESS_COLUMNS} FROM tag_groups g WHERE g.id = ?`).bind(id).first<GroupRow>();
}

/** 403 unless the user may edit the group (its roles and department decide: see canEditGroup). */
function requireEditable(user: SessionUser, group: GroupRow) {
  if (!canEditGroup(user, group)) {
    throw forbidden(user, `tag group ${group.name} is edited by ${group.edit_role === 'super_admin' || group.department_path === null ? 'super admins' : 'admins of its department'} only`);
  }
}

async function tagById(db: D1Database, id: number): Promise<TagRow | null> {
  return db.prepare('SELECT * FROM tags WHERE id = ?').bind(id).first<TagRow>();
}
async function requireTag(db: D1Database, id: number): Promise<TagRow> {
  const tag = await tagById(db, id);
  if (!tag) throw new ApiError(404, 'not_found', `No tag with id ${id}`);
  return tag;
}

/** A UNIQUE violation raced past our own check: still a 409, never a 500. */
async function runBatch(db: D1Database, statements: D1PreparedStatement[], conflictMessage: string) {
  try {
    return await db.batch(statements);
  } catch (e) {
    if (e instanceof Error && /UNIQUE constraint failed/i.test(e.message)) throw new ApiError(409, 'conflict', conflictMessage);
    throw e;
  }
}

// ---- names: problems and near-duplicates ----

const problemMessage = (p: NameProblem): string => {
  switch (p.kind) {
    case 'empty':
      return 'must not be empty';
    case 'too_long':
      return `must be at most ${p.max} characters`;
    case 'forbidden_char':
      return `must not contain "${p.char}"`;
    case 'pattern':
      return `must follow the group's naming convention ${p.pattern} (e.g. ${p.example})`;
  }
};

const reasonText = (r: DuplicateReason): string => {
  switch (r.kind) {
    case 'exact':
      return 'same name';
    case 'normalized':
      return 'same name once width, case and punctuation are ignored';
    case 'traditional':
      return 'same name in simplified characters';
    case 'synonym':
      return `same name once synonyms are read alike (${r.pairs.map((p) => `${p.from} ↔ ${p.to}`).join(', ')})`;
    case 'edit_distance':
      return `differs by ${r.distance} character${r.distance > 1 ? 's' : ''}`;
    case 'shared_chars':
      return `shares the characters ${r.shared}`;
  }
};

async function nearDuplicates(db: D1Database, name: string, excludeId?: number): Promise<DuplicateWarning[]> {
  const { results } = await db
    .prepare('SELECT t.id, t.name, t.group_id, t.status, g.name AS group_name FROM tags t JOIN tag_groups g ON g.id = t.group_id')
    .all<{ id: number; name: string; group_id: number; status: TagStatus; group_name: string }>();
  const existing = results.map((r) => ({ ...r, groupId: r.group_id }));
  const matches = findNearDuplicates(name, existing, { excludeId });
  if (!matches.length) return [];
  // holders only for the few matches: this runs on every pause in typing
  const { results: counts } = await db
    .prepare('SELECT tag_id, count(*) AS n FROM contact_tags WHERE tag_id IN (SELECT value FROM json_each(?)) GROUP BY tag_id')
    .bind(JSON.stringify(matches.map((m) => m.tag.id)))
    .all<{ tag_id: number; n: number }>();
  const holders = new Map(counts.map((r) => [r.tag_id, r.n]));
  return matches.map(({ tag, reason }) => ({
    tag: { id: tag.id, name: tag.name, groupId: tag.group_id, groupName: tag.group_name, status: tag.status, holders: holders.get(tag.id) ?? 0 },
    reason,
  }));
}

/**
 * The checks a new or renamed tag passes: naming rules (400), the same name in the group (409),
 * near-duplicates anywhere unless acknowledged (409 with the tags to use instead).
 */
async function checkNewName(
  db: D1Database,
  s: TaxonomySettings,
  group: GroupRow,
  name: string,
  opts: { excludeId?: number; allowDuplicate?: boolean },
) {
  const problems = checkTagName(name, s.templatesByGroupName.get(group.name));
  if (problems.length) {
    const details = problems.map((p) => ({ path: 'name', message: problemMessage(p) }));
    throw new ApiError(400, 'invalid_request', `Invalid body: ${details.map((d) => `name: ${d.message}`).join('; ')}`, details);
  }
  const duplicates = await nearDuplicates(db, name, opts.excludeId);
  const sameInGroup = duplicates.find((d) => d.reason.kind === 'exact' && d.tag.groupId === group.id);
  if (sameInGroup) {
    throw new ApiError(409, 'conflict', `Group ${group.name} already has a tag named ${name} (#${sameInGroup.tag.id}, ${sameInGroup.tag.status})`, [
      { path: 'name', message: `already used by tag #${sameInGroup.tag.id}` },
    ]);
  }
  if (duplicates.length && !opts.allowDuplicate) {
    const details: FieldProblem[] = duplicates.map((d) => ({
      path: 'name',
      message: `looks like ${d.tag.groupName} › ${d.tag.name} (#${d.tag.id}): ${reasonText(d.reason)}`,
    }));
    throw new ApiError(
      409,
      'conflict',
      `${name} looks like an existing tag: use ${duplicates[0]!.tag.name} (#${duplicates[0]!.tag.id}) instead, or send allowDuplicate: true`,
      details,
    );
  }
}

// ---- usage: rules and segments ----

interface RuleRow {
  id: number;
  name: string;
  status: string;
  published_version: number | null;
  draft_graph: string;
  published_graph: string | null;
  /** the owning department's path (null: company-wide) */
  dept_path: string | null;
}

const parse = (text: string | null): unknown => {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
};
const uses = (graph: unknown, tagId: number) => {
  const u = tagUseInGraph(graph, tagId);
  return u.conditions + u.actions > 0;
};

/** Rules (not archived) whose draft or published version uses the tag. */
async function rulesUsing(db: D1Database, tagId: number): Promise<{ uses: TagRuleUse[]; rows: RuleRow[] }> {
  const { results } = await db
    .prepare(
      `SELECT r.id, r.name, r.status, r.published_version, r.draft_graph,
              (SELECT path FROM departments WHERE id = r.department_id) AS dept_path,
              (SELECT v.graph FROM rule_versions v WHERE v.rule_id = r.id AND v.version = r.published_version) AS published_graph
       FROM rules r WHERE r.status <> 'archived' ORDER BY r.id`,
    )
    .all<RuleRow>();
  const out: TagRuleUse[] = [];
  const rows: RuleRow[] = [];
  for (const r of results) {
    const inDraft = uses(parse(r.draft_graph), tagId);
    // a paused rule's published version resumes as it is, so it counts as published
    const inPublished = r.status !== 'draft' && uses(parse(r.published_graph), tagId);
    if (inDraft || inPublished) {
      out.push({ id: r.id, name: r.name, status: r.status, publishedVersion: r.published_version, inDraft, inPublished });
      rows.push(r);
    }
  }
  return { uses: out, rows };
}

async function segmentsUsing(db: D1Database, tagId: number) {
  const { results } = await db
    .prepare('SELECT s.id, s.name, s.graph, s.logic, (SELECT path FROM departments WHERE id = s.department_id) AS dept_path FROM segments s ORDER BY s.id')
    .all<{ id: number; name: string; graph: string; logic: string; dept_path: string | null }>();
  return results.filter((s) => uses(parse(s.graph), tagId));
}

async function activeChildren(db: D1Database, tagId: number) {
  const { results } = await db
    .prepare(`SELECT id, name FROM tags WHERE parent_id = ? AND status = 'active' ORDER BY id`)
    .bind(tagId)
    .all<{ id: number; name: string }>();
  return results;
}

async function holderCount(db: D1Database, tagId: number): Promise<number> {
  return (await db.prepare('SELECT count(*) AS n FROM contact_tags WHERE tag_id = ?').bind(tagId).first<{ n: number }>())?.n ?? 0;
}

/** 409 naming the published rules that use the tag: retiring or merging it would silently break them. */
/** 409 while published rules use the tag: those the caller may see by name, the others counted. */
function refuseWhilePublished(user: SessionUser, tag: TagRow, used: { uses: TagRuleUse[]; rows: RuleRow[] }, verb: string) {
  const published = used.uses.map((r, i) => ({ r, row: used.rows[i] })).filter(({ r }) => r.inPublished);
  if (!published.length) return;
  const visible = published.filter(({ row }) => inScope(user, row?.dept_path ?? null)).map(({ r }) => r);
  const elsewhere = published.length - visible.length;
  const named = visible.map((r) => `${r.name} #${r.id} v${r.publishedVersion}`);
  if (elsewhere) named.push(`${elsewhere} of other departments`);
  throw new ApiError(
    409,
    'conflict',
    `Cannot ${verb} ${tag.name}: published rules use it (${named.join(', ')}). Publish them without this tag first.`,
    [
      ...visible.map((r) => ({ path: `rules.${r.id}`, message: `${r.name} (v${r.publishedVersion}, ${r.status}) uses this tag` })),
      ...(elsewhere ? [{ path: 'rules', message: `${elsewhere} published rule(s) of other departments use this tag` }] : []),
    ],
  );
}

/**
 * The active-tag limits (the group's `max_tags` or TAG_LIMIT_PER_GROUP, and TAG_LIMIT_TOTAL) for
 * a tag about to become active in `groupId`: creating one, restoring one here, or a rollback that
 * restores one (worker/src/routes/rollbacks.ts). A 409 naming the limit when it is reached.
 */
export async function checkActiveTagLimits(db: D1Database, env: Env, groupId: number): Promise<void> {
  const group = await groupById(db, groupId);
  if (group) await limitCheck(db, settings(env), group);
}

async function limitCheck(db: D1Database, s: TaxonomySettings, group: GroupRow) {
  const row = await db
    .prepare(
      `SELECT (SELECT count(*) FROM tags WHERE status = 'active') AS total,
              (SELECT count(*) FROM tags WHERE status = 'active' AND group_id = ?) AS in_group`,
    )
    .bind(group.id)
    .first<{ total: number; in_group: number }>();
  const groupLimit = group.max_tags ?? s.perGroupLimit;
  if ((row?.in_group ?? 0) >= groupLimit) {
    throw new ApiError(409, 'conflict', `Group ${group.name} has reached its limit of ${groupLimit} active tags`, [
      { path: 'groupId', message: `limit ${groupLimit} reached` },
    ]);
  }
  if ((row?.total ?? 0) >= s.totalLimit) {
    throw new ApiError(409, 'conflict', `The taxonomy has reached its limit of ${s.totalLimit} active tags`, [
      { path: 'groupId', message: `total limit ${s.totalLimit} reached` },
    ]);
  }
}

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
    if (taken) throw new ApiError(409, 'conflict', `A tag group named ${b.name} exists (#${taken.id})`, [{ path: 'name', message: 'already used' }]);
    const at = Date.now();
    const [inserted] = await runBatch(
      db,
      [
        db
          .prepare(
            `INSERT INTO tag_groups (name, description, color, exclusive, max_tags, department_id, apply_role, edit_role, sort_order)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, (SELECT coalesce(max(sort_order), 0) + 1 FROM tag_groups))
             RETURNING *, (SELECT path FROM departments WHERE id = department_id) AS department_path`,
          )
          .bind(b.name, b.description ?? null, b.color ?? '#409eff', b.exclusive ? 1 : 0, b.maxTags ?? null, departmentId, b.applyRole ?? 'staff', b.editRole ?? 'dept_admin'),
        db
          .prepare(
            `INSERT INTO audit_log (at, actor_user_id, actor_ip, action, object_type, object_id, summary, params, after)
             VALUES (?, ?, ?, 'tag_group.create', 'tag_group', CAST(last_insert_rowid() AS TEXT), ?, ?, ?)`,
          )
          .bind(at, actorOf(c).userId, actorOf(c).ip, `Created tag group ${b.name}`, auditParams('tag_group.create', { name: b.name }), JSON.stringify(b)),
      ],
      `A tag group named ${b.name} exists`,
    );
    return c.json(toGroup((inserted!.results as GroupRow[])[0]!, s), 201);
  })
  .patch('/groups/:id', validate('param', idPath), validate('json', updateGroupBody), async (c) => {
    const { id } = c.req.valid('param');
    const b = c.req.valid('json');
    const db = c.env.DB;
    const s = settings(c.env);
    const group = await groupById(db, id);
    if (!group) throw new ApiError(404, 'not_found', `No tag group with id ${id}`);
    requireEditable(c.get('user'), group);
    const departmentId = b.departmentId === undefined ? group.department_id : (await ownerDepartment(db, c.get('user'), b.departmentId)).id;
    if (b.name !== undefined && b.name !== group.name) {
      const taken = await db.prepare('SELECT id FROM tag_groups WHERE name = ? AND id <> ?').bind(b.name, id).first<{ id: number }>();
      if (taken) throw new ApiError(409, 'conflict', `A tag group named ${b.name} exists (#${taken.id})`, [{ path: 'name', message: 'already used' }]);
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
          .prepare('UPDATE tag_groups SET name = ?, description = ?, color = ?, exclusive = ?, max_tags = ?, department_id = ?, apply_role = ?, edit_role = ? WHERE id = ?')
          .bind(next.name, next.description, next.color, next.exclusive, next.max_tags, next.department_id, next.apply_role, next.edit_role, id),
        auditStatement(db, {
          actor: actorOf(c),
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
    return c.json(toGroup(next, s));
  })

  // ---- tags ----
  .post('/tags/check', validate('json', checkTagNameBody), async (c) => {
    const b = c.req.valid('json');
    const db = c.env.DB;
    const s = settings(c.env);
    let template: NamingTemplate | undefined;
    if (b.groupId !== undefined) {
      const group = await groupById(db, b.groupId);
      if (!group) throw new ApiError(400, 'unknown_reference', `groupId: no tag group with id ${b.groupId}`, [{ path: 'groupId', message: 'no such group' }]);
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
    if (!group) throw new ApiError(400, 'unknown_reference', `groupId: no tag group with id ${b.groupId}`, [{ path: 'groupId', message: 'no such group' }]);
    requireEditable(c.get('user'), group);
    let level = 1;
    if (b.parentId != null) {
      const parent = await tagById(db, b.parentId);
      if (!parent) throw new ApiError(400, 'unknown_reference', `parentId: no tag with id ${b.parentId}`, [{ path: 'parentId', message: 'no such tag' }]);
      if (parent.group_id !== group.id)
        throw new ApiError(400, 'invalid_request', `parentId: ${parent.name} belongs to another group`, [{ path: 'parentId', message: 'must be a tag of the same group' }]);
      if (parent.level >= MAX_TAG_LEVEL)
        throw new ApiError(409, 'conflict', `${parent.name} is on level ${MAX_TAG_LEVEL}: tags nest at most ${MAX_TAG_LEVEL} levels deep`, [
          { path: 'parentId', message: `at most ${MAX_TAG_LEVEL} levels` },
        ]);
      if (parent.status !== 'active')
        throw new ApiError(409, 'conflict', `${parent.name} is retired: restore it before adding tags under it`, [{ path: 'parentId', message: 'retired' }]);
      level = parent.level + 1;
    }
    await checkNewName(db, s, group, b.name, { allowDuplicate: b.allowDuplicate });
    await limitCheck(db, s, group);
    const at = Date.now();
    const [inserted] = await runBatch(
      db,
      [
        db
          .prepare(
            `INSERT INTO tags (group_id, parent_id, level, name, description, color, status, created_at)
             VALUES (?, ?, ?, ?, ?, ?, 'active', ?) RETURNING *`,
          )
          .bind(group.id, b.parentId ?? null, level, b.name, b.description ?? null, b.color ?? null, at),
        db
          .prepare(
            `INSERT INTO audit_log (at, actor_user_id, actor_ip, action, object_type, object_id, summary, params, after)
             VALUES (?, ?, ?, 'tag.create', 'tag', CAST(last_insert_rowid() AS TEXT), ?, ?, ?)`,
          )
          .bind(
            at,
            actorOf(c).userId,
            actorOf(c).ip,
            `Created tag ${group.name} › ${b.name}`,
            auditParams('tag.create', { group: group.name, name: b.name }),
            JSON.stringify({ ...b, level }),
          ),
      ],
      `Group ${group.name} already has a tag named ${b.name}`,
    );
    return c.json(toTag((inserted!.results as TagRow[])[0]!), 201);
  })
  .patch('/tags/:id', validate('param', idPath), validate('json', updateTagBody), async (c) => {
    const { id } = c.req.valid('param');
    const b = c.req.valid('json');
    const db = c.env.DB;
    const s = settings(c.env);
    const tag = await requireTag(db, id);
    const group = (await groupById(db, tag.group_id))!;
    requireEditable(c.get('user'), group);
    if (b.name !== undefined && b.name !== tag.name) await checkNewName(db, s, group, b.name, { excludeId: id, allowDuplicate: b.allowDuplicate });

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
          if (!elsewhere) throw new ApiError(400, 'unknown_reference', `parentId: no tag with id ${b.parentId}`, [{ path: 'parentId', message: 'no such tag' }]);
          throw new ApiError(400, 'invalid_request', `parentId: ${elsewhere.name} belongs to another group`, [{ path: 'parentId', message: 'must be a tag of the same group' }]);
        }
        if (subtree.some((n) => n.id === parent.id))
          throw new ApiError(409, 'conflict', `Cannot move ${tag.name} under ${parent.name}: it is ${parent.id === id ? 'the tag itself' : 'one of its own descendants'}`, [
            { path: 'parentId', message: 'would make a cycle' },
          ]);
        newLevel = parent.level + 1;
      }
      const deepest = newLevel + Math.max(...subtree.map((n) => n.depth));
      if (deepest > MAX_TAG_LEVEL)
        throw new ApiError(409, 'conflict', `Moving ${tag.name} there would put its tags on level ${deepest}: tags nest at most ${MAX_TAG_LEVEL} levels deep`, [
          { path: 'parentId', message: `at most ${MAX_TAG_LEVEL} levels` },
        ]);
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
    const at = Date.now();
    await runBatch(
      db,
      [
        db
          .prepare('UPDATE tags SET name = ?, parent_id = ?, description = ?, color = ? WHERE id = ?')
          .bind(next.name, next.parent_id, next.description, next.color, id),
        ...levelUpdates.map((u) => db.prepare('UPDATE tags SET level = ? WHERE id = ?').bind(u.level, u.id)),
        auditStatement(db, {
          actor: actorOf(c),
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
    return c.json(toTag(next));
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
    const { id } = c.req.valid('param');
    const db = c.env.DB;
    const tag = await requireTag(db, id);
    requireEditable(c.get('user'), (await groupById(db, tag.group_id))!);
    if (tag.status === 'retired') throw new ApiError(409, 'conflict', `${tag.name} is already retired`);
    const children = await activeChildren(db, id);
    if (children.length)
      throw new ApiError(409, 'conflict', `Cannot retire ${tag.name}: retire or move its tags first (${children.map((ch) => ch.name).join(', ')})`, children.map((ch) => ({ path: `children.${ch.id}`, message: `${ch.name} is active` })));
    refuseWhilePublished(c.get('user'), tag, await rulesUsing(db, id), 'retire');
    const holders = await holderCount(db, id);
    if (holders > 0) {
      requireConfirmation(c.req.valid('json').confirm, { object: tag.name, count: holders, what: `Retiring ${tag.name} freezes it on the ${holders} contacts holding it` });
    }
    const at = Date.now();
    const next: TagRow = { ...tag, status: 'retired', retired_at: at };
    // holdings and ledger stay: a retired tag is frozen (never added again), not erased
    const [retired] = await db.batch([
      db.prepare(`UPDATE tags SET status = 'retired', retired_at = ? WHERE id = ? AND status = 'active'`).bind(at, id),
      auditStatementIfChanged(db, { actor: actorOf(c), action: 'tag.retire', objectType: 'tag', objectId: id, summary: `Retired tag ${tag.name}`, params: { name: tag.name }, before: toTag(tag), after: toTag(next), at }),
    ]);
    // retired by someone else since it was read: one retirement, one entry
    if (!retired!.meta.changes) throw new ApiError(409, 'conflict', `${tag.name} is already retired`);
    return c.json(toTag(next));
  })
  .post('/tags/:id/restore', validate('param', idPath), validate('json', emptyBody), async (c) => {
    const { id } = c.req.valid('param');
    const db = c.env.DB;
    const s = settings(c.env);
    const tag = await requireTag(db, id);
    requireEditable(c.get('user'), (await groupById(db, tag.group_id))!);
    if (tag.status !== 'retired') throw new ApiError(409, 'conflict', `${tag.name} is not retired`);
    if (tag.parent_id != null) {
      const parent = await tagById(db, tag.parent_id);
      if (parent && parent.status !== 'active')
        throw new ApiError(409, 'conflict', `Restore ${parent.name} first: ${tag.name} sits under it`, [{ path: 'parentId', message: `${parent.name} is retired` }]);
    }
    const group = (await groupById(db, tag.group_id))!;
    await limitCheck(db, s, group);
    const at = Date.now();
    const next: TagRow = { ...tag, status: 'active', retired_at: null };
    const [restored] = await db.batch([
      db.prepare(`UPDATE tags SET status = 'active', retired_at = NULL WHERE id = ? AND status = 'retired'`).bind(id),
      auditStatementIfChanged(db, { actor: actorOf(c), action: 'tag.restore', objectType: 'tag', objectId: id, summary: `Restored tag ${tag.name}`, params: { name: tag.name }, before: toTag(tag), after: toTag(next), at }),
    ]);
    if (!restored!.meta.changes) throw new ApiError(409, 'conflict', `${tag.name} is not retired`);
    return c.json(toTag(next));
  })
  .post('/tags/:id/merge', validate('param', idPath), validate('json', mergeTagBody), async (c) => {
    const { id } = c.req.valid('param');
    const { intoTagId, confirm } = c.req.valid('json');
    const db = c.env.DB;
    const from = await requireTag(db, id);
    requireEditable(c.get('user'), (await groupById(db, from.group_id))!);
    if (intoTagId === id) throw new ApiError(400, 'invalid_request', 'intoTagId: a tag cannot be merged into itself', [{ path: 'intoTagId', message: 'must differ from the merged tag' }]);
    const into = await tagById(db, intoTagId);
    if (!into) throw new ApiError(400, 'unknown_reference', `intoTagId: no tag with id ${intoTagId}`, [{ path: 'intoTagId', message: 'no such tag' }]);
    if (into.status !== 'active') throw new ApiError(409, 'conflict', `${into.name} is retired: restore it or merge into an active tag`, [{ path: 'intoTagId', message: 'retired' }]);
    const children = await activeChildren(db, id);
    if (children.length)
      throw new ApiError(409, 'conflict', `Cannot merge ${from.name}: merge or move its tags first (${children.map((ch) => ch.name).join(', ')})`, children.map((ch) => ({ path: `children.${ch.id}`, message: `${ch.name} is active` })));
    const [rules, segments, movedHolders] = await Promise.all([rulesUsing(db, id), segmentsUsing(db, id), holderCount(db, id)]);
    refuseWhilePublished(c.get('user'), from, rules, 'merge');
    requireEditable(c.get('user'), (await groupById(db, into.group_id))!);
    if (movedHolders > 0) {
      requireConfirmation(confirm, { object: from.name, count: movedHolders, what: `Merging ${from.name} into ${into.name} moves ${movedHolders} contacts' tags` });
    }

    const at = Date.now();
    const batchId = `merge-${crypto.randomUUID()}`;
    const src: TagWriteSource = { source: 'merge', batchId, at, actorUserId: c.get('user').id };
    const holdersOfFrom = { sql: 'SELECT contact_id FROM contact_tags WHERE tag_id = ?', params: [id] };
    const statements: D1PreparedStatement[] = [
      // holders gain the target first (exclusive siblings handled by the writer), then lose the source
      ...tagSetStatements(db, holdersOfFrom, intoTagId, 'add', src),
      ...tagSetStatements(db, holdersOfFrom, id, 'remove', src),
      db.prepare(`UPDATE tags SET status = 'retired', retired_at = coalesce(retired_at, ?) WHERE id = ?`).bind(at, id),
    ];
    const rulesRewritten: MergeResult['rulesRewritten'] = [];
    for (const r of rules.rows) {
      const before = parse(r.draft_graph);
      const { graph, replaced } = replaceTagInGraph(before, id, intoTagId);
      if (!replaced) continue;
      rulesRewritten.push({ id: r.id, name: r.name, places: replaced });
      statements.push(
        db.prepare('UPDATE rules SET draft_graph = ?, updated_at = ? WHERE id = ?').bind(JSON.stringify(graph), at, r.id),
        auditStatement(db, {
          actor: actorOf(c),
          action: 'rule.update',
          objectType: 'rule',
          objectId: r.id,
          summary: `Draft of ${r.name}: tag ${from.name} replaced by ${into.name} (merge, ${replaced} places)`,
          params: { name: r.name, from: from.name, into: into.name, places: replaced },
          before: { draftGraph: before },
          after: { draftGraph: graph, batchId },
          at,
        }),
      );
    }
    const segmentsRewritten: MergeResult['segmentsRewritten'] = [];
    for (const s of segments) {
      const before = parse(s.graph);
      const { graph, replaced } = replaceTagInGraph(before, id, intoTagId);
      if (!replaced) continue;
      const logic = replaceTagInLogic(parse(s.logic) as JsonLogic, id, intoTagId);
      segmentsRewritten.push({ id: s.id, name: s.name, places: replaced });
      statements.push(
        db.prepare('UPDATE segments SET graph = ?, logic = ?, updated_at = ? WHERE id = ?').bind(JSON.stringify(graph), JSON.stringify(logic), at, s.id),
        auditStatement(db, {
          actor: actorOf(c),
          action: 'segment.update',
          objectType: 'segment',
          objectId: s.id,
          summary: `Segment ${s.name}: tag ${from.name} replaced by ${into.name} (merge, ${replaced} places)`,
          params: { variant: 'merge', name: s.name, from: from.name, into: into.name, places: replaced },
          before: { graph: before },
          after: { graph, batchId },
          at,
        }),
      );
    }
    const fromAfter: TagRow = { ...from, status: 'retired', retired_at: from.retired_at ?? at };
    statements.push(
      auditStatement(db, {
        actor: actorOf(c),
        action: 'tag.merge',
        objectType: 'tag',
        objectId: id,
        summary: `Merged tag ${from.name} into ${into.name}: ${movedHolders} holders moved, ${rulesRewritten.length} rules and ${segmentsRewritten.length} segments rewritten`,
        params: { from: from.name, into: into.name, holders: movedHolders, rules: rulesRewritten.length, segments: segmentsRewritten.length },
        before: toTag(from),
        after: { ...toTag(fromAfter), mergedInto: intoTagId, batchId, movedHolders, rules: rulesRewritten.map((r) => r.id), segments: segmentsRewritten.map((s) => s.id) },
        at,
      }),
    );
    await db.batch(statements);
    const intoAfter = (await tagById(db, intoTagId))!;
    const body: MergeResult = { batchId, from: toTag(fromAfter), into: toTag(intoAfter), movedHolders, rulesRewritten, segmentsRewritten };
    return c.json(body);
  })
  .get('/retirement-proposals', async (c) => {
    const db = c.env.DB;
    const s = settings(c.env);
    const now = Date.now();
    const cutoff = now - s.retirementIdleDays * DAY;
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
      idleDays: Math.floor((now - (r.last_applied_at ?? r.created_at)) / DAY),
    }));
    return c.json(body);
  });
