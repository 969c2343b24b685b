/**
 * Rules carry their author's rights: a rule may only add or remove tags its people could apply
 * by hand (`canApplyGroup`, as `POST /api/contacts/:id/tags` checks).
 *
 * - Saving a draft, creating or duplicating a rule, restoring a version and publishing check
 *   the ACTING user against the graph's action tags: 403 naming each node and its group.
 * - Runs (webhook events, the cron) use the rights of the PUBLISHER of the published version
 *   (`rule_versions.created_by`): the person who confirmed what it does. Their rights, and the
 *   groups of the action tags, are read fresh with the published list (worker/src/execution/
 *   published.ts: the same statement in the request's first batch, no extra round trip). A
 *   version whose rights were lost since (publisher disabled, demoted or moved out of the
 *   rule's department, the group's apply_role or department changed, the tag moved to another
 *   group) is not run: the rule is paused with its reason and an audit row, in one batch. A version with no recorded publisher (written outside the API) runs on the
 *   rights of its department's admin (company-wide: a super admin's).
 * - Resuming checks the resumer and the publisher: a resumed version still runs as its publisher.
 */
import { bandActionId } from '@shared/rules/types';
import { ApiError } from '../errors';
import { canApplyGroup, GROUP_ACCESS_COLUMNS, hasRole, inScope, type Principal } from '../auth/access';
import type { SessionUser } from '@shared/api/auth';
import type { FieldProblem } from '@shared/api/errors';
import type { RulePausedReason, RuleRightsProblem, RuleRightsWhy } from '@shared/api/rules';
import type { Role } from '@shared/domain';
import { auditInsert } from '../audit';
import { parseJsonOr } from '@shared/json';

/** An action node's tag, with its group's access facts as they are now. */
export interface ActionTagFacts {
  nodeId: string;
  tagId: number;
  tagName: string;
  groupId: number;
  groupName: string;
  apply_role: Role;
  department_path: string | null;
}

/** The action nodes of a (possibly invalid) graph that name a tag id, and each band of a band node (as its lowered action). */
export function actionTags(graph: unknown): { nodeId: string; tagId: number }[] {
  const nodes = (graph as { nodes?: unknown } | null)?.nodes;
  if (!Array.isArray(nodes)) return [];
  const out: { nodeId: string; tagId: number }[] = [];
  const push = (nodeId: string, tagId: unknown) => {
    if (typeof tagId === 'number' && Number.isSafeInteger(tagId)) out.push({ nodeId, tagId });
  };
  type Raw = { id?: unknown; kind?: unknown; action?: { tagId?: unknown }; bands?: unknown };
  for (const n of nodes as Raw[]) {
    if (typeof n?.id !== 'string') continue;
    if (n.kind === 'action') push(n.id, n.action?.tagId);
    if (n.kind === 'band' && Array.isArray(n.bands)) {
      for (const b of n.bands as { id?: unknown; tagId?: unknown }[]) push(bandActionId(n.id, String(b?.id)), b?.tagId);
    }
  }
  return out;
}

function whyNot(who: Principal, f: ActionTagFacts): RuleRightsWhy | null {
  if (canApplyGroup(who, { apply_role: f.apply_role, edit_role: 'super_admin', department_path: f.department_path })) return null;
  return hasRole(who, f.apply_role) ? 'group_department' : 'apply_role';
}

const problem = (f: ActionTagFacts, why: RuleRightsWhy): RuleRightsProblem => ({
  nodeId: f.nodeId,
  tagId: f.tagId,
  tagName: f.tagName,
  groupId: f.groupId,
  groupName: f.groupName,
  why,
});

/** The action nodes `who` may not apply (empty: the rule is within their rights). */
export function rightsProblems(who: Principal, actions: ActionTagFacts[]): RuleRightsProblem[] {
  const out: RuleRightsProblem[] = [];
  for (const f of actions) {
    const why = whyNot(who, f);
    if (why) out.push(problem(f, why));
  }
  return out;
}

const WHY_TEXT: Record<RuleRightsWhy, string> = {
  apply_role: 'the group only lets a higher role apply its tags',
  group_department: 'the group belongs to another department',
  user_disabled: 'the publisher is disabled',
  no_user: 'the publisher no longer exists',
  rule_department: "the publisher no longer holds the rule's department",
};

/** `details[]` of a rights error: one per node, `graph.nodes.<id>`. */
export function rightsDetails(problems: RuleRightsProblem[]): FieldProblem[] {
  return problems.map((p) => ({
    path: `graph.nodes.${p.nodeId}`,
    message: `tag ${p.tagName ?? p.tagId} of group ${p.groupName ?? p.groupId} may not be applied: ${WHY_TEXT[p.why]}`,
  }));
}

const groupsOf = (problems: RuleRightsProblem[]) => [...new Set(problems.map((p) => p.groupName ?? String(p.groupId)))].join(', ');

