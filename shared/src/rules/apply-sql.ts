/**
 * SQL that selects the contacts an action of a compiled rule fires for: the targets of a
 * set-based tag write (publishing now, scheduled runs). Pure, like `sql.ts`: text with `?`
 * placeholders and the values to bind.
 *
 * It is built the way the preview statement is (`buildPreviewQuery`): an inner SELECT computes
 * each test once per contact, a middle SELECT turns scores into band flags, and the outer query
 * combines those columns with the action's reach formula. Without `ctx.event`, tests that read
 * the triggering event count as satisfied, exactly as in the preview, so the contacts written
 * are the contacts the preview counted. `worker/test/rules-api-publish.test.ts` holds the two
 * to the same numbers.
 */
import type { CompiledRule, Formula } from './compile';
import { ruleError, type RuleResult } from './errors';
import type { SqlContext, SqlFrag } from './operators';
import { compileWhere, D1_MAX_PARAMS } from './sql';

const NEVER: Formula = { t: 'not', of: { t: 'true' } };

/**
 * `SELECT id FROM … WHERE <reach of the action>` over `contacts c` restricted to `scope` (the
 * gray-release share): one column of contact ids, for `tagSetStatements`.
 * `extraParams` is how many parameters the caller adds around it (D1 allows 100 in all).
 */
export function buildActionTargetsQuery(
  rule: Pick<CompiledRule, 'tests' | 'reach'>,
  ctx: SqlContext,
  actionNodeId: string,
  scope?: SqlFrag,
  extraParams = 0,
): RuleResult<SqlFrag> {
  const inner: string[] = ['c.id AS id'];
  const innerParams: unknown[] = [];
  const testCol = new Map<string, string>();
  for (const [i, t] of rule.tests.entries()) {
    const name = `t${i}`;
    testCol.set(t.id, name);
    if (t.eventScoped && ctx.event === undefined && t.kind === 'bool') {
      inner.push(`1 AS ${name}`);
      continue;
    }
    const f = compileWhere(t.logic, ctx);
    if (!f.ok) return { ok: false, errors: f.errors.map((e) => ({ ...e, nodeId: e.nodeId ?? t.nodeId })) };
    inner.push(`${f.value.sql} AS ${name}`);
    innerParams.push(...f.value.params);
  }

  const reach = rule.reach[actionNodeId] ?? NEVER;
  const middle: string[] = ['*'];
  const middleParams: unknown[] = [];
  const bandCol = new Map<string, string>();
  const bandKey = (f: Extract<Formula, { t: 'band' }>) => `${f.id}|${f.min}|${f.max}`;
  const collect = (f: Formula) => {
    if (f.t === 'band' && !bandCol.has(bandKey(f))) {
      const name = `b${bandCol.size}`;
      bandCol.set(bandKey(f), name);
      const s = testCol.get(f.id) ?? '0';
      middle.push(f.max === null ? `(${s} >= ?) AS ${name}` : `(${s} >= ? AND ${s} < ?) AS ${name}`);
      middleParams.push(...(f.max === null ? [f.min] : [f.min, f.max]));
    } else if (f.t === 'and' || f.t === 'or') f.of.forEach(collect);
    else if (f.t === 'not') collect(f.of);
  };
  collect(reach);

  const expr = (f: Formula): string => {
    switch (f.t) {
      case 'true':
        return '1';
      case 'test':
        return testCol.get(f.id) ?? '0';
      case 'band':
        return bandCol.get(bandKey(f)) ?? '0';
      case 'and':
        return `(${f.of.map(expr).join(' AND ')})`;
      case 'or':
        return f.of.length ? `(${f.of.map(expr).join(' OR ')})` : '0';
      case 'not':
        return `(NOT ${expr(f.of)})`;
    }
  };
  // `LIMIT -1` keeps SQLite from flattening the layers (see sql.ts): each test runs once per contact.
  const sql =
    `SELECT id FROM (SELECT ${middle.join(', ')} FROM (` +
    `SELECT ${inner.join(', ')} FROM contacts c${scope ? ` WHERE ${scope.sql}` : ''} LIMIT -1` +
    `) LIMIT -1) WHERE ${expr(reach)}`;
  const params = [...middleParams, ...innerParams, ...(scope?.params ?? [])];
  if (params.length + extraParams > D1_MAX_PARAMS) {
    return {
      ok: false,
      errors: [
        ruleError(actionNodeId, 'too_many_parameters', `applying this action needs ${params.length + extraParams} SQL parameters; D1 allows ${D1_MAX_PARAMS}: simplify the rule`),
      ],
    };
  }
  return { ok: true, value: { sql, params } };
}
