/**
 * SQL that selects the contacts an action of a compiled rule fires for: the targets of a
 * set-based tag write (publishing now, scheduled runs). Pure, like `sql.ts`.
 *
 * Preview equals reality only if the targets come from the very SQL the preview counted, so this
 * does not build its own: it is the sample query of `sql.ts` (the preview's layers: each test
 * once per contact, event-scoped tests assumed in a preview, D1's limits on depth, columns and
 * size checked there) for a rule reduced to the one action, without its ORDER BY and LIMIT.
 * `worker/test/rules-api-publish.test.ts` holds publish and preview to the same numbers.
 */
import type { CompiledRule } from './compile';
import type { RuleResult } from './errors';
import type { SqlContext, SqlFrag } from './operators';
import { buildSampleQuery } from './sql';

const SAMPLE_TAIL = / ORDER BY id LIMIT \?$/;

/**
 * `SELECT id, name FROM … WHERE <reach of the action>` over `contacts c` within `scope` (the
 * gray-release share). Use its `id` column: `SELECT t.id FROM (<sql>) AS t`.
 */
export function buildActionTargetsQuery(rule: CompiledRule, ctx: SqlContext, actionNodeId: string, scope?: SqlFrag): RuleResult<SqlFrag> {
  const only: CompiledRule = { ...rule, actions: rule.actions.filter((a) => a.nodeId === actionNodeId) };
  const q = buildSampleQuery(only, ctx, 1, scope ? { scope } : {});
  if (!q.ok) return q;
  if (!SAMPLE_TAIL.test(q.value.sql)) {
    // A programming error, caught by the publish tests: the sample query's shape changed.
    throw new Error('buildSampleQuery no longer ends with "ORDER BY id LIMIT ?": update apply-sql.ts');
  }
  return { ok: true, value: { sql: q.value.sql.replace(SAMPLE_TAIL, ''), params: q.value.params.slice(0, -1) } };
}
