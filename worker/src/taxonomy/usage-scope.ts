/**
 * A tag's usage as one caller may see it: rules and segments of their departments by name,
 * the rest only counted; holders in their scope, the rest counted. Retiring and merging still
 * act company-wide, so the counts of what lies outside are needed to confirm (they name nothing).
 */
import { contactScope, inScope } from '../auth/access';
import type { SessionUser } from '@shared/api/auth';
import type { TagRuleUse, TagUsage } from '@shared/api/taxonomy';

/** Rules and segments split by the caller's scope (`dept_path` of each row, null: company-wide). */
export function scopeUsage(
  user: SessionUser,
  rules: TagRuleUse[],
  ruleRows: { dept_path: string | null }[],
  segments: { id: number; name: string; dept_path: string | null }[],
): Pick<TagUsage, 'rules' | 'rulesElsewhere' | 'segments' | 'segmentsElsewhere'> {
  const visibleRules: TagRuleUse[] = [];
  const rulesElsewhere = { published: 0, draftOnly: 0 };
  rules.forEach((r, i) => {
    if (inScope(user, ruleRows[i]?.dept_path ?? null)) visibleRules.push(r);
    else if (r.inPublished) rulesElsewhere.published++;
    else rulesElsewhere.draftOnly++;
  });
  const visibleSegments = segments.filter((s) => inScope(user, s.dept_path));
  return {
    rules: visibleRules,
    rulesElsewhere,
    segments: visibleSegments.map((s) => ({ id: s.id, name: s.name })),
    segmentsElsewhere: segments.length - visibleSegments.length,
  };
}

/** Holders in the caller's scope and elsewhere, in one pass over the tag's holdings (contact_tags_tag_idx). */
export async function scopedHolderCount(
  db: D1Database,
  user: SessionUser,
  tagId: number,
): Promise<Pick<TagUsage, 'holders' | 'holdersElsewhere'>> {
  const scope = contactScope(user);
  if (!scope) {
    const all = await db.prepare('SELECT count(*) AS n FROM contact_tags WHERE tag_id = ?').bind(tagId).first<{ n: number }>();
    return { holders: all?.n ?? 0, holdersElsewhere: 0 };
  }
  const row = await db
    .prepare(
      `SELECT count(*) AS n, coalesce(sum(CASE WHEN ${scope.sql} THEN 1 ELSE 0 END), 0) AS mine FROM contact_tags ct JOIN contacts c ON c.id = ct.contact_id WHERE ct.tag_id = ?`,
    )
    .bind(...scope.params, tagId)
    .first<{ n: number; mine: number }>();
  return { holders: row?.mine ?? 0, holdersElsewhere: (row?.n ?? 0) - (row?.mine ?? 0) };
}
