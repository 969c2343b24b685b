/** Where a tag is used (rules, segments, children, holders), and the refusal while published rules use it. */
import { ApiError } from '../errors';
import { inScope } from '../auth/access';
import { tagUseInGraph } from '@shared/tags';
import type { SessionUser } from '@shared/api/auth';
import type { TagRuleUse } from '@shared/api/taxonomy';
import type { TagRow } from './rows';
import { parseJsonOr } from '@shared/json';

export interface RuleRow {
  id: number;
  name: string;
  status: string;
  published_version: number | null;
  draft_graph: string;
  published_graph: string | null;
  /** the owning department's path (null: company-wide) */
  dept_path: string | null;
}

export const parse = (text: string | null): unknown => parseJsonOr<unknown>(text, null);
const uses = (graph: unknown, tagId: number) => {
  const u = tagUseInGraph(graph, tagId);
  return u.conditions + u.actions > 0;
};

/** Rules (not archived) whose draft or published version uses the tag. */
export async function rulesUsing(db: D1Database, tagId: number): Promise<{ uses: TagRuleUse[]; rows: RuleRow[] }> {
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

export async function segmentsUsing(db: D1Database, tagId: number) {
  const { results } = await db
    .prepare(
      'SELECT s.id, s.name, s.graph, s.logic, (SELECT path FROM departments WHERE id = s.department_id) AS dept_path FROM segments s ORDER BY s.id',
    )
    .all<{ id: number; name: string; graph: string; logic: string; dept_path: string | null }>();
  return results.filter((s) => uses(parse(s.graph), tagId));
}

export async function activeChildren(db: D1Database, tagId: number) {
  const { results } = await db
    .prepare(`SELECT id, name FROM tags WHERE parent_id = ? AND status = 'active' ORDER BY id`)
    .bind(tagId)
    .all<{ id: number; name: string }>();
  return results;
}

export async function holderCount(db: D1Database, tagId: number): Promise<number> {
  return (await db.prepare('SELECT count(*) AS n FROM contact_tags WHERE tag_id = ?').bind(tagId).first<{ n: number }>())?.n ?? 0;
}

/** 409 while published rules use the tag: those the caller may see by name, the others counted. */
export function refuseWhilePublished(user: SessionUser, tag: TagRow, used: { uses: TagRuleUse[]; rows: RuleRow[] }, verb: string) {
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
