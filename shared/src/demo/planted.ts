/**
 * The pattern the demo generator plants for the rule learner (issue 19): whether a contact buys
 * in the last 30 days is decided by its region, its source channel and what it spent in the 60
 * days before those 30, plus noise. `plantedRepurchase` is the truth, exported so tests can measure
 * the planted rule's own held-out precision and recall and hold the learner to it.
 *
 * Time split: features as of the end of day `today − 30` (in the demo's zone), the label from the
 * purchases of the 30 days after it (`today − 29 … today`, i.e. the rule language's "purchase
 * count in the last 30 days ≥ 1" evaluated at the generator's `now`).
 */

/** Parameters of the planted pattern. */
export const PLANTED_REPURCHASE = {
  /** The label window: purchases in the last `labelDays` days (today included). */
  labelDays: 30,
  /** The spend feature: purchase amount over `spendDays` days ending at the end of day today − labelDays. */
  spendDays: 60,
  /** fen: ¥200 */
  minSpend: 20_000,
  regions: ['上海', '浙江', '江苏'] as readonly string[],
  channels: ['朋友推荐', '企微活动'] as readonly string[],
  /**
   * Label noise. A contact the rule picks does NOT buy with this probability (12% flips). One it
   * does not pick buys with `buyOtherwise`: lower than a symmetric flip so the demo's 30-day
   * purchase rate stays near what it was (a 12% flip of everyone would triple it).
   */
  missRate: 0.12,
  buyOtherwise: 0.03,
} as const;

/** The features the planted rule reads, as of the end of day today − 30. */
export interface PlantedFeatures {
  region: string | null;
  sourceChannel: string | null;
  /** purchase amount (fen) over the 60 days ending then */
  spend60: number;
}

/**
 * The planted rule (before noise): spent ≥ ¥200 in those 60 days, or lives in 上海/浙江/江苏 and
 * came through 朋友推荐 or 企微活动. Null region or channel never matches, as in the rule language.
 */
export function plantedRepurchase(f: PlantedFeatures): boolean {
  const p = PLANTED_REPURCHASE;
  if (f.spend60 >= p.minSpend) return true;
  return f.region !== null && p.regions.includes(f.region) && f.sourceChannel !== null && p.channels.includes(f.sourceChannel);
}