/** The action tags of a graph with their groups' facts now (tags that do not exist are left to the compiler). */
async function actionFacts(db: D1Database, graph: unknown): Promise<ActionTagFacts[]> {
  const actions = actionTags(graph);
  if (!actions.length) return [];
  const { results } = await db
    .prepare(
      `SELECT t.id AS tag_id, t.name AS tag_name, g.id AS group_id, g.name AS group_name, ${GROUP_ACCESS_COLUMNS}
       FROM tags t JOIN tag_groups g ON g.id = t.group_id WHERE t.id IN (SELECT value FROM json_each(?))`,
    )
    .bind(JSON.stringify([...new Set(actions.map((a) => a.tagId))]))
    .all<{ tag_id: number; tag_name: string; group_id: number; group_name: string; apply_role: Role; department_path: string | null }>();
  const byTag = new Map(results.map((r) => [r.tag_id, r]));
  return actions.flatMap(({ nodeId, tagId }) => {
    const r = byTag.get(tagId);
    return r
      ? [
          {
            nodeId,
            tagId,
            tagName: r.tag_name,
            groupId: r.group_id,
            groupName: r.group_name,
            apply_role: r.apply_role,
            department_path: r.department_path,
          },
        ]
      : [];
  });
}

/**
 * 403 unless `user` may apply every action tag of `graph` (saving, creating, duplicating,
 * restoring, publishing). One indexed query; none for a super admin, who may apply every group.
 */
export async function requireRuleRights(db: D1Database, user: SessionUser, graph: unknown): Promise<void> {
  if (user.role === 'super_admin') return;
  const problems = rightsProblems(user, await actionFacts(db, graph));
  if (!problems.length) return;
  throw new ApiError(
    403,
    'forbidden',
    `Not allowed for ${user.email} (${user.role}): the rule would apply tags of ${groupsOf(problems)}, which you may not apply by hand`,
    rightsDetails(problems),
  );
}

/**
 * Resuming: the resumer must hold the rights the published version needs, and so must its
 * publisher (the version runs as them): else 403 (the resumer's) or 409 (publish it again).
 */
export async function requireResumeRights(db: D1Database, user: SessionUser, ruleId: number): Promise<void> {
  const row = await db
    .prepare(
      `SELECT r.id AS id, r.published_version AS version, ${PUBLISHER_COLUMNS},
         CASE WHEN json_valid(v.graph) THEN
           (SELECT json_group_array(json_array(json_extract(n.value, '$.id'), json_extract(n.value, '$.action.tagId')))
            FROM json_each(v.graph, '$.nodes') n
            WHERE json_extract(n.value, '$.kind') = 'action' AND json_extract(n.value, '$.action.tagId') IS NOT NULL) END AS actions,
         CASE WHEN json_valid(v.graph) THEN
           (SELECT json_group_array(${TAG_FACTS_JSON}) FROM tags t JOIN tag_groups g ON g.id = t.group_id
            WHERE t.id IN (SELECT json_extract(n.value, '$.action.tagId') FROM json_each(v.graph, '$.nodes') n)) END AS facts
       FROM rules r JOIN rule_versions v ON v.rule_id = r.id AND v.version = r.published_version WHERE r.id = ?`,
    )
    .bind(ruleId)
    .first<PublisherRow & { actions: string | null; facts: string | null }>();
  if (!row) return; // never published: the transition answers
  const actions = (parseJson<[string, number][]>(row.actions) ?? []).map(([nodeId, tagId]) => ({ nodeId: String(nodeId), tagId }));
  const facts = parseTagFacts(row.facts);
  if (user.role !== 'super_admin') {
    const mine = rightsProblems(user, withFacts(actions, facts));
    if (mine.length) {
      throw new ApiError(
        403,
        'forbidden',
        `Not allowed for ${user.email} (${user.role}): the published version applies tags of ${groupsOf(mine)}, which you may not apply by hand`,
        rightsDetails(mine),
      );
    }
  }
  const theirs = runRightsProblems(row, actions, facts);
  if (theirs.length) {
    throw new ApiError(
      409,
      'conflict',
      `Version ${row.version} runs on the rights of its publisher, which no longer cover it (${groupsOf(theirs)}): publish the rule again to run it on yours`,
      rightsDetails(theirs),
    );
  }
}

// ---- runs: the publisher's rights, read with the published list ----

/**
 * Columns of a `rules r JOIN rule_versions v` row that say whose rights the version runs on:
 * the rule's name and department path, and the publisher (JSON: role, disabled, department path).
 */
export const PUBLISHER_COLUMNS = `r.name AS rule_name,
    (SELECT path FROM departments WHERE id = r.department_id) AS rule_path,
    v.created_by AS publisher_id,
    (SELECT json_object('id', u.id, 'name', u.name, 'role', u.role, 'disabled', u.disabled,
        'path', (SELECT path FROM departments WHERE id = u.department_id)) FROM users u WHERE u.id = v.created_by) AS publisher`;

/** One tag's facts as a JSON array, over `tags t JOIN tag_groups g` (see `parseTagFacts`). */
export const TAG_FACTS_JSON = `json_array(t.id, t.name, g.id, g.name, g.apply_role, (SELECT path FROM departments WHERE id = g.department_id))`;

/** A tag and its group's access facts, as they are now. */
export type TagFacts = Omit<ActionTagFacts, 'nodeId'>;

