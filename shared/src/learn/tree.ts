/**
 * A shallow CART classification tree (gini) over the feature matrix of `features.ts`, small
 * enough to read as a rule: depth 1–5, a minimum leaf size, a stratified sample of at most 50k
 * contacts, deterministic given its seed. Every split is one condition the rule language has:
 *
 * - `ge` / `lt` on a number or date column (yes = value ≥ / < threshold; a missing value is on
 *   the no side, as the evaluators say "null never matches"). Both are tried, so the tree
 *   chooses which side missing values join. Thresholds fall between two adjacent sorted values
 *   (the midpoint's partition); the one written is the roundest number in (a, b], which splits
 *   the training contacts the same way and reads better (¥200, not ¥199.995), unless a threshold
 *   the tree already wrote for the same feature falls in (a, b]: then that one, so one test is one
 *   condition wherever it appears.
 * - `present`: non-missing vs missing (`is_not_empty`).
 * - `in`: a set of categories (code 0, missing or any other value, always on the no side), the
 *   best of the prefixes of the categories sorted by positive rate (optimal for two classes).
 * - `true`: a binary feature holds (a tag is held).
 *
 * Levels are grown one at a time: each numeric column is sorted once, and one pass over it per
 * level scores every boundary of every open node, so a level costs O(rows × features).
 * No library: the npm trees (ml-cart, decision-tree…) take dense numeric rows, know nothing of
 * missing values that must stay on the "no" side, of category sets or of seeded sampling.
 */
import { mixSeed, Rng } from '../demo/random';
import type { FeatureMatrix, FeatureSpec } from './features';

/** One split: the test a condition node makes. */
export type Split =
  | { feature: number; op: 'ge' | 'lt'; threshold: number }
  | { feature: number; op: 'present' }
  | { feature: number; op: 'in'; codes: number[] }
  | { feature: number; op: 'true' };

/** A node; the root is `nodes[0]` and ids are indexes. `n` / `pos`: training contacts and positives reaching it. */
export interface TreeNode {
  id: number;
  depth: number;
  n: number;
  pos: number;
  split?: Split;
  yes?: number;
  no?: number;
}

/** A trained tree: plain JSON (specs carry their categories), so it can be stored and reloaded. */
export interface Tree {
  specs: FeatureSpec[];
  nodes: TreeNode[];
  /** Training sample size and positives (after stratified sampling). */
  sample: { n: number; pos: number };
  options: Required<TreeOptions>;
}

/** What the caller chooses. */
export interface TreeOptions {
  /** 1–5. */
  maxDepth: number;
  /** Minimum contacts in a leaf, 1–100,000 (and at least 1% of the sample is a sensible floor). */
  minLeaf: number;
  /** Sampling seed. */
  seed?: number;
  /** Stratified sample cap, default 50,000. */
  maxSample?: number;
}

/** The safe bounds the caller's choices are held to. */
export const TREE_LIMITS = { maxDepth: [1, 5], minLeaf: [1, 100_000], maxSample: [1, 200_000] } as const;

/** Whether a split's condition holds for an encoded value. NaN (missing) never matches but `present`'s no side. */
export function splitHolds(split: Split, v: number): boolean {
  switch (split.op) {
    case 'ge':
      return v >= split.threshold;
    case 'lt':
      return v < split.threshold;
    case 'present':
      return v === v;
    case 'in':
      return split.codes.includes(v);
    case 'true':
      return v === 1;
  }
}

/** The leaf a row of `m` ends in. */
export function leafOf(tree: Tree, m: FeatureMatrix, row: number): TreeNode {
  let node = tree.nodes[0] as TreeNode;
  while (node.split) {
    const v = (m.columns[node.split.feature] as Float64Array)[row] as number;
    node = tree.nodes[(splitHolds(node.split, v) ? node.yes : node.no) as number] as TreeNode;
  }
  return node;
}

/** Training positive rate of a node. */
export const rateOf = (n: TreeNode) => (n.n > 0 ? n.pos / n.n : 0);

/**
 * The roundest number t with a < t ≤ b: the largest multiple of the biggest power of ten that fits.
 * Integers stay integers.
 */
