/**
 * A rule as the API answers it: list items, detail with versions and what each publish applied
 * (from its audit record's ledger counts), and the lookups the rule handlers share.
 */
import { ApiError } from '../errors';
import { userScope } from '../auth/access';
import type { SessionUser } from '@shared/api/auth';
import type {
  TagCounts,
  PublishApplied,
  RuleDetail,
  RuleListItem,
  RuleListQuery,
  RuleListResponse,
  RuleNextRun,
  RulePausedReason,
  RuleVersionSummary,
  UserRef,
} from '@shared/api/rules';
import type { FieldProblem } from '@shared/api/errors';
import type { EventType } from '@shared/domain';
import { compileRule } from '@shared/rules/compile';
import type { RuleError } from '@shared/rules/errors';
import type { RuleGraph, TriggerSpec } from '@shared/rules/types';
import { compileOptions, graphHash, loadWorkspace, tzOffsetMinutes, zoneName, type Workspace } from './context';
import { nextRuns } from '@shared/schedule';
import type { rules } from '../db/schema';
import { readPage } from '../db/page';
import { containsText, nameKeyMatch } from '../db/search';
import { batch, typed, type AuditLogRow, type RawRow, type RuleVersionRow, type UserRow } from '../db/rows';
import { parseJsonOr } from '@shared/json';

/** A fresh rule's draft. */
export const EMPTY_GRAPH: RuleGraph = { schemaVersion: 1, nodes: [], edges: [] };

export type RuleRow = Pick<
  RawRow<typeof rules>,
  'id' | 'name' | 'description' | 'status' | 'draft_graph' | 'published_version' | 'paused_reason' | 'created_at' | 'updated_at'
>;

export type VersionRow = Pick<
  RuleVersionRow,
  'version' | 'graph' | 'logic' | 'trigger' | 'rollout_percent' | 'note' | 'created_by' | 'created_at' | 'published_at'
> & { created_by_name: UserRow['name'] | null };

/** What the publish audit row stores in `after`, written inside the publish batch. */
export interface PublishRecord {
  version: number;
  rolloutPercent: number;
  graphHash: string;
  /** The counts at publish time (equal to what the user confirmed); `tags` since the net-change semantics. */
  preview: { total: number; matched: number; tags?: TagCounts[] };
  /** Ledger rows the publish wrote, by tag and operation. */
  ledger: { tagId: number; op: 'add' | 'remove'; n: number }[] | null;
}

/** What a publish applied: per tag, the contact_tags rows its ledger says it inserted and deleted. */
export function appliedOf(rec: PublishRecord): PublishApplied {
  const ledger = rec.ledger ?? [];
  const n = (op: string, tagId: number) => ledger.filter((l) => l.op === op && l.tagId === tagId).reduce((s, l) => s + l.n, 0);
  const tagIds = [...new Set([...(rec.preview.tags ?? []).map((t) => t.tagId), ...ledger.map((l) => l.tagId)])];
  return {
    rolloutPercent: rec.rolloutPercent,
    total: rec.preview.total,
    matched: rec.preview.matched,
    tags: tagIds.map((tagId) => ({ tagId, gain: n('add', tagId), lose: n('remove', tagId) })),
  };
}

export const parse = parseJsonOr;

export const userRef = (id: number | null, name: string | null): UserRef | null => (id == null ? null : { id, name: name ?? '' });

/** The trigger of a (possibly invalid) graph, for the list: event type, `schedule`, or null. */
export function triggerOf(graph: unknown): EventType | 'schedule' | null {
  const nodes = (graph as { nodes?: unknown })?.nodes;
  if (!Array.isArray(nodes)) return null;
  const t = nodes.find((n) => (n as { kind?: unknown })?.kind === 'trigger') as { trigger?: TriggerSpec } | undefined;
  if (!t?.trigger) return null;
  return t.trigger.type === 'schedule' ? 'schedule' : (t.trigger.eventType ?? null);
}

/** 404 unless the rule exists. */
export async function getRule(db: D1Database, id: number): Promise<RuleRow> {
  const row = await db.prepare('SELECT * FROM rules WHERE id = ?').bind(id).first<RuleRow>();
  if (!row) throw new ApiError(404, 'not_found', `No rule with id ${id}`);
  return row;
}

export function conflict(message: string, details?: FieldProblem[]): ApiError {
  return new ApiError(409, 'conflict', message, details);
}

export const LIST_COLUMNS = `r.id, r.name, r.description, r.status, r.draft_graph, r.published_version, r.paused_reason, r.created_at, r.updated_at,
  pv.rollout_percent AS pv_rollout, pv.published_at AS pv_published_at, pv.graph AS pv_graph,
  pv.created_by AS pv_by, u.name AS pv_by_name,
  (SELECT max(v.version) FROM rule_versions v WHERE v.rule_id = r.id) AS latest_version,
  (SELECT a.after FROM audit_log a WHERE a.object_type = 'rule' AND a.object_id = CAST(r.id AS TEXT)
     AND a.action = 'rule.publish' ORDER BY a.id DESC LIMIT 1) AS last_publish`;
export const LIST_FROM = `rules r
  LEFT JOIN rule_versions pv ON pv.rule_id = r.id AND pv.version = r.published_version
  LEFT JOIN users u ON u.id = pv.created_by`;

export type ListRow = RuleRow & {
  pv_rollout: number | null;
  pv_published_at: number | null;
  pv_graph: string | null;
  pv_by: number | null;
  pv_by_name: string | null;
  latest_version: number | null;
  last_publish: string | null;
};

