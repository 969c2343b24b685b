/**
 * SQL that selects the contacts an action of a compiled rule fires for: the targets of a
 * set-based tag write (publishing now, scheduled runs). Pure, like `sql.ts`.
 *
 * Preview equals reality only if the targets come from the very SQL the preview counted, so the
 * query is `buildTargetsQuery` of `sql.ts`, built from the preview's own layers (each test once
 * per contact, event-scoped tests assumed in a preview, D1's limits checked there).
 * `worker/test/rules-api-publish.test.ts` holds publish and preview to the same numbers.
 */
import type { CompiledRule } from './compile';
import type { RuleResult } from './errors';
import type { SqlContext, SqlFrag } from './operators';
import { buildTargetsQuery } from './sql';

/**
 * `SELECT id FROM … WHERE <reach of the action>` over `contacts c` within `scope` (the
 * gray-release share), with anonymous `?` placeholders.
 */
export function buildActionTargetsQuery(rule: CompiledRule, ctx: SqlContext, actionNodeId: string, scope?: SqlFrag): RuleResult<SqlFrag> {
  return buildTargetsQuery(rule, ctx, actionNodeId, scope ? { scope } : {});
}