export function niceBetween(a: number, b: number): number {
  if (!(b > a)) return b;
  for (let e = 15; e >= -6; e--) {
    const step = 10 ** e;
    const t = Math.floor(b / step) * step;
    if (t > a && t <= b) return t;
  }
  return b;
}

/** The first of `used` with a < t ≤ b (a threshold the tree already wrote), else the roundest number there. */
export function thresholdBetween(used: readonly number[], a: number, b: number): number {
  return used.find((t) => t > a && t <= b) ?? niceBetween(a, b);
}

/**
 * Stratified sample of `rows` (each class keeps its share), at most `max` rows, ascending.
 * Deterministic given `seed`.
 */
export function stratifiedSample(rows: Int32Array, labels: Uint8Array, max: number, seed: number): Int32Array {
  if (rows.length <= max) return Int32Array.from(rows);
  const pos: number[] = [];
  const neg: number[] = [];
  for (const r of rows) ((labels[r] as number) === 1 ? pos : neg).push(r);
  const kPos = Math.round((max * pos.length) / rows.length);
  const rng = new Rng(mixSeed(seed, 0x5eed));
  const take = (list: number[], k: number) => {
    // partial Fisher–Yates: the first k of a seeded shuffle
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(rng.next() * (list.length - i));
      const t = list[i] as number;
      list[i] = list[j] as number;
      list[j] = t;
    }
    return list.slice(0, k);
  };
  const out = Int32Array.from([...take(pos, kPos), ...take(neg, max - kPos)]);
  return out.sort();
}

/**
 * Indexes of the non-missing values of `col`, ordered by value (ties by index). A native sort of
 * the values, their ranks by binary search, then a counting sort by rank: several times faster
 * than sorting indexes with a comparator, which was most of a tree's time.
 */
export function sortedRows(col: Float64Array): Int32Array {
  let m = 0;
  for (let i = 0; i < col.length; i++) if (col[i] === col[i]) m++;
  const vals = new Float64Array(m);
  for (let i = 0, k = 0; i < col.length; i++) if (col[i] === col[i]) vals[k++] = col[i] as number;
  vals.sort();
  let u = 0;
  for (let j = 0; j < m; j++) if (u === 0 || vals[j] !== vals[u - 1]) vals[u++] = vals[j] as number;
  const starts = new Int32Array(u + 1);
  const rank = new Int32Array(col.length);
  for (let i = 0; i < col.length; i++) {
    const v = col[i] as number;
    if (v !== v) continue;
    let lo = 0;
    let hi = u - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((vals[mid] as number) < v) lo = mid + 1;
      else hi = mid;
    }
    rank[i] = lo;
    starts[lo + 1] = (starts[lo + 1] as number) + 1;
  }
  for (let r = 0; r < u; r++) starts[r + 1] = (starts[r + 1] as number) + (starts[r] as number);
  const out = new Int32Array(m);
  for (let i = 0; i < col.length; i++) {
    if (col[i] !== col[i]) continue;
    const r = rank[i] as number;
    out[starts[r] as number] = i;
    starts[r] = (starts[r] as number) + 1;
  }
  return out;
}

/** Weighted gini of a two-way partition: Σ 2·pos·(n − pos)/n. Lower is purer. */
const gini = (n1: number, p1: number, n2: number, p2: number) =>
  (n1 > 0 ? (2 * p1 * (n1 - p1)) / n1 : 0) + (n2 > 0 ? (2 * p2 * (n2 - p2)) / n2 : 0);

interface Candidate {
  score: number;
  feature: number;
  op: Split['op'];
  /** numeric boundaries: a < t ≤ b */
  a: number;
  b: number;
  codes: number[];
  yesN: number;
  yesPos: number;
}

const DATE_MAX_DAYS = 3660;

/**
 * Grows a tree on `rows` of `m` (all rows when omitted) with labels 0/1. Throws on options outside
 * `TREE_LIMITS`; an empty sample gives a single leaf with n = 0.
 */
