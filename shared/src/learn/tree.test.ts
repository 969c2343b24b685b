import { describe, expect, it } from 'vitest';
import type { FeatureMatrix, FeatureSpec } from './features';
import { foldTree, leafOf, learnTree, niceBetween, sortedRows, stratifiedSample, thresholdBetween, type Tree } from './tree';

const num = (id: string): FeatureSpec => ({ id, field: id, fieldType: 'number', kind: 'numeric' });

/** A matrix from columns of plain numbers (null = missing). */
function matrix(specs: FeatureSpec[], cols: (number | null)[][]): FeatureMatrix {
  return { specs, rows: cols[0]?.length ?? 0, columns: cols.map((c) => Float64Array.from(c, (v) => (v === null ? Number.NaN : v))) };
}

/** Deterministic pseudo-random numbers for synthetic data. */
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

describe('thresholdBetween', () => {
  it('writes a threshold the tree already wrote when it splits the same way, else the roundest number', () => {
    // ¥207 on one branch; the other branch's gap (¥100, ¥300] holds it: one condition, not ¥207 and ¥300
    expect(thresholdBetween([207], 100, 300)).toBe(207);
    expect(thresholdBetween([], 100, 300)).toBe(300);
    // a used threshold outside the gap would split differently: not taken
    expect(thresholdBetween([207], 207, 300)).toBe(300);
    expect(thresholdBetween([207], 100, 206)).toBe(200);
    expect(thresholdBetween([50, 250], 100, 300)).toBe(250);
  });
});

describe('learnTree', () => {
  const rnd = lcg(3);
  const N = 4000;
  const x = Array.from({ length: N }, () => Math.floor(rnd() * 1000));
  const noise = Array.from({ length: N }, () => Math.floor(rnd() * 1000));
  const labels = Uint8Array.from(x, (v, i) => (v >= 600 !== (i % 17 === 0) ? 1 : 0));
  const m = matrix([num('noise'), num('x')], [noise, x]);

  it('finds a threshold between two adjacent values and writes the roundest number between them', () => {
    const t = learnTree(m, labels, { maxDepth: 1, minLeaf: 10 });
    const root = t.nodes[0]!;
    expect(root.split).toEqual({ feature: 1, op: 'ge', threshold: 600 });
    expect(t.nodes[root.yes!]!.n + t.nodes[root.no!]!.n).toBe(N);
  });

  it('is deterministic: the same seed gives the same tree, a sample is drawn when the cap bites', () => {
    const a = learnTree(m, labels, { maxDepth: 4, minLeaf: 20, seed: 5, maxSample: 1500 });
    const b = learnTree(m, labels, { maxDepth: 4, minLeaf: 20, seed: 5, maxSample: 1500 });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(a.sample.n).toBe(1500);
    const c = learnTree(m, labels, { maxDepth: 4, minLeaf: 20, seed: 6, maxSample: 1500 });
    expect(JSON.stringify(c.nodes)).not.toBe(JSON.stringify(a.nodes));
  });

  it('keeps depth and leaf size within what the caller chose, and refuses choices outside the safe bounds', () => {
    const t = learnTree(m, labels, { maxDepth: 3, minLeaf: 300 });
    for (const n of t.nodes) {
      expect(n.depth).toBeLessThanOrEqual(3);
      expect(n.n).toBeGreaterThanOrEqual(300);
    }
    expect(() => learnTree(m, labels, { maxDepth: 6, minLeaf: 10 })).toThrow(RangeError);
    expect(() => learnTree(m, labels, { maxDepth: 0, minLeaf: 10 })).toThrow(RangeError);
    expect(() => learnTree(m, labels, { maxDepth: 2, minLeaf: 0 })).toThrow(RangeError);
    expect(() => learnTree(m, labels, { maxDepth: 2, minLeaf: 10, maxSample: 300_000 })).toThrow(RangeError);
  });

  it('gives one leaf for one class, for an empty sample, and for a feature that is all missing', () => {
    const ones = learnTree(m, new Uint8Array(N).fill(1), { maxDepth: 3, minLeaf: 10 });
    expect(ones.nodes).toEqual([{ id: 0, depth: 0, n: N, pos: N }]);
    const empty = learnTree(m, labels, { maxDepth: 3, minLeaf: 10 }, new Int32Array(0));
    expect(empty.nodes).toEqual([{ id: 0, depth: 0, n: 0, pos: 0 }]);
    const allNull = learnTree(matrix([num('gone')], [x.map(() => null)]), labels, { maxDepth: 3, minLeaf: 10 });
    expect(allNull.nodes).toHaveLength(1);
    // next to a useful feature, the all-missing one is never used
    const both = learnTree(matrix([num('gone'), num('x')], [x.map(() => null), x]), labels, { maxDepth: 3, minLeaf: 10 });
    expect(both.nodes.every((n) => !n.split || n.split.feature === 1)).toBe(true);
  });

  it('sends missing values to the side they resemble: "x < t" when the missing ones are like the high values', () => {
    // missing ↔ positive, as are high values: the rule must say `x < 300` (yes = negative), missing on "no"
    const xs = x.map((v, i) => (i % 5 === 0 ? null : v));
    const ys = Uint8Array.from(xs, (v) => (v === null || v >= 300 ? 1 : 0));
    const t = learnTree(matrix([num('x')], [xs]), ys, { maxDepth: 1, minLeaf: 10 });
    expect(t.nodes[0]!.split).toEqual({ feature: 0, op: 'lt', threshold: 300 });
    expect(t.nodes[t.nodes[0]!.no!]!.pos / t.nodes[t.nodes[0]!.no!]!.n).toBe(1);
    // and "is not empty" when only missingness matters
    const only = Uint8Array.from(xs, (v) => (v === null ? 1 : 0));
    expect(learnTree(matrix([num('x')], [xs]), only, { maxDepth: 1, minLeaf: 10 }).nodes[0]!.split).toEqual({ feature: 0, op: 'present' });
  });

  it('splits categories as a set (the best prefix by positive rate), never listing code 0 (missing / other values)', () => {
    const spec: FeatureSpec = {
      id: 'region',
      field: 'region',
      fieldType: 'text',
      kind: 'categorical',
      categories: ['上海', '浙江', '广东', '北京'],
    };
    const codes = x.map((v) => v % 5); // 0 = missing / other
    const ys = Uint8Array.from(codes, (c) => (c === 1 || c === 3 ? 1 : 0));
    const t = learnTree(matrix([spec], [codes]), ys, { maxDepth: 1, minLeaf: 10 });
    expect(t.nodes[0]!.split).toEqual({ feature: 0, op: 'in', codes: [1, 3] });
    // missing values with the positives: the set names the other side
    const ys2 = Uint8Array.from(codes, (c) => (c === 0 || c === 2 ? 1 : 0));
    expect(learnTree(matrix([spec], [codes]), ys2, { maxDepth: 1, minLeaf: 10 }).nodes[0]!.split).toEqual({
      feature: 0,
      op: 'in',
      codes: [1, 3, 4],
    });
  });
});

