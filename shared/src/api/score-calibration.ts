/**
 * `POST /api/rules/score-calibration`: where a score's factors sit among the contacts the caller
 * may see, so their caps ("the value that earns the full weight") fit the workspace instead of a
 * guess. A factor capped at its 90th percentile gives its full weight to the top tenth of
 * contacts; with the template's fixed caps, the demo put 1,977 of 2,000 members in the lowest band.
 */
import { z } from 'zod';
import { aggregateParamsSchema } from '../rules/schema';

/** The percentile a cap is suggested at when the request names none. */
export const DEFAULT_CAP_PERCENTILE = 90;

export const scoreCalibrationBody = z
  .object({
    /** The factors, as a score or band node holds them (weights and caps are not needed). */
    metrics: z
      .array(z.object({ field: z.string().min(1).max(100), params: aggregateParamsSchema.strict().optional() }).strict())
      .min(1, 'needs at least one factor')
      .max(10, 'takes at most 10 factors'),
    /** 50–99: the share of contacts at or under the suggested cap. */
    percentile: z.number().int().min(50, 'must be 50–99').max(99, 'must be 50–99').optional(),
  })
  .strict();
export type ScoreCalibrationBody = z.infer<typeof scoreCalibrationBody>;

/** One factor's spread over the visible contacts (a missing value counts 0, as in the score). */
export interface FactorSpread {
  /** The value at the requested percentile. */
  atPercentile: number;
  /** The largest value. */
  max: number;
  /** Contacts whose value is above 0 (the only ones the factor gives points to). */
  positive: number;
  /**
   * The cap to use: the percentile's value rounded up to a whole number; when that is 0 (most
   * contacts have none, e.g. violations), the same percentile among the contacts above 0; null
   * when no contact is above 0 (keep the cap you have).
   */
  suggestedCap: number | null;
}

export interface ScoreCalibrationResponse {
  percentile: number;
  /** Contacts counted. */
  total: number;
  factors: FactorSpread[];
}
