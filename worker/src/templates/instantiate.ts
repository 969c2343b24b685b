/**
 * Rule templates in a workspace: what each needs and has (`templateInfos`), and a draft rule made
 * from one (`instantiateTemplate`). A template names its tags by group and name; each is
 * resolved against the taxonomy with the near-duplicate check the tag editor uses
 * (`findNearDuplicates`): the group's tag of that exact name is used; else a tag of the group
 * that is the same name written differently (width, case, traditional characters, a synonym, a
 * homophone) is used instead of making a near-copy; else the tag is created. Tags of *other*
 * groups are never used (the template's group decides exclusivity) but a look-alike there is
 * reported. Missing groups, missing tags, the rule and its audit entry are one D1 batch.
 */
import { ApiError } from '../errors';
import { AuditSql, auditInsert } from '../audit';
import { canApplyGroup, canEditGroup, forbidden, GROUP_ACCESS_COLUMNS, ownerDepartment, type Actor } from '../auth/access';
import { batch, typed } from '../db/rows';
import { runBatch, type GroupRow } from '../taxonomy/rows';
import { settings } from '../taxonomy/settings';
import { keyCreated } from '../search/keys';
import { ruleDetail } from '../rules/detail';
import { draftRuleInsert } from '../rules/create';
import type { SessionUser } from '@shared/api/auth';
import type { TagStatus } from '@shared/domain';
import { checkTagName, findNearDuplicates, type DuplicateReason } from '@shared/tags';
import { RULE_TEMPLATES, type RuleTemplate, type TemplateGroupSpec } from '@shared/templates/templates';
import type { InstantiateBody, InstantiateResponse, TemplateDuplicateNote, TemplateInfo, TemplateTagOutcome } from '@shared/api/templates';

interface TaxonomyTagRow {
  id: number;
  name: string;
  group_id: number;
  group_name: string;
  status: TagStatus;
}

/** Spellings of one name: a tag like this in the template's own group is the tag the template means. */
const SAME_NAME: ReadonlySet<DuplicateReason['kind']> = new Set(['exact', 'normalized', 'traditional', 'synonym', 'homophone']);

async function readTaxonomy(db: D1Database) {
  const [groups, tags, destination] = await batch(db, [
    typed<GroupRow>(db.prepare(`SELECT g.*, ${GROUP_ACCESS_COLUMNS} FROM tag_groups g ORDER BY g.id`)),
    typed<TaxonomyTagRow>(
      db.prepare('SELECT t.id, t.name, t.group_id, t.status, g.name AS group_name FROM tags t JOIN tag_groups g ON g.id = t.group_id'),
    ),
    typed<{ id: number }>(db.prepare("SELECT id FROM destinations WHERE kind = 'notify' AND revoked_at IS NULL ORDER BY id LIMIT 1")),
  ]);
  return {
    // the first of a name, as the batch's `GROUP_BY_NAME` picks (the taxonomy refuses a second one)
    groupsByName: new Map([...groups.results].reverse().map((g) => [g.name, g])),
    // the near-duplicate check reads `groupId`
    tags: tags.results.map((t) => ({ ...t, groupId: t.group_id })),
    notifyDestinationId: destination.results[0]?.id ?? null,
  };
}

/** The gallery: every template with the tags it needs and which exist. */
export async function templateInfos(db: D1Database): Promise<TemplateInfo[]> {
  const { groupsByName, tags, notifyDestinationId } = await readTaxonomy(db);
  return RULE_TEMPLATES.map((t) => ({
    id: t.id,
    trigger: t.trigger,
    usesOutbound: t.usesOutbound,
    outboundAvailable: notifyDestinationId !== null,
    seed: t.seed,
    tags: t.tags.map((tag) => {
      const group = groupsByName.get(tag.group);
      const existing = group && tags.find((x) => x.group_id === group.id && x.name === tag.name && x.status === 'active');
      return { key: tag.key, group: tag.group, name: tag.name, existingId: existing ? existing.id : null };
    }),
  }));
}

type Resolved =
  { kind: 'use'; id: number; outcome: TemplateTagOutcome } | { kind: 'create'; group: string; name: string; placeholder: number };

/** A group's id by its name (`?`) inside the batch, where a group the batch creates has no id yet. */
const GROUP_BY_NAME = '(SELECT id FROM tag_groups WHERE name = ? ORDER BY id LIMIT 1)';

/** Above any real id, so a placeholder in the graph cannot be mistaken for a tag. */
const PLACEHOLDER_BASE = 2_000_000_000;

/**
 * Makes a draft rule from `template` as `user`. Rights as for `POST /api/rules` (department
 * admins and above; the rule's department as `ownerDepartment` decides), plus: the user may
 * apply every tag the rule adds, and may edit each group a tag is created in.
 */