describe('foldTree', () => {
  it('folds subtrees whose leaves decide alike, without changing a prediction', () => {
    const rnd = lcg(9);
    const a = Array.from({ length: 3000 }, () => Math.floor(rnd() * 100));
    const b = Array.from({ length: 3000 }, () => Math.floor(rnd() * 100));
    const ys = Uint8Array.from(a, (v, i) => (v >= 50 && (b[i] as number) >= 20 ? 1 : i % 11 === 0 ? 1 : 0));
    const m = matrix([num('a'), num('b')], [a, b]);
    const t: Tree = learnTree(m, ys, { maxDepth: 4, minLeaf: 5 });
    const f = foldTree(t, 0.5);
    expect(f.nodes.length).toBeLessThan(t.nodes.length);
    for (let r = 0; r < m.rows; r++) {
      const l1 = leafOf(t, m, r);
      const l2 = leafOf(f, m, r);
      expect(l2.pos / l2.n >= 0.5).toBe(l1.pos / l1.n >= 0.5);
    }
    // every remaining split has a tagged leaf on one side and an untagged one on the other
    const decisions = (id: number): Set<boolean> => {
      const n = f.nodes[id]!;
      return n.split ? new Set([...decisions(n.yes!), ...decisions(n.no!)]) : new Set([n.pos / n.n >= 0.5]);
    };
    for (const n of f.nodes) if (n.split) expect(decisions(n.id).size).toBe(2);
  });
});

describe('niceBetween', () => {
  it('picks the roundest number in (a, b]', () => {
    expect(niceBetween(19_900, 20_100)).toBe(20_000);
    expect(niceBetween(29, 30)).toBe(30);
    expect(niceBetween(0, 7)).toBe(7);
    expect(niceBetween(12_345, 99_999)).toBe(90_000);
    expect(niceBetween(-12, -3)).toBe(-10);
    expect(niceBetween(0.25, 0.3)).toBeCloseTo(0.3);
  });
});

describe('sortedRows', () => {
  it('orders the present values’ rows by value, ties by row, missing ones left out', () => {
    const col = Float64Array.from([5, Number.NaN, -2, 5, 0, 1e12, -2, Number.NaN, 3.5]);
    expect([...sortedRows(col)]).toEqual([2, 6, 4, 8, 0, 3, 5]);
    expect([...sortedRows(new Float64Array(0))]).toEqual([]);
    expect([...sortedRows(Float64Array.from([Number.NaN]))]).toEqual([]);
    const rnd = lcg(4);
    const big = Float64Array.from({ length: 5000 }, () => (rnd() < 0.1 ? Number.NaN : Math.floor(rnd() * 300)));
    const want = [...big.keys()].filter((i) => !Number.isNaN(big[i]!)).sort((a, b) => big[a]! - big[b]! || a - b);
    expect([...sortedRows(big)]).toEqual(want);
  });
});

describe('stratifiedSample', () => {
  it('keeps each class’s share, stays under the cap, and is the same for the same seed', () => {
    const rows = Int32Array.from({ length: 10_000 }, (_, i) => i);
    const labels = Uint8Array.from(rows, (i) => (i % 10 === 0 ? 1 : 0));
    const s = stratifiedSample(rows, labels, 2000, 1);
    expect(s.length).toBe(2000);
    expect([...s].filter((r) => labels[r] === 1).length).toBe(200);
    expect(new Set(s).size).toBe(2000);
    expect([...stratifiedSample(rows, labels, 2000, 1)]).toEqual([...s]);
    expect([...stratifiedSample(rows, labels, 2000, 2)]).not.toEqual([...s]);
  });
});