export function learnTree(m: FeatureMatrix, labels: Uint8Array, options: TreeOptions, rows?: Int32Array): Tree {
  const opts: Required<TreeOptions> = { seed: 1, maxSample: 50_000, ...options };
  const inRange = (v: number, [lo, hi]: readonly [number, number]) => Number.isInteger(v) && v >= lo && v <= hi;
  if (!inRange(opts.maxDepth, TREE_LIMITS.maxDepth)) throw new RangeError('maxDepth must be 1–5');
  if (!inRange(opts.minLeaf, TREE_LIMITS.minLeaf)) throw new RangeError('minLeaf must be 1–100000');
  if (!inRange(opts.maxSample, TREE_LIMITS.maxSample)) throw new RangeError('maxSample must be 1–200000');
  const all = rows ?? Int32Array.from({ length: m.rows }, (_, i) => i);
  const sample = stratifiedSample(all, labels, opts.maxSample, opts.seed);
  const n = sample.length;
  const y = new Uint8Array(n);
  let totalPos = 0;
  for (let i = 0; i < n; i++) totalPos += y[i] = labels[sample[i] as number] as number;
  const cols = m.columns.map((c) => {
    const local = new Float64Array(n);
    for (let i = 0; i < n; i++) local[i] = c[sample[i] as number] as number;
    return local;
  });
  const F = cols.length;
  // numeric / date columns: local row indexes of non-missing values, sorted by value
  // (with values and labels copied into that order: the level scans read them sequentially)
  const sorted: (Int32Array | null)[] = m.specs.map((s, f) =>
    s.kind === 'numeric' || s.kind === 'date' ? sortedRows(cols[f] as Float64Array) : null,
  );
  const sortedV = sorted.map((order, f) => (order ? Float64Array.from(order, (i) => (cols[f] as Float64Array)[i] as number) : null));
  const sortedY = sorted.map((order) => (order ? Uint8Array.from(order, (i) => y[i] as number) : null));

  const nodes: TreeNode[] = [{ id: 0, depth: 0, n, pos: totalPos }];
  const nodeOf = new Int32Array(n);
  let frontier = [0];
  /**
   * Thresholds written so far, per feature. A split whose gap holds one of them writes that one
   * instead of its own roundest number (the sample splits the same way either way): a rule that
   * tests one aggregate at one threshold on two branches is one condition to read, and one set for
   * the preview's SQL to build (it shares identical tests).
   */
  const thresholdsOf = new Map<number, number[]>();
  const thresholdFor = (feature: number, a: number, b: number): number => {
    const used = thresholdsOf.get(feature) ?? [];
    const t = thresholdBetween(used, a, b);
    if (!used.includes(t)) thresholdsOf.set(feature, [...used, t]);
    return t;
  };
  const minLeaf = opts.minLeaf;
  for (let depth = 0; depth < opts.maxDepth && frontier.length > 0; depth++) {
    const open = frontier.filter((id) => {
      const nd = nodes[id] as TreeNode;
      return nd.n >= 2 * minLeaf && nd.pos > 0 && nd.pos < nd.n;
    });
    if (open.length === 0) break;
    const slotOf = new Int32Array(nodes.length).fill(-1);
    open.forEach((id, s) => (slotOf[id] = s));
    const S = open.length;
    const nodeN = open.map((id) => (nodes[id] as TreeNode).n);
    const nodeP = open.map((id) => (nodes[id] as TreeNode).pos);
    const best: (Candidate | null)[] = open.map((id) => {
      const nd = nodes[id] as TreeNode;
      // a split must lower the impurity by more than rounding
      return { score: gini(nd.n, nd.pos, 0, 0) - 1e-9 * nd.n, feature: -1, op: 'true', a: 0, b: 0, codes: [], yesN: 0, yesPos: 0 };
    });
    const offer = (s: number, c: Omit<Candidate, 'score'>) => {
      const N = nodeN[s] as number;
      const P = nodeP[s] as number;
      if (c.yesN < minLeaf || N - c.yesN < minLeaf) return;
      const score = gini(c.yesN, c.yesPos, N - c.yesN, P - c.yesPos);
      const cur = best[s] as Candidate;
      if (score < cur.score) best[s] = { ...c, score };
    };

    for (let f = 0; f < F; f++) {
      const spec = m.specs[f] as FeatureSpec;
      const col = cols[f] as Float64Array;
      const order = sorted[f];
      if (order) {
        const isDate = spec.kind === 'date';
        const vs = sortedV[f] as Float64Array;
        const ys = sortedY[f] as Uint8Array;
        // per node: present values and their positives (every row when nothing is missing)
        const nnN = Float64Array.from(nodeN);
        const nnP = Float64Array.from(nodeP);
        if (order.length < n) {
          nnN.fill(0);
          nnP.fill(0);
          for (let k = 0; k < order.length; k++) {
            const s = slotOf[nodeOf[order[k] as number] as number] as number;
            if (s < 0) continue;
            nnN[s] = (nnN[s] as number) + 1;
            nnP[s] = (nnP[s] as number) + (ys[k] as number);
          }
        }
        const leftN = new Float64Array(S);
        const leftP = new Float64Array(S);
        const last = new Float64Array(S).fill(Number.NaN);
        for (let k = 0; k < order.length; k++) {
          const s = slotOf[nodeOf[order[k] as number] as number] as number;
          if (s < 0) continue;
          const v = vs[k] as number;
          const lN = leftN[s] as number;
          if (lN > 0 && v !== last[s]) {
            const a = last[s] as number;
            if (!isDate || a < DATE_MAX_DAYS) {
              const lP = leftP[s] as number;
              const rN = (nnN[s] as number) - lN;
              const rP = (nnP[s] as number) - lP;
              offer(s, { feature: f, op: 'ge', a, b: v, codes: [], yesN: rN, yesPos: rP });
              // with no missing values 'lt' is the same partition as 'ge'
              if (rN + lN < (nodeN[s] as number)) offer(s, { feature: f, op: 'lt', a, b: v, codes: [], yesN: lN, yesPos: lP });
            }
          }
          leftN[s] = lN + 1;
          leftP[s] = (leftP[s] as number) + (ys[k] as number);
          last[s] = v;
        }
        for (let s = 0; s < S; s++) {
          const nn = nnN[s] as number;
          if (nn === 0 || nn === nodeN[s]) continue;
          // all present vs missing: `is_not_empty`, or for a date "within the last max+1… days"
          if (!isDate) offer(s, { feature: f, op: 'present', a: 0, b: 0, codes: [], yesN: nn, yesPos: nnP[s] as number });
          else if ((last[s] as number) < DATE_MAX_DAYS)
            offer(s, { feature: f, op: 'lt', a: last[s] as number, b: DATE_MAX_DAYS, codes: [], yesN: nn, yesPos: nnP[s] as number });
        }
      } else if (spec.kind === 'categorical') {
        const K = (spec.categories?.length ?? 0) + 1;
        const cN = new Float64Array(S * K);
        const cP = new Float64Array(S * K);
        for (let i = 0; i < n; i++) {
          const s = slotOf[nodeOf[i] as number] as number;
          if (s < 0) continue;
          const at = s * K + (col[i] as number);
          cN[at] = (cN[at] as number) + 1;
          cP[at] = (cP[at] as number) + (y[i] as number);
        }
        for (let s = 0; s < S; s++) {
          const codes: number[] = [];
          for (let c = 0; c < K; c++) if ((cN[s * K + c] as number) > 0) codes.push(c);
          if (codes.length < 2) continue;
          const rate = (c: number) => (cP[s * K + c] as number) / (cN[s * K + c] as number);
          codes.sort((x, z) => rate(x) - rate(z) || x - z);
          let aN = 0;
          let aP = 0;
          for (let k = 0; k < codes.length - 1; k++) {
            const c = codes[k] as number;
            aN += cN[s * K + c] as number;
            aP += cP[s * K + c] as number;
            const prefix = codes.slice(0, k + 1);
            // the yes side is the one without code 0 (missing / other values)
            if (prefix.includes(0)) {
              offer(s, {
                feature: f,
                op: 'in',
                a: 0,
                b: 0,
                codes: codes.slice(k + 1).sort((x, z) => x - z),
                yesN: (nodeN[s] as number) - aN,
                yesPos: (nodeP[s] as number) - aP,
              });
            } else offer(s, { feature: f, op: 'in', a: 0, b: 0, codes: prefix.sort((x, z) => x - z), yesN: aN, yesPos: aP });
          }
        }
      } else {
        const oneN = new Float64Array(S);
        const oneP = new Float64Array(S);
        for (let i = 0; i < n; i++) {
          const s = slotOf[nodeOf[i] as number] as number;
          if (s < 0 || col[i] !== 1) continue;
          oneN[s] = (oneN[s] as number) + 1;
          oneP[s] = (oneP[s] as number) + (y[i] as number);
        }
        for (let s = 0; s < S; s++)
          offer(s, { feature: f, op: 'true', a: 0, b: 0, codes: [], yesN: oneN[s] as number, yesPos: oneP[s] as number });
      }
    }

    const next: number[] = [];
    const splitOf: (Split | null)[] = new Array(S).fill(null);
    const yesOf = new Int32Array(S);
    const noOf = new Int32Array(S);
    for (let s = 0; s < S; s++) {
      const c = best[s] as Candidate;
      if (c.feature < 0) continue;
      const nd = nodes[open[s] as number] as TreeNode;
      const spec = m.specs[c.feature] as FeatureSpec;
      const split: Split =
        c.op === 'ge' || c.op === 'lt'
          ? {
              feature: c.feature,
              op: c.op,
              threshold: thresholdFor(c.feature, c.a, spec.kind === 'date' ? Math.min(c.b, DATE_MAX_DAYS) : c.b),
            }
          : c.op === 'in'
            ? { feature: c.feature, op: 'in', codes: c.codes }
            : { feature: c.feature, op: c.op };
      const yes: TreeNode = { id: nodes.length, depth: depth + 1, n: c.yesN, pos: c.yesPos };
      const no: TreeNode = { id: nodes.length + 1, depth: depth + 1, n: nd.n - c.yesN, pos: nd.pos - c.yesPos };
      nodes.push(yes, no);
      nd.split = split;
      nd.yes = yes.id;
      nd.no = no.id;
      splitOf[s] = split;
      yesOf[s] = yes.id;
      noOf[s] = no.id;
      next.push(yes.id, no.id);
    }
    for (let i = 0; i < n; i++) {
      const s = slotOf[nodeOf[i] as number] as number;
      if (s < 0) continue;
      const split = splitOf[s];
      if (!split) continue;
      nodeOf[i] = splitHolds(split, (cols[split.feature] as Float64Array)[i] as number) ? (yesOf[s] as number) : (noOf[s] as number);
    }
    frontier = next;
  }
  return { specs: m.specs.map((s) => ({ ...s })), nodes, sample: { n, pos: totalPos }, options: opts };
}

/**
 * The same tree with every subtree whose leaves all take the same decision (training positive
 * rate ≥ `threshold` or not) folded into one leaf, renumbered in preorder: the rule it becomes has
 * no condition whose both handles lead to the same outcome. Predictions do not change.
 */
export function foldTree(tree: Tree, threshold: number): Tree {
  const decisions = (id: number): Set<boolean> => {
    const nd = tree.nodes[id] as TreeNode;
    if (!nd.split) return new Set([rateOf(nd) >= threshold]);
    return new Set([...decisions(nd.yes as number), ...decisions(nd.no as number)]);
  };
  const out: TreeNode[] = [];
  const copy = (id: number): number => {
    const nd = tree.nodes[id] as TreeNode;
    const me: TreeNode = { id: out.length, depth: nd.depth, n: nd.n, pos: nd.pos };
    out.push(me);
    if (nd.split && decisions(id).size > 1) {
      me.split = nd.split;
      me.yes = copy(nd.yes as number);
      me.no = copy(nd.no as number);
    }
    return me.id;
  };
  copy(0);
  return { ...tree, nodes: out };
}
