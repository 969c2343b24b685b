/**
 * Where a score's factors sit among the contacts a user may see (`POST /api/score-calibration`):
 * per factor, the value at a percentile, the largest value, how many contacts are above 0, and
 * the cap that follows. Each factor's value is the score's own SQL (`scoreValueLogic` through
 * `toSql`), a missing value counting 0 as `sf_score` counts it, so the numbers describe exactly
 * what the score will read. One statement per factor, all in one batch.
 */
import { SCORE_FIELD_TYPES, scoreValueLogic } from '@shared/rules/compile';
import { fieldCatalog, type CustomFieldDecl } from '@shared/rules/fields';
import { toSql } from '@shared/rules/sql';
import type { AggregateJoin, SqlContext, SqlFrag } from '@shared/rules/operators';
import {
  DEFAULT_CAP_PERCENTILE,
  type FactorSpread,
  type ScoreCalibrationBody,
  type ScoreCalibrationResponse,
} from '@shared/api/score-calibration';
import { ApiError } from '../errors';

/** A factor the catalog cannot weigh, as the compiler words it for a score node. */
function badFactor(i: number, field: string, why: string): ApiError {
  return new ApiError(400, 'invalid_request', `metrics.${i}.field: "${field}" ${why}`, [{ path: `metrics.${i}.field`, message: why }]);
}

/**
 * The statement for one factor: the values over the visible contacts, materialised once, then
 * the count, the largest value, the contacts above 0, and the percentile's value among all and
 * among those above 0 (nearest rank, `(n − 1) · p / 100` rows from the smallest).
 */
function spreadStatement(value: SqlFrag, joins: AggregateJoin[], scope: SqlFrag | undefined, percentile: number): SqlFrag {
  const rank = (where: string) => `(SELECT CAST((COUNT(*) - 1) * ? / 100 AS INTEGER) FROM v${where})`;
  const at = (where: string) => `(SELECT x FROM v${where} ORDER BY x LIMIT 1 OFFSET ${rank(where)})`;
  return {
    sql:
      `WITH v AS MATERIALIZED (SELECT COALESCE(${value.sql}, 0) AS x FROM contacts c${joins.map((j) => ` ${j.frag.sql}`).join('')}` +
      `${scope ? ` WHERE ${scope.sql}` : ''}) ` +
      `SELECT (SELECT COUNT(*) FROM v) AS n, (SELECT MAX(x) FROM v) AS mx, (SELECT COUNT(*) FROM v WHERE x > 0) AS pos, ` +
      `${at('')} AS p_all, ${at(' WHERE x > 0')} AS p_pos`,
    params: [...value.params, ...joins.flatMap((j) => j.frag.params), ...(scope?.params ?? []), percentile, percentile],
  };
}

interface SpreadRow {
  n: number;
  mx: number | null;
  pos: number;
  p_all: number | null;
  p_pos: number | null;
}

/** The cap a spread suggests: the percentile rounded up; among contacts above 0 when it is 0. */
export function suggestedCap(pAll: number, pPositive: number | null): number | null {
  if (pAll > 0) return Math.ceil(pAll);
  return pPositive !== null && pPositive > 0 ? Math.ceil(pPositive) : null;
}

export async function calibrateScore(
  db: D1Database,
  body: ScoreCalibrationBody,
  customFields: readonly CustomFieldDecl[],
  ctx: SqlContext,
  scope: SqlFrag | undefined,
): Promise<ScoreCalibrationResponse> {
  const percentile = body.percentile ?? DEFAULT_CAP_PERCENTILE;
  const catalog = fieldCatalog(customFields);
  const statements = body.metrics.map((m, i) => {
    const field = catalog.get(m.field);
    if (!field) throw badFactor(i, m.field, 'is not a field of this workspace');
    if (!SCORE_FIELD_TYPES.has(field.type) || field.eventScoped) {
      throw badFactor(i, m.field, 'cannot be a score factor (a number, a yes/no, a date or an event count is needed)');
    }
    if (field.type === 'aggregate' && !m.params) {
      throw new ApiError(400, 'invalid_request', `metrics.${i}.params: an event count needs an event type and a number of days`, [
        { path: `metrics.${i}.params`, message: 'is required for an event count' },
      ]);
    }
    const joins: AggregateJoin[] = [];
    const value = toSql(scoreValueLogic(field, m.params), { ...ctx, aggregateJoins: joins });
    const s = spreadStatement(value, joins, scope, percentile);
    return db.prepare(s.sql).bind(...s.params);
  });
  const results = await db.batch<SpreadRow>(statements);
  const rows = results.map((r) => r.results[0] as SpreadRow);
  const factors: FactorSpread[] = rows.map((r) => ({
    atPercentile: r.p_all ?? 0,
    max: r.mx ?? 0,
    positive: r.pos,
    suggestedCap: suggestedCap(r.p_all ?? 0, r.p_pos),
  }));
  return { percentile, total: rows[0]?.n ?? 0, factors };
}