// Long on purpose: resolve, check, then one batch, read top to bottom.
export async function instantiateTemplate(
  db: D1Database,
  env: Env,
  user: SessionUser,
  actor: Actor,
  template: RuleTemplate,
  body: InstantiateBody,
): Promise<InstantiateResponse> {
  const owner = await ownerDepartment(db, user, body.departmentId);
  const s = settings(env);
  const { groupsByName, tags, notifyDestinationId } = await readTaxonomy(db);

  // ---- resolve each tag ----
  const newGroups: TemplateGroupSpec[] = [];
  for (const g of template.groups) if (!groupsByName.has(g.name) && !newGroups.some((n) => n.name === g.name)) newGroups.push(g);
  const claimed = new Set<number>();
  const resolved = new Map<string, Resolved>();
  const nearDuplicates: TemplateDuplicateNote[] = [];
  let placeholders = 0;
  for (const spec of template.tags) {
    const group = groupsByName.get(spec.group);
    const own = group ? tags.filter((t) => t.group_id === group.id) : [];
    const exact = own.find((t) => t.name === spec.name);
    if (exact && exact.status !== 'active')
      throw new ApiError(
        409,
        'conflict',
        `The template needs tag ${spec.group} › ${spec.name}, which is retired (#${exact.id}): restore it first`,
        [{ path: `tags.${spec.key}`, message: `retired tag #${exact.id}` }],
      );
    const match =
      exact && !claimed.has(exact.id)
        ? { tag: exact, reason: { kind: 'exact' } as DuplicateReason }
        : findNearDuplicates(
            spec.name,
            own.filter((t) => t.status === 'active' && !claimed.has(t.id)),
          ).find((m) => SAME_NAME.has(m.reason.kind));
    if (match) {
      claimed.add(match.tag.id);
      const isExact = match.tag.name === spec.name;
      resolved.set(spec.key, {
        kind: 'use',
        id: match.tag.id,
        outcome: {
          key: spec.key,
          id: match.tag.id,
          name: match.tag.name,
          group: spec.group,
          outcome: isExact ? 'existing' : 'near_duplicate',
          ...(isExact ? {} : { wanted: spec.name, reason: match.reason }),
        },
      });
      continue;
    }
    resolved.set(spec.key, { kind: 'create', group: spec.group, name: spec.name, placeholder: PLACEHOLDER_BASE + ++placeholders });
    const elsewhere = findNearDuplicates(
      spec.name,
      tags.filter((t) => t.group_name !== spec.group),
      { limit: 1 },
    )[0];
    if (elsewhere)
      nearDuplicates.push({
        created: spec.name,
        similar: { id: elsewhere.tag.id, name: elsewhere.tag.name, group: elsewhere.tag.group_name },
        reason: elsewhere.reason,
      });
  }
  const toCreate = [...resolved.values()].filter((r): r is Extract<Resolved, { kind: 'create' }> => r.kind === 'create');

  // ---- rights, naming rules and limits ----
  for (const gName of new Set(template.tags.map((t) => t.group))) {
    const group = groupsByName.get(gName);
    if (!group) continue; // created below, owned by the rule's department: the creator applies and edits it
    if (!canApplyGroup(user, group)) throw forbidden(user, `the template adds tags of group ${gName}, which you may not apply by hand`);
    if (toCreate.some((c) => c.group === gName) && !canEditGroup(user, group))
      throw forbidden(user, `the template needs new tags in group ${gName}, which you may not edit`);
  }
  for (const c of toCreate) {
    const problems = checkTagName(c.name, s.templatesByGroupName.get(c.group));
    if (problems.length)
      throw new ApiError(
        409,
        'conflict',
        `Tag ${c.group} › ${c.name} does not follow the group's naming rules: rename it in the taxonomy first`,
        [{ path: 'tags', message: `${c.name}: ${problems.map((p) => p.kind).join(', ')}` }],
      );
  }
  if (toCreate.length) {
    const activeIn = (gid: number) => tags.filter((t) => t.group_id === gid && t.status === 'active').length;
    const total = tags.filter((t) => t.status === 'active').length;
    if (total + toCreate.length > s.totalLimit)
      throw new ApiError(409, 'conflict', `The taxonomy has reached its limit of ${s.totalLimit} active tags`, [
        { path: 'tags', message: `total limit ${s.totalLimit}` },
      ]);
    for (const [gName, group] of groupsByName) {
      const n = toCreate.filter((c) => c.group === gName).length;
      const limit = group.max_tags ?? s.perGroupLimit;
      if (n && activeIn(group.id) + n > limit)
        throw new ApiError(409, 'conflict', `Group ${gName} has reached its limit of ${limit} active tags`, [
          { path: 'tags', message: `limit ${limit} reached` },
        ]);
    }
  }

  // ---- the graph: created tags as placeholders, replaced by their new ids inside the batch ----
  const graph = template.build({
    tagId: (key) => {
      const r = resolved.get(key);
      if (!r) throw new Error(`template ${template.id} uses undeclared tag ${key}`);
      return r.kind === 'use' ? r.id : r.placeholder;
    },
    notifyDestinationId: template.usesOutbound ? notifyDestinationId : null,
  });
  const setArgs: unknown[] = [];
  const setPaths: string[] = [];
  const setTag = (path: string, tagId: number) => {
    const c = toCreate.find((x) => x.placeholder === tagId);
    if (!c) return;
    setPaths.push(`?, (SELECT id FROM tags WHERE group_id = ${GROUP_BY_NAME} AND name = ?)`);
    setArgs.push(path, c.group, c.name);
  };
  graph.nodes.forEach((n, i) => {
    if (n.kind === 'band') n.bands.forEach((b, j) => setTag(`$.nodes[${i}].bands[${j}].tagId`, b.tagId));
    if (n.kind !== 'action' || (n.action.type !== 'add_tag' && n.action.type !== 'remove_tag')) return;
    setTag(`$.nodes[${i}].action.tagId`, n.action.tagId);
  });
  const graphSql = setPaths.length ? `json_set(?, ${setPaths.join(', ')})` : '?';

  const at = Date.now();
  const statements: D1PreparedStatement[] = [];
  for (const g of newGroups) {
    statements.push(
      db
        .prepare(
          `INSERT INTO tag_groups (name, description, color, exclusive, max_tags, department_id, apply_role, edit_role, sort_order, created_at)
           VALUES (?, ?, ?, ?, NULL, ?, ?, 'dept_admin', (SELECT coalesce(max(sort_order), 0) + 1 FROM tag_groups), ?)`,
        )
        .bind(g.name, g.description, g.color, g.exclusive ? 1 : 0, owner.id, g.applyRole, at),
    );
  }
  for (const c of toCreate) {
    statements.push(
      db
        .prepare(
          `INSERT INTO tags (group_id, parent_id, level, name, description, color, status, created_at)
           VALUES (${GROUP_BY_NAME}, NULL, 1, ?, NULL, NULL, 'active', ?)`,
        )
        .bind(c.group, c.name, at),
    );
  }
  const ruleIndex = statements.length;
  statements.push(
    draftRuleInsert(db, {
      name: body.name,
      description: body.description ?? null,
      departmentId: owner.id,
      graph,
      createdBy: user.id,
      at,
      graphSql: { sql: graphSql, args: setArgs },
    }),
  );
  const created = toCreate.map((c) => `${c.group} › ${c.name}`).join('、');
  statements.push(
    auditInsert(db, {
      at,
      actor,
      action: 'rule.from_template',
      objectType: 'rule',
      objectId: new AuditSql('CAST(last_insert_rowid() AS TEXT)'),
      summary: `created rule "${body.name}" from template ${template.id}${created ? `, with new tags ${created}` : ''}`,
      params: created
        ? { variant: 'tags', name: body.name, template: template.id, tags: created }
        : { variant: 'plain', name: body.name, template: template.id },
      after: new AuditSql(
        `json_object('name', ?, 'template', ?, 'groupsCreated', json(?), 'tagsCreated', json(?), 'draftGraph', json((SELECT draft_graph FROM rules WHERE id = last_insert_rowid())))`,
        body.name,
        template.id,
        JSON.stringify(newGroups.map((g) => g.name)),
        JSON.stringify(toCreate.map((c) => ({ group: c.group, name: c.name }))),
      ),
    }),
  );
  const results = await runBatch(db, statements, `A tag the template needs was created meanwhile: try again`);
  const ruleId = results[ruleIndex]!.meta.last_row_id;

  // ids of the created tags, for the answer and their search keys
  const outcomes: TemplateTagOutcome[] = [];
  const createdRows = toCreate.length
    ? (
        await db
          .prepare(
            `SELECT t.id, t.name, g.name AS group_name FROM tags t JOIN tag_groups g ON g.id = t.group_id
             WHERE g.name || char(31) || t.name IN (SELECT value FROM json_each(?))`,
          )
          .bind(JSON.stringify(toCreate.map((c) => `${c.group}\u001f${c.name}`)))
          .all<{ id: number; name: string; group_name: string }>()
      ).results
    : [];
  for (const spec of template.tags) {
    const r = resolved.get(spec.key)!;
    if (r.kind === 'use') outcomes.push(r.outcome);
    else {
      const row = createdRows.find((x) => x.group_name === r.group && x.name === r.name);
      outcomes.push({ key: spec.key, id: row?.id ?? 0, name: r.name, group: r.group, outcome: 'created' });
    }
  }
  await keyCreated(db, 'tag', createdRows);
  await keyCreated(db, 'rule', [{ id: ruleId, name: body.name }]);
  return { rule: await ruleDetail(db, ruleId), tags: outcomes, groupsCreated: newGroups.map((g) => g.name), nearDuplicates };
}