export async function toListItem(row: ListRow): Promise<RuleListItem> {
  const draft = parse<unknown>(row.draft_graph, EMPTY_GRAPH);
  const publish = parse<PublishRecord | null>(row.last_publish, null);
  const draftChanged = row.pv_graph == null ? true : (await graphHash(draft)) !== (await graphHash(parse<unknown>(row.pv_graph, null)));
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    status: row.status,
    trigger: triggerOf(draft),
    publishedVersion: row.published_version,
    latestVersion: row.latest_version,
    rolloutPercent: row.pv_rollout,
    lastPublishedAt: row.pv_published_at,
    lastPublishedBy: userRef(row.pv_by, row.pv_by_name),
    matchesAtPublish: publish && publish.version === row.published_version ? publish.preview.matched : null,
    draftChanged,
    pausedReason: row.status === 'paused' ? parse<RulePausedReason | null>(row.paused_reason, null) : null,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export async function versionRows(db: D1Database, ruleId: number): Promise<{ rows: VersionRow[]; publishes: Map<number, PublishApplied> }> {
  const [versions, audits] = await batch(db, [
    typed<VersionRow>(
      db
        .prepare(
          `SELECT v.version, v.graph, v.logic, v.trigger, v.rollout_percent, v.note, v.created_by, u.name AS created_by_name,
                  v.created_at, v.published_at
           FROM rule_versions v LEFT JOIN users u ON u.id = v.created_by WHERE v.rule_id = ? ORDER BY v.version DESC`,
        )
        .bind(ruleId),
    ),
    typed<Pick<AuditLogRow, 'after'>>(
      db
        .prepare(`SELECT after FROM audit_log WHERE object_type = 'rule' AND object_id = ? AND action = 'rule.publish' ORDER BY id`)
        .bind(String(ruleId)),
    ),
  ]);
  const publishes = new Map<number, PublishApplied>();
  for (const a of audits.results) {
    const rec = parse<PublishRecord | null>(a.after, null);
    if (rec?.version) publishes.set(rec.version, appliedOf(rec));
  }
  return { rows: versions.results, publishes };
}

export function toVersionSummary(v: VersionRow, current: number | null, publishes: Map<number, PublishApplied>): RuleVersionSummary {
  return {
    version: v.version,
    trigger: v.trigger,
    rolloutPercent: v.rollout_percent,
    note: v.note,
    createdAt: v.created_at,
    createdBy: userRef(v.created_by, v.created_by_name),
    publishedAt: v.published_at,
    applied: publishes.get(v.version) ?? null,
    current: v.version === current,
  };
}

/** The compiler's errors for a draft (empty when it compiles). */
export function draftErrors(graph: unknown, ws: Workspace): RuleError[] {
  const r = compileRule(graph, compileOptions(ws));
  return r.ok ? [] : r.errors;
}

export async function ruleDetail(db: D1Database, id: number, ws?: Workspace): Promise<RuleDetail> {
  const row = await db.prepare(`SELECT ${LIST_COLUMNS} FROM ${LIST_FROM} WHERE r.id = ?`).bind(id).first<ListRow>();
  if (!row) throw new ApiError(404, 'not_found', `No rule with id ${id}`);
  const [item, { rows, publishes }, workspace] = await Promise.all([toListItem(row), versionRows(db, id), ws ?? loadWorkspace(db)]);
  const draftGraph = parse<RuleGraph>(row.draft_graph, EMPTY_GRAPH);
  return {
    ...item,
    draftGraph,
    draftHash: await graphHash(draftGraph),
    errors: draftErrors(draftGraph, workspace),
    versions: rows.map((v) => toVersionSummary(v, row.published_version, publishes)),
  };
}

/** When the cron runs the rule of `row` next (see `RuleListResponse`). */
function nextRunOf(row: ListRow, env: { TIMEZONE?: string }, now: number): RuleNextRun | null {
  if (row.status !== 'published' || row.pv_graph === null) return null;
  const trigger = parse<{ nodes?: { kind?: string; trigger?: TriggerSpec }[] } | null>(row.pv_graph, null)?.nodes?.find(
    (n) => n.kind === 'trigger',
  )?.trigger;
  if (trigger?.type !== 'schedule') return null;
  const zone = { name: zoneName(env), offsetMinutes: tzOffsetMinutes(env) };
  const [at] = nextRuns(trigger.cron, now, zone.offsetMinutes, 1);
  return at === undefined ? null : { at, zone };
}

/** One page of the rules `user` may see, newest change first (`q`: the list's query); `env` gives the zone next runs are counted in. */
export async function listRules(
  db: D1Database,
  env: { TIMEZONE?: string },
  user: SessionUser,
  q: RuleListQuery,
  now = Date.now(),
): Promise<RuleListResponse> {
  const where: string[] = [];
  const params: unknown[] = [];
  const scope = userScope(user, 'r.department_id');
  if (scope) {
    where.push(scope.sql);
    params.push(...scope.params);
  }
  if (q.status) {
    where.push('r.status = ?');
    params.push(q.status);
  } else if (q.includeArchived !== '1') where.push("r.status <> 'archived'");
  if (q.q) {
    const name = containsText('r.name', q.q);
    const keys = nameKeyMatch('rule', 'r.id', q.q) ?? { sql: '0', params: [] };
    where.push(`(${name.sql} OR ${keys.sql})`);
    params.push(...name.params, ...keys.params);
  }
  const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const { rows, ...page } = await readPage<ListRow>(
    db,
    q,
    `SELECT ${LIST_COLUMNS} FROM ${LIST_FROM} ${w} ORDER BY r.updated_at DESC, r.id DESC`,
    `SELECT COUNT(*) AS n FROM rules r ${w}`,
    params,
  );
  return {
    ...page,
    items: await Promise.all(rows.map(async (row) => ({ ...(await toListItem(row)), nextRun: nextRunOf(row, env, now) }))),
  };
}
