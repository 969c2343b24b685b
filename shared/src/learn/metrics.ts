/**
 * How good a learned rule is, measured on contacts it was not trained on: per leaf (size,
 * positive rate, lift), for the whole rule (precision, recall, lift) and for the simplest
 * baseline, the single best condition.
 *
 * Baseline: of every condition one split could make (each threshold of each number or date
 * column, each prefix of each category column's values by positive rate, each tag), the one with
 * the best F1 on the training rows when its "yes" contacts are taken as the prediction. F1 rather
 * than the one-split stump's gini: a stump at a 0.5 leaf threshold often predicts nobody when
 * positives are rare, which would make "beats the baseline" empty.
 */
import { mixSeed } from '../demo/random';
import type { FeatureMatrix } from './features';
import { leafOf, niceBetween, rateOf, splitHolds, type Split, type Tree } from './tree';

/** Splits row indexes into training and held-out rows by a seeded hash of each contact's id (stable across runs). */
export function holdOut(ids: ArrayLike<number>, share: number, seed: number): { train: Int32Array; test: Int32Array } {
  const train: number[] = [];
  const test: number[] = [];
  const cut = Math.round(share * 10_000);
  for (let i = 0; i < ids.length; i++) (mixSeed(seed ^ 0x7e57, ids[i] as number) % 10_000 < cut ? test : train).push(i);
  return { train: Int32Array.from(train), test: Int32Array.from(test) };
}

/** Precision, recall, F1 and lift of a yes/no prediction against labels, over `rows`. */
export interface RuleQuality {
  rows: number;
  positives: number;
  /** Positives ÷ rows. */
  baseRate: number;
  /** Contacts the rule picks. */
  picked: number;
  truePositives: number;
  /** truePositives ÷ picked (0 when it picks nobody). */
  precision: number;
  /** truePositives ÷ positives. */
  recall: number;
  f1: number;
  /** precision ÷ baseRate. */
  lift: number;
}

/** Quality of `predict` over `rows`. */
export function ruleQuality(predict: (row: number) => boolean, labels: Uint8Array, rows: Int32Array): RuleQuality {
  let positives = 0;
  let picked = 0;
  let tp = 0;
  for (const r of rows) {
    const y = labels[r] === 1;
    const p = predict(r);
    if (y) positives++;
    if (p) picked++;
    if (p && y) tp++;
  }
  const baseRate = rows.length > 0 ? positives / rows.length : 0;
  const precision = picked > 0 ? tp / picked : 0;
  const recall = positives > 0 ? tp / positives : 0;
  return {
    rows: rows.length,
    positives,
    baseRate,
    picked,
    truePositives: tp,
    precision,
    recall,
    f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0,
    lift: baseRate > 0 ? precision / baseRate : 0,
  };
}

/** A leaf's numbers on held-out contacts. */
export interface LeafStats {
  n: number;
  positives: number;
  /** positives ÷ n (0 for an empty leaf). */
  rate: number;
  /** rate ÷ the held-out base rate. */
  lift: number;
}

/** Held-out statistics per leaf id (every leaf, empty ones with n = 0). */
export function leafStats(tree: Tree, m: FeatureMatrix, labels: Uint8Array, rows: Int32Array): Map<number, LeafStats> {
  const out = new Map<number, LeafStats>();
  for (const nd of tree.nodes) if (!nd.split) out.set(nd.id, { n: 0, positives: 0, rate: 0, lift: 0 });
  let pos = 0;
  for (const r of rows) {
    const s = out.get(leafOf(tree, m, r).id) as LeafStats;
    s.n++;
    if (labels[r] === 1) {
      s.positives++;
      pos++;
    }
  }
  const base = rows.length > 0 ? pos / rows.length : 0;
  for (const s of out.values()) {
    s.rate = s.n > 0 ? s.positives / s.n : 0;
    s.lift = base > 0 ? s.rate / base : 0;
  }
  return out;
}

/** The tree's prediction for a row: its leaf's training positive rate clears `threshold`. */
export function treePredicts(tree: Tree, m: FeatureMatrix, threshold: number): (row: number) => boolean {
  return (r) => rateOf(leafOf(tree, m, r)) >= threshold;
}

/** The baseline: one condition, with its F1 on the training rows. */
export interface SingleCondition {
  split: Split;
  trainF1: number;
}

/** The single condition with the best F1 on `rows` (see the module comment); null when nothing splits. */
export function bestSingleCondition(m: FeatureMatrix, labels: Uint8Array, rows: Int32Array): SingleCondition | null {
  let P = 0;
  for (const r of rows) P += labels[r] as number;
  let best: SingleCondition | null = null;
  const offer = (split: Split, yesN: number, yesPos: number) => {
    if (yesN === 0 || yesN === rows.length) return;
    const f1 = (2 * yesPos) / (yesN + P);
    if (!best || f1 > best.trainF1) best = { split, trainF1: f1 };
  };
  m.specs.forEach((spec, f) => {
    const col = m.columns[f] as Float64Array;
    if (spec.kind === 'numeric' || spec.kind === 'date') {
      const idx = Array.from(rows).filter((r) => col[r] === col[r]);
      idx.sort((a, b) => (col[a] as number) - (col[b] as number) || a - b);
      let nnP = 0;
      for (const r of idx) nnP += labels[r] as number;
      let lN = 0;
      let lP = 0;
      for (let k = 0; k < idx.length; k++) {
        const r = idx[k] as number;
        const v = col[r] as number;
        if (lN > 0 && v !== col[idx[k - 1] as number]) {
          const a = col[idx[k - 1] as number] as number;
          if (spec.kind !== 'date' || a < 3660) {
            // the tree's choice of threshold: the roundest in (a, b]
            const th = niceBetween(a, spec.kind === 'date' ? Math.min(v, 3660) : v);
            offer({ feature: f, op: 'lt', threshold: th }, lN, lP);
            offer({ feature: f, op: 'ge', threshold: th }, idx.length - lN, nnP - lP);
          }
        }
        lN++;
        lP += labels[r] as number;
      }
      if (spec.kind === 'numeric') offer({ feature: f, op: 'present' }, idx.length, nnP);
    } else if (spec.kind === 'categorical') {
      const K = (spec.categories?.length ?? 0) + 1;
      const cN = new Float64Array(K);
      const cP = new Float64Array(K);
      for (const r of rows) {
        const c = col[r] as number;
        cN[c] = (cN[c] as number) + 1;
        cP[c] = (cP[c] as number) + (labels[r] as number);
      }
      const codes: number[] = [];
      for (let c = 1; c < K; c++) if ((cN[c] as number) > 0) codes.push(c);
      const rate = (c: number) => (cP[c] as number) / (cN[c] as number);
      codes.sort((x, z) => rate(z) - rate(x) || x - z);
      let aN = 0;
      let aP = 0;
      for (let k = 0; k < codes.length; k++) {
        aN += cN[codes[k] as number] as number;
        aP += cP[codes[k] as number] as number;
        offer({ feature: f, op: 'in', codes: codes.slice(0, k + 1).sort((x, z) => x - z) }, aN, aP);
      }
    } else {
      let oN = 0;
      let oP = 0;
      for (const r of rows)
        if (col[r] === 1) {
          oN++;
          oP += labels[r] as number;
        }
      offer({ feature: f, op: 'true' }, oN, oP);
    }
  });
  return best;
}

/** Whether a single condition holds for a row. */
export function conditionPredicts(c: SingleCondition, m: FeatureMatrix): (row: number) => boolean {
  const col = m.columns[c.split.feature] as Float64Array;
  return (r) => splitHolds(c.split, col[r] as number);
}