/** `json_group_array(TAG_FACTS_JSON)` text → facts by tag id. */
export function parseTagFacts(text: string | null, into = new Map<number, TagFacts>()): Map<number, TagFacts> {
  for (const [tagId, tagName, groupId, groupName, apply_role, department_path] of parseJson<
    [number, string, number, string, Role, string | null][]
  >(text) ?? []) {
    into.set(tagId, { tagId, tagName, groupId, groupName, apply_role, department_path });
  }
  return into;
}

/** The PUBLISHER_COLUMNS of a published row. */
export interface PublisherRow {
  id: number;
  version: number;
  rule_name: string;
  rule_path: string | null;
  publisher_id: number | null;
  publisher: string | null;
}

/** An action node of a published version. */
export interface ActionRef {
  nodeId: string;
  tagId: number;
}

const parseJson = <T>(text: string | null): T | null => parseJsonOr<T | null>(text, null);

/** Actions with their tags' facts; a tag that does not exist is left to the compiler. */
function withFacts(actions: ActionRef[], facts: Map<number, TagFacts>): ActionTagFacts[] {
  return actions.flatMap((a) => {
    const f = facts.get(a.tagId);
    return f ? [{ ...f, nodeId: a.nodeId }] : [];
  });
}

interface Publisher {
  id: number;
  name: string;
  role: Role;
  disabled: number;
  path: string | null;
}

/** The action nodes the published version may no longer run (empty: run it). */
export function runRightsProblems(row: PublisherRow, actions: ActionRef[], tagFacts: Map<number, TagFacts>): RuleRightsProblem[] {
  const facts = withFacts(actions, tagFacts);
  if (!facts.length) return [];
  if (row.publisher_id == null) {
    // written outside the API: the rights of the rule's department's admin
    const dept: Principal =
      row.rule_path === null ? { role: 'super_admin', departmentPath: null } : { role: 'dept_admin', departmentPath: row.rule_path };
    return rightsProblems(dept, facts);
  }
  const pub = parseJson<Publisher>(row.publisher);
  if (!pub) return facts.map((f) => problem(f, 'no_user'));
  if (pub.disabled) return facts.map((f) => problem(f, 'user_disabled'));
  const who: Principal = { role: pub.role, departmentPath: pub.path };
  if (!inScope(who, row.rule_path)) return facts.map((f) => problem(f, 'rule_department'));
  return rightsProblems(who, facts);
}

/**
 * Pauses a published version whose rights were lost, with its reason and an audit row (the
 * system's), in one batch. Both statements only act while the rule is still published at that
 * version, so concurrent runs pause it (and audit it) once.
 */
export function pauseForLostRights(db: D1Database, row: PublisherRow, problems: RuleRightsProblem[], at: number): D1PreparedStatement[] {
  const pub = parseJson<Publisher>(row.publisher);
  const reason: RulePausedReason = {
    kind: 'rights_lost',
    at,
    version: row.version,
    user: pub ? { id: pub.id, name: pub.name } : null,
    problems,
  };
  const still = "EXISTS (SELECT 1 FROM rules WHERE id = ? AND status = 'published' AND published_version = ?)";
  return [
    auditInsert(
      db,
      {
        at,
        actor: null,
        action: 'rule.pause',
        objectType: 'rule',
        objectId: row.id,
        summary: `paused rule "${row.rule_name}": version ${row.version} may no longer apply tags of ${groupsOf(problems)} on its publisher's rights`,
        params: { name: row.rule_name, fromStatus: 'published', toStatus: 'paused' },
        before: { status: 'published' },
        after: { status: 'paused', reason },
      },
      { where: still, args: [row.id, row.version] },
    ),
    db
      .prepare(
        `UPDATE rules SET status = 'paused', paused_reason = ?, updated_at = max(?, updated_at + 1) WHERE id = ? AND status = 'published' AND published_version = ?`,
      )
      .bind(JSON.stringify(reason), at, row.id, row.version),
  ];
}

/**
 * The published rows whose rights still hold. The others are paused (one batch, only when
 * there are any: no round trip otherwise) and left out, so they do not run on this path.
 */
export async function keepRunnable<T extends PublisherRow>(
  db: D1Database,
  rows: T[],
  actionsOf: (row: T) => ActionRef[],
  facts: Map<number, TagFacts>,
  at: number,
): Promise<{ rows: T[]; paused: { id: number; version: number; problems: RuleRightsProblem[] }[] }> {
  const lost = rows.map((r) => ({ r, problems: runRightsProblems(r, actionsOf(r), facts) })).filter((x) => x.problems.length);
  if (!lost.length) return { rows, paused: [] };
  try {
    await db.batch(lost.flatMap(({ r, problems }) => pauseForLostRights(db, r, problems, at)));
  } catch (e) {
    // still not run: the next read tries the pause again
    console.error('pausing rules whose rights were lost failed', e);
  }
  const gone = new Set(lost.map((x) => x.r.id));
  return { rows: rows.filter((r) => !gone.has(r.id)), paused: lost.map(({ r, problems }) => ({ id: r.id, version: r.version, problems })) };
}
