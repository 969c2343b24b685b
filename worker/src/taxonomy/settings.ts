/**
 * The taxonomy's configuration (`[vars]` in wrangler.toml: tag limits, retirement, naming
 * templates) and the active-tag limits every path that makes a tag active checks.
 */
import { ApiError } from '../errors';
import { parseNamingTemplate, type NamingTemplate } from '@shared/tags';
import { groupById, type GroupRow } from './rows';

export interface TaxonomySettings {
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
export function settings(env: Env): TaxonomySettings {
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

/**
 * The active-tag limits (the group's `max_tags` or TAG_LIMIT_PER_GROUP, and TAG_LIMIT_TOTAL) for
 * a tag about to become active in `groupId`: creating one, restoring one here, or a rollback that
 * restores one (worker/src/routes/rollbacks.ts). A 409 naming the limit when it is reached.
 */
export async function checkActiveTagLimits(db: D1Database, env: Env, groupId: number): Promise<void> {
  const group = await groupById(db, groupId);
  if (group) await limitCheck(db, settings(env), group);
}

export async function limitCheck(db: D1Database, s: TaxonomySettings, group: GroupRow) {
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
