/**
 * The plan evaluator (the webhook hot path): compiles a rule's plan — its tests and each action's
 * reach (`compile.ts`) — into one function that returns the fired action ids, walking all the
 * actions as one decision tree built at compile time. Operations run their fast paths from
 * `operators.ts`, with known fields read through dedicated functions; whatever has none goes
 * through the closure evaluator (`evaluate-closure.ts`).
 */
import type { CompiledRule, CompiledTest, Formula } from './compile';
import { compileLogic } from './evaluate-closure';
import { finite, hasLogic, isLogic, isolateCache, operandsOf, truthy, type Evaluator } from './evaluate-common';
import { LOGIC_OPERATIONS } from './operators';
import type { EvalData, JsonLogic } from './types';

/**
 * A compiled rule's plan as one function: the action node ids that fire for a contact, in node
 * order. The array may be shared (the same one for every contact that fires the same single
 * action, one empty array for none): read it, copy it to change it.
 */
export type RuleEvaluator = (data: EvalData) => readonly string[];

// ---------------------------------------------------------------------------------------------
// The plan compiler (webhook hot path). Every closure of one kind is the same code for every
// rule, so a property read by a computed key (`o[k]`) there sees every rule's keys and goes
// megamorphic. Hence: one reader function per known field (a fixed property name per read
// site), tests compiled straight to boolean predicates (no JSON Logic value, no `truthy`),
// `and`/`or` of two or three parts unrolled, cheap tests first, the actions' reaches walked
// as one decision tree (each literal tested at most once per contact, no memo), no allocation per
// contact. A test is its operation's fast path from `operators.ts` (literal operands bound at
// compile time), fed by these readers; the conformance suite and the differential fuzz test
// hold the result to json-logic-js on `rule.logic`, action by action.
// ---------------------------------------------------------------------------------------------

/** A compiled test: contact in, yes or no. */
type Predicate = (d: EvalData) => boolean;

/**
 * `{var: 'contact.<key>'}` for the typed columns, as json-logic-js reads it (a missing contact
 * or property gives the fallback null). One function per column so each read site sees one name.
 */
const CONTACT_READERS: Record<string, Evaluator> = {
  kind: (d) => {
    const o = d.contact;
    const v = o == null ? undefined : o.kind;
    return v === undefined ? null : v;
  },
  name: (d) => {
    const o = d.contact;
    const v = o == null ? undefined : o.name;
    return v === undefined ? null : v;
  },
  remark: (d) => {
    const o = d.contact;
    const v = o == null ? undefined : o.remark;
    return v === undefined ? null : v;
  },
  gender: (d) => {
    const o = d.contact;
    const v = o == null ? undefined : o.gender;
    return v === undefined ? null : v;
  },
  region: (d) => {
    const o = d.contact;
    const v = o == null ? undefined : o.region;
    return v === undefined ? null : v;
  },
  city: (d) => {
    const o = d.contact;
    const v = o == null ? undefined : o.city;
    return v === undefined ? null : v;
  },
  occupation: (d) => {
    const o = d.contact;
    const v = o == null ? undefined : o.occupation;
    return v === undefined ? null : v;
  },
  company: (d) => {
    const o = d.contact;
    const v = o == null ? undefined : o.company;
    return v === undefined ? null : v;
  },
  device: (d) => {
    const o = d.contact;
    const v = o == null ? undefined : o.device;
    return v === undefined ? null : v;
  },
  sourceChannel: (d) => {
    const o = d.contact;
    const v = o == null ? undefined : o.sourceChannel;
    return v === undefined ? null : v;
  },
  departmentId: (d) => {
    const o = d.contact;
    const v = o == null ? undefined : o.departmentId;
    return v === undefined ? null : v;
  },
  ownerUserId: (d) => {
    const o = d.contact;
    const v = o == null ? undefined : o.ownerUserId;
    return v === undefined ? null : v;
  },
  createdAt: (d) => {
    const o = d.contact;
    const v = o == null ? undefined : o.createdAt;
    return v === undefined ? null : v;
  },
  lastActiveAt: (d) => {
    const o = d.contact;
    const v = o == null ? undefined : o.lastActiveAt;
    return v === undefined ? null : v;
  },
  lastPurchaseAt: (d) => {
    const o = d.contact;
    const v = o == null ? undefined : o.lastPurchaseAt;
    return v === undefined ? null : v;
  },
  messageCount: (d) => {
    const o = d.contact;
    const v = o == null ? undefined : o.messageCount;
    return v === undefined ? null : v;
  },
  purchaseCount: (d) => {
    const o = d.contact;
    const v = o == null ? undefined : o.purchaseCount;
    return v === undefined ? null : v;
  },
  totalSpend: (d) => {
    const o = d.contact;
    const v = o == null ? undefined : o.totalSpend;
    return v === undefined ? null : v;
  },
  inviteCount: (d) => {
    const o = d.contact;
    const v = o == null ? undefined : o.inviteCount;
    return v === undefined ? null : v;
  },
  violationCount: (d) => {
    const o = d.contact;
    const v = o == null ? undefined : o.violationCount;
    return v === undefined ? null : v;
  },
  bucket: (d) => {
    const o = d.contact;
    const v = o == null ? undefined : o.bucket;
    return v === undefined ? null : v;
  },
};
/** `{var: 'event.<prop>'}` for the triggering event's properties. */
const EVENT_READERS: Record<string, Evaluator> = {
  type: (d) => {
    const o = d.event;
    const v = o == null ? undefined : o.type;
    return v === undefined ? null : v;
  },
  text: (d) => {
    const o = d.event;
    const v = o == null ? undefined : o.text;
    return v === undefined ? null : v;
  },
  channel: (d) => {
    const o = d.event;
    const v = o == null ? undefined : o.channel;
    return v === undefined ? null : v;
  },
  amount: (d) => {
    const o = d.event;
    const v = o == null ? undefined : o.amount;
    return v === undefined ? null : v;
  },
};

/** The value of an operand: a dedicated reader for a known field, an operation's fast path, else the closure compiler. */
function compileValue(logic: JsonLogic): Evaluator {
  if (!isLogic(logic)) return compileLogic(logic);
  const op = Object.keys(logic)[0] as string;
  const raw = logic[op] as JsonLogic;
  const args: JsonLogic[] = Array.isArray(raw) ? raw : [raw];
  if (op === 'var') {
    const fallback = args[1] ?? null;
    if (fallback === null && typeof args[0] === 'string') {
      const dot = args[0].indexOf('.');
      const head = args[0].slice(0, dot);
      const key = args[0].slice(dot + 1);
      const table = head === 'contact' ? CONTACT_READERS : head === 'event' ? EVENT_READERS : null;
      if (dot > 0 && table && Object.hasOwn(table, key)) return table[key] as Evaluator;
    }
    return compileLogic(logic);
  }
  const fast = LOGIC_OPERATIONS[op]?.fast;
  return (fast && fast(operandsOf(args, compileValue))) ?? compileLogic(logic);
}

/** A test's JSON Logic as a predicate: `truthy(compileLogic(logic)(d))`, without the detours. */
export function compilePredicate(logic: JsonLogic): Predicate {
  if (!isLogic(logic)) {
    // A literal is constant; a list holding logic evaluates to a list as long, never empty.
    const v = hasLogic(logic) || truthy(logic);
    return v ? () => true : () => false;
  }
  const op = Object.keys(logic)[0] as string;
  const raw = logic[op] as JsonLogic;
  const args: JsonLogic[] = Array.isArray(raw) ? raw : [raw];
  switch (op) {
    case 'and':
    case 'or': {
      if (args.length === 0) return () => false; // json-logic-js: `and`/`or` of nothing is undefined
      const ps = args.map(compilePredicate);
      return op === 'and' ? allOf(ps) : anyOf(ps);
    }
    case '!': {
      const p = compilePredicate(args[0] ?? null);
      return (d) => !p(d);
    }
    case '!!':
      return compilePredicate(args[0] ?? null);
    default:
      break;
  }
  // A test's fast path gives booleans: it is the predicate.
  const operation = LOGIC_OPERATIONS[op];
  if (operation?.fast && !operation.givesValue) {
    const fast = operation.fast(operandsOf(args, compileValue));
    if (fast) return fast as Predicate;
  }
  const f = compileLogic(logic);
  return (d) => truthy(f(d));
}

function allOf(ps: Predicate[]): Predicate {
  if (ps.length === 1) return ps[0] as Predicate;
  if (ps.length === 2) {
    const [a, b] = ps as [Predicate, Predicate];
    return (d) => a(d) && b(d);
  }
  if (ps.length === 3) {
    const [a, b, c] = ps as [Predicate, Predicate, Predicate];
    return (d) => a(d) && b(d) && c(d);
  }
  return (d) => {
    for (let i = 0; i < ps.length; i++) if (!(ps[i] as Predicate)(d)) return false;
    return true;
  };
}
/** `∧ (negs[i] ? ¬ps[i] : ps[i])`. */
function allOfSigned(ps: Predicate[], negs: boolean[]): Predicate {
  if (ps.length === 1) {
    const [a] = ps as [Predicate];
    return negs[0] ? (d) => !a(d) : a;
  }
  if (ps.length === 2) {
    const [a, b] = ps as [Predicate, Predicate];
    if (negs[0] && negs[1]) return (d) => !a(d) && !b(d);
    if (negs[0]) return (d) => !a(d) && b(d);
    if (negs[1]) return (d) => a(d) && !b(d);
    return (d) => a(d) && b(d);
  }
  const n = ps.length;
  return (d) => {
    for (let i = 0; i < n; i++) if ((ps[i] as Predicate)(d) === negs[i]) return false;
    return true;
  };
}
function anyOf(ps: Predicate[]): Predicate {
  if (ps.length === 1) return ps[0] as Predicate;
  if (ps.length === 2) {
    const [a, b] = ps as [Predicate, Predicate];
    return (d) => a(d) || b(d);
  }
  if (ps.length === 3) {
    const [a, b, c] = ps as [Predicate, Predicate, Predicate];
    return (d) => a(d) || b(d) || c(d);
  }
  return (d) => {
    for (let i = 0; i < ps.length; i++) if ((ps[i] as Predicate)(d)) return true;
    return false;
  };
}

/**
 * A coarse cost of evaluating logic once, to run expensive tests last in `and`/`or`: the sum of
 * its operations' `cost` in `operators.ts`. Loads and compares cost 0, so cheap tests keep the
 * graph's order — an event trigger's type check, the most selective test of an event rule,
 * stays first.
 */
function costOf(logic: JsonLogic): number {
  if (Array.isArray(logic)) {
    let n = 0;
    for (const x of logic) n += costOf(x);
    return n;
  }
  if (!isLogic(logic)) return 0;
  const op = Object.keys(logic)[0] as string;
  const raw = logic[op] as JsonLogic;
  const cost = Object.hasOwn(LOGIC_OPERATIONS, op) ? LOGIC_OPERATIONS[op]?.cost : undefined;
  const own = typeof cost === 'function' ? cost(raw) : (cost ?? 0);
  return own + costOf(raw);
}

/**
 * Compiles a rule's plan (tests + reach formulas) rather than its inlined JSON Logic: each test
 * runs at most once per evaluation however many actions' paths share it, where the inlined
 * logic repeats a shared ancestor once per action. Same operations, same results — the
 * conformance suite and the fuzz test hold it to json-logic-js on `rule.logic`.
 *
 * Usually a decision tree over the actions' literals (see `PlanBuilder.decisionTree`); a rule
 * with many independent actions falls back to testing each action's reach in turn, with a
 * memo keyed by a generation number bumped at the start of every call (evaluation is
 * synchronous, so sharing it between calls is safe). The returned array may be shared between
 * calls (`readonly`): copy it to change it.
 */
export function compileRulePlan(rule: Pick<CompiledRule, 'tests' | 'reach' | 'actions'>, opts: PlanOptions = {}): RuleEvaluator {
  return new PlanBuilder(rule, opts.maxDecisions ?? TREE_LIMIT).evaluator();
}

/** How a plan is compiled. */
export interface PlanOptions {
  /** Decisions a rule's tree may take before the action loop is used instead (tests set 0 to run the loop). */
  maxDecisions?: number;
}

const NO_ACTIONS: readonly string[] = Object.freeze([]);

const ALWAYS: Predicate = () => true;
const NEVER: Predicate = () => false;
const UNREACHED: Formula = { t: 'not', of: { t: 'true' } };

/** One conjunct of an action's reach as the decision tree tests it. */
type Literal =
  /** A test (or another formula, keyed by its text) holds (`pos`) or not. */
  | { kind: 'atom'; key: string; pos: boolean; formula: Formula; cost: number }
  /** A score's value is in [min, max) (`pos`) or not. */
  | { kind: 'band'; test: number; min: number; max: number | null; pos: boolean; cost: number };
/** An action still in play and its literals not yet decided (none left: it fires). */
interface Pending {
  action: number;
  lits: Literal[];
}
type TreeNode =
  | { t: 'leaf'; ids: readonly string[] }
  | { t: 'test'; formula: Formula; yes: TreeNode; no: TreeNode }
  /** `kids[k]` for a score in [cuts[k − 1], cuts[k]), `nan` for a score that is not a finite number. */
  | { t: 'bands'; test: number; cuts: number[]; kids: TreeNode[]; nan: TreeNode };

/** Decisions in one rule's tree before it falls back to the action loop. */
const TREE_LIMIT = 64;

/**
 * The actions still in play once some literals are known: `value(l)` is true (struck from the
 * action), false (the action is dropped) or undefined (still to test).
 */
function settle(pending: Pending[], value: (l: Literal) => boolean | undefined): Pending[] {
  const out: Pending[] = [];
  for (const p of pending) {
    const lits: Literal[] = [];
    let alive = true;
    for (const l of p.lits) {
      const v = value(l);
      if (v === undefined) lits.push(l);
      else if (!v) {
        alive = false;
        break;
      }
    }
    if (alive) out.push({ action: p.action, lits });
  }
  return out;
}

/** "If `ps[i](d) === wants[i]`, `outs[i]`" for each i in turn, else `last`. */
function decisionList(
  ps: Predicate[],
  wants: boolean[],
  outs: (readonly string[])[],
  last: RuleEvaluator | readonly string[],
): RuleEvaluator {
  const n = ps.length;
  const [p, q, r] = ps as [Predicate, Predicate, Predicate];
  const [wp, wq, wr] = wants as [boolean, boolean, boolean];
  const [op, oq, or] = outs as [readonly string[], readonly string[], readonly string[]];
  if (typeof last === 'function') {
    if (n === 1) return (d) => (p(d) === wp ? op : last(d));
    if (n === 2) return (d) => (p(d) === wp ? op : q(d) === wq ? oq : last(d));
    if (n === 3) return (d) => (p(d) === wp ? op : q(d) === wq ? oq : r(d) === wr ? or : last(d));
    return (d) => {
      for (let i = 0; i < n; i++) if ((ps[i] as Predicate)(d) === wants[i]) return outs[i] as readonly string[];
      return last(d);
    };
  }
  if (n === 1) return (d) => (p(d) === wp ? op : last);
  if (n === 2) return (d) => (p(d) === wp ? op : q(d) === wq ? oq : last);
  if (n === 3) return (d) => (p(d) === wp ? op : q(d) === wq ? oq : r(d) === wr ? or : last);
  return (d) => {
    for (let i = 0; i < n; i++) if ((ps[i] as Predicate)(d) === wants[i]) return outs[i] as readonly string[];
    return last;
  };
}

/** A score cut at `cuts` (ascending): the branch of the interval it falls in. */
function bandCut(
  score: Evaluator,
  cuts: number[],
  kids: (RuleEvaluator | readonly string[])[],
  nan: RuleEvaluator | readonly string[],
): RuleEvaluator {
  const m = cuts.length;
  if (typeof nan !== 'function' && kids.every((k) => typeof k !== 'function')) {
    const leaves = kids as (readonly string[])[];
    return (d) => {
      const s = score(d);
      if (!finite(s)) return nan;
      let k = 0;
      while (k < m && s >= (cuts[k] as number)) k++;
      return leaves[k] as readonly string[];
    };
  }
  const fns = kids.map((k): RuleEvaluator => (typeof k === 'function' ? k : () => k));
  const nanFn: RuleEvaluator = typeof nan === 'function' ? nan : () => nan;
  return (d) => {
    const s = score(d);
    if (!finite(s)) return nanFn(d);
    let k = 0;
    while (k < m && s >= (cuts[k] as number)) k++;
    return (fns[k] as RuleEvaluator)(d);
  };
}

/**
 * Builds one rule's evaluator. A class rather than helper closures: compiling runs once per
 * rule on a cold isolate (the cold column of bench/evaluators.ts), so it allocates little.
 */
class PlanBuilder {
  private readonly index = new Map<string, number>();
  private readonly cost: number[] = [];
  private readonly uses: number[] = [];
  private readonly preds: Predicate[] = [];
  private readonly values: Evaluator[] = [];
  private readonly built = new Map<Formula, Predicate>();
  private readonly costs = new Map<Formula, number>();
  /**
   * The memo. `gen` goes up by 2 per evaluation; a predicate's slot holds `gen` (false) or
   * `gen + 1` (true) once computed in this evaluation, anything lower is stale. A score's slot
   * holds its value with the generation in `stamp`.
   */
  private readonly memo = { gen: 2, bools: [] as number[], stamp: [] as number[], nums: [] as number[] };
  private memoised = false;

  constructor(
    private readonly rule: Pick<CompiledRule, 'tests' | 'reach' | 'actions'>,
    private readonly maxDecisions: number,
  ) {
    const tests = rule.tests;
    for (let i = 0; i < tests.length; i++) {
      const t = tests[i] as CompiledTest;
      this.index.set(t.id, i);
      this.cost.push(costOf(t.logic));
      this.uses.push(0);
      this.memo.bools.push(0);
      this.memo.stamp.push(0);
      this.memo.nums.push(0);
      this.compileTest(i, t);
    }
  }

  /** Conjuncts every action's reach shares, tested once before any action (null: none). */
  private common: Formula | null = null;
  /** Each action's reach without the common conjuncts. */
  private residual: Formula[] = [];
  /** Per action, the later actions that cannot fire when it does (bit k = action k). */
  private exclusive: number[] = [];

  /**
   * Splits the actions' reaches into shared conjuncts and the rest, as a hand-written rule
   * would: `T ∧ k ∧ own ∧ band1`, `T ∧ k ∧ own ∧ band2` test `T ∧ k ∧ own` once. And marks
   * actions that exclude each other — one reach has a test the other negates, or bands of one
   * score that do not overlap (a branch's cases, a score's bands) — so once one fires the
   * others are not evaluated. Purely an evaluation order: the result is the same formulas'.
   */
  private factor(): void {
    const reaches = this.rule.actions.map((a) => this.reachOf(a.nodeId));
    const conjuncts = reaches.map((f) => (f.t === 'and' ? f.of : f.t === 'true' ? [] : [f]));
    const keyOf = new Map<Formula, string>();
    const key = (f: Formula) => {
      let k = keyOf.get(f);
      if (k === undefined) {
        k = f.t === 'test' ? `t:${f.id}` : f.t === 'not' && f.of.t === 'test' ? `!:${f.of.id}` : JSON.stringify(f);
        keyOf.set(f, k);
      }
      return k;
    };
    const keys = conjuncts.map((cs) => new Set(cs.map(key)));
    const shared = reaches.length > 1 ? [...(keys[0] ?? [])].filter((k) => keys.every((set) => set.has(k))) : [];
    if (shared.length > 0) {
      const isShared = new Set(shared);
      const first = conjuncts[0] ?? [];
      this.common = { t: 'and', of: first.filter((f) => isShared.has(key(f))) };
      this.residual = conjuncts.map((cs) => {
        const rest = cs.filter((f) => !isShared.has(key(f)));
        return rest.length === 0 ? { t: 'true' } : rest.length === 1 ? (rest[0] as Formula) : { t: 'and', of: rest };
      });
    } else {
      this.residual = reaches;
    }
    // Literals of each residual: +id / -id for a test and its negation, bands by score.
    const lits = this.residual.map((f) => (f.t === 'and' ? f.of : [f]));
    const n = lits.length;
    this.exclusive = new Array<number>(n).fill(0);
    if (n < 2 || n > 30) return;
    const excludes = (a: Formula, b: Formula): boolean => {
      if (a.t === 'test' && b.t === 'not' && b.of.t === 'test') return a.id === b.of.id;
      if (b.t === 'test' && a.t === 'not' && a.of.t === 'test') return b.id === a.of.id;
      if (a.t === 'band' && b.t === 'band' && a.id === b.id) {
        // [min, max) ranges, max null = unbounded: disjoint when one ends before the other starts
        return (a.max !== null && a.max <= b.min) || (b.max !== null && b.max <= a.min);
      }
      return false;
    };
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        if ((lits[i] ?? []).some((x) => (lits[j] ?? []).some((y) => excludes(x, y))))
          this.exclusive[i] = (this.exclusive[i] as number) | (1 << j);
      }
    }
  }

  private reachOf(id: string): Formula {
    return this.rule.reach[id] ?? UNREACHED;
  }

  private countUses(f: Formula): void {
    if (f.t === 'test' || f.t === 'band') {
      const i = this.index.get(f.id);
      if (i !== undefined) this.uses[i] = (this.uses[i] as number) + 1;
    } else if (f.t === 'and' || f.t === 'or') for (const x of f.of) this.countUses(x);
    else if (f.t === 'not') this.countUses(f.of);
  }

  /** The test's predicate (and a score's value), without a memo: the decision tree needs none. */
  private compileTest(i: number, t: CompiledTest): void {
    if (t.kind === 'number') {
      const f = compileValue(t.logic);
      this.values[i] = f;
      this.preds[i] = (d) => truthy(f(d));
      return;
    }
    this.preds[i] = compilePredicate(t.logic);
  }

  /**
   * For the action loop: a test several formulas read gets a memo (a test read once needs
   * none). Counted across the formulas as they run, a shared sub-formula once per use.
   */
  private memoiseShared(): void {
    if (this.common) this.countUses(this.common);
    for (const f of this.residual) this.countUses(f);
    const m = this.memo;
    for (let i = 0; i < this.preds.length; i++) {
      if ((this.uses[i] as number) <= 1) continue;
      this.memoised = true;
      const f = this.values[i];
      if (f) {
        const { stamp, nums } = m;
        // A score is a number (NaN included); from stored logic we do not know, it could be
        // anything: only numbers are memoised.
        this.values[i] = (d) => {
          if (stamp[i] === m.gen) return nums[i];
          const v = f(d);
          if (typeof v === 'number') {
            nums[i] = v;
            stamp[i] = m.gen;
          }
          return v;
        };
        continue;
      }
      const p = this.preds[i] as Predicate;
      const bools = m.bools;
      this.preds[i] = (d) => {
        const g = m.gen;
        const s = bools[i] as number;
        if (s >= g) return s > g;
        const v = p(d);
        bools[i] = v ? g + 1 : g;
        return v;
      };
    }
  }

  private formulaCost(f: Formula): number {
    let c = this.costs.get(f);
    if (c !== undefined) return c;
    switch (f.t) {
      case 'true':
        c = 0;
        break;
      case 'test':
      case 'band':
        c = this.cost[this.index.get(f.id) ?? -1] ?? 0;
        break;
      case 'and':
      case 'or':
        c = 0;
        for (const x of f.of) c += this.formulaCost(x);
        break;
      case 'not':
        c = this.formulaCost(f.of);
        break;
    }
    this.costs.set(f, c);
    return c;
  }

  private build(f: Formula): Predicate {
    const known = this.built.get(f);
    if (known) return known;
    let fn: Predicate;
    switch (f.t) {
      case 'true':
        fn = ALWAYS;
        break;
      case 'test': {
        const i = this.index.get(f.id);
        fn = i === undefined ? NEVER : (this.preds[i] as Predicate);
        break;
      }
      case 'band': {
        const i = this.index.get(f.id);
        const score = i === undefined ? undefined : (this.values[i] ?? compileValue(this.rule.tests[i]?.logic ?? null));
        fn = (score && (LOGIC_OPERATIONS.sf_band?.fast?.([score, f.min, f.max ?? null]) as Predicate | null)) ?? NEVER;
        break;
      }
      case 'and':
      case 'or': {
        // Cheapest first; a stable sort keeps the graph's order among equals.
        const order = f.of.slice();
        let sorted = true;
        for (let k = 1; k < order.length && sorted; k++)
          sorted = this.formulaCost(order[k - 1] as Formula) <= this.formulaCost(order[k] as Formula);
        if (!sorted) order.sort((a, b) => this.formulaCost(a) - this.formulaCost(b));
        if (f.t === 'and') {
          // A negated part is tested inside the conjunction, not through a `not` closure.
          const negs = order.map((x) => x.t === 'not');
          fn = negs.some(Boolean)
            ? allOfSigned(
                order.map((x) => this.build(x.t === 'not' ? x.of : x)),
                negs,
              )
            : allOf(order.map((x) => this.build(x)));
        } else fn = anyOf(order.map((x) => this.build(x)));
        break;
      }
      case 'not': {
        const inner = this.build(f.of);
        fn = (d) => !inner(d);
        break;
      }
    }
    this.built.set(f, fn);
    return fn;
  }

  evaluator(): RuleEvaluator {
    return this.decisionTree() ?? this.actionLoop();
  }

  // -------------------------------------------------------------------------------------------
  // The decision tree: what a hand-written rule does. Each action's reach is a conjunction of
  // literals (a test or its negation, a score in a band or not, or, rarely, any other formula
  // as a whole); the tree tests one literal, drops the actions it refutes and strikes it from
  // the rest, and so on until every action still in play has nothing left to test: a leaf, the
  // fired actions as one array built at compile time. So each test runs at most once on any
  // path (no memo), a branch or a set of bands costs one test per level rather than one per
  // action, and nothing is allocated per contact. A score is computed once and cut at its
  // bands' bounds. Graphs whose tree would grow large (many independent actions) use the
  // action loop below instead.
  // -------------------------------------------------------------------------------------------

  private ids(): string[] {
    return this.rule.actions.map((a) => a.nodeId);
  }

  private decisionTree(): RuleEvaluator | null {
    const pending: Pending[] = [];
    this.rule.actions.forEach((a, i) => {
      const lits: Literal[] = [];
      if (this.literals(this.reachOf(a.nodeId), true, lits)) pending.push({ action: i, lits });
    });
    const root = this.grow(pending, this.ids(), new Map(), { n: 0 });
    if (!root) return null;
    const fn = this.emit(root);
    return typeof fn === 'function' ? fn : () => fn;
  }

  /** The literals of `f` (of `¬f` when `!pos`) into `out`; false when they can never all hold. */
  private literals(f: Formula, pos: boolean, out: Literal[]): boolean {
    switch (f.t) {
      case 'true':
        return pos;
      case 'not':
        return this.literals(f.of, !pos, out);
      case 'and':
      case 'or':
        // A conjunction, or the negation of a disjunction: its parts are literals of their own.
        if (pos !== (f.t === 'and')) break;
        for (const x of f.of) if (!this.literals(x, pos, out)) return false;
        return true;
      case 'test': {
        const i = this.index.get(f.id);
        if (i === undefined) return !pos; // an unknown test never holds
        out.push({ kind: 'atom', key: `t:${f.id}`, pos, formula: f, cost: this.cost[i] as number });
        return true;
      }
      case 'band': {
        const i = this.index.get(f.id);
        const { min } = f;
        const max = f.max ?? null;
        if (i === undefined || !finite(min) || (max !== null && !finite(max))) return !pos; // sf_band never holds
        out.push({ kind: 'band', test: i, min, max, pos, cost: this.cost[i] as number });
        return true;
      }
    }
    out.push({ kind: 'atom', key: `f:${JSON.stringify(f)}`, pos, formula: f, cost: this.formulaCost(f) });
    return true;
  }

  /**
   * The tree for the actions still in play, or null past `maxDecisions` decisions. The literal
   * tested next is the cheapest of the first undecided action's (actions in node order, as a
   * hand-written rule tests them; ties keep the graph's order).
   */
  private grow(pending: Pending[], ids: string[], leaves: Map<string, TreeNode>, size: { n: number }): TreeNode | null {
    let lit: Literal | undefined;
    for (const p of pending) {
      if (p.lits.length === 0) continue;
      for (const l of p.lits) if (!lit || l.cost < lit.cost) lit = l;
      break;
    }
    if (!lit) {
      const key = pending.map((p) => p.action).join();
      let leaf = leaves.get(key);
      if (!leaf) {
        leaf = { t: 'leaf', ids: pending.length === 0 ? NO_ACTIONS : pending.map((p) => ids[p.action] as string) };
        leaves.set(key, leaf);
      }
      return leaf;
    }
    if (++size.n > this.maxDecisions) return null;
    if (lit.kind === 'atom') {
      const key = lit.key;
      const on = (held: boolean) => settle(pending, (l) => (l.kind === 'atom' && l.key === key ? l.pos === held : undefined));
      const yes = this.grow(on(true), ids, leaves, size);
      const no = yes && this.grow(on(false), ids, leaves, size);
      return no && { t: 'test', formula: lit.formula, yes: yes as TreeNode, no };
    }
    // A score: cut the number line at every bound of its bands in play; within one interval
    // each band holds throughout or not at all. A score that is not a finite number is in none.
    const test = lit.test;
    const cuts = new Set<number>();
    for (const p of pending) {
      for (const l of p.lits) {
        if (l.kind !== 'band' || l.test !== test) continue;
        cuts.add(l.min);
        if (l.max !== null) cuts.add(l.max);
      }
    }
    const sorted = [...cuts].sort((a, b) => a - b);
    const kids: TreeNode[] = [];
    for (let k = 0; k <= sorted.length; k++) {
      // s in [lo, hi): s >= min iff lo >= min, s < max iff hi <= max (both are cuts).
      const lo = k === 0 ? -Infinity : (sorted[k - 1] as number);
      const hi = k === sorted.length ? Infinity : (sorted[k] as number);
      const kid = this.grow(
        settle(pending, (l) =>
          l.kind === 'band' && l.test === test ? (lo >= l.min && (l.max === null || hi <= l.max)) === l.pos : undefined,
        ),
        ids,
        leaves,
        size,
      );
      if (!kid) return null;
      kids.push(kid);
    }
    const nan = this.grow(
      settle(pending, (l) => (l.kind === 'band' && l.test === test ? !l.pos : undefined)),
      ids,
      leaves,
      size,
    );
    return nan && { t: 'bands', test, cuts: sorted, kids, nan };
  }

  /**
   * Closures for a tree. A run of tests each with a leaf on one side becomes one decision
   * list ("if this test says so, these actions; else the next"), so a branch's cases, an `and`
   * of conditions or an `or` feeding one action cost one closure, not one per level.
   */
  private emit(node: TreeNode): RuleEvaluator | readonly string[] {
    if (node.t === 'leaf') return node.ids;
    if (node.t === 'bands') {
      const i = node.test;
      const score = this.values[i] ?? compileValue(this.rule.tests[i]?.logic ?? null);
      return bandCut(
        score,
        node.cuts,
        node.kids.map((k) => this.emit(k)),
        this.emit(node.nan),
      );
    }
    const ps: Predicate[] = [];
    const wants: boolean[] = [];
    const outs: (readonly string[])[] = [];
    let cur: TreeNode = node;
    while (cur.t === 'test') {
      if (cur.no.t === 'leaf') {
        this.entries(cur.formula, false, cur.no.ids, ps, wants, outs);
        cur = cur.yes;
      } else if (cur.yes.t === 'leaf') {
        this.entries(cur.formula, true, cur.yes.ids, ps, wants, outs);
        cur = cur.no;
      } else break;
    }
    if (cur === node) {
      // Actions on both sides: a plain fork.
      const t = node as Extract<TreeNode, { t: 'test' }>;
      const p = this.build(t.formula);
      const yes = this.emit(t.yes) as RuleEvaluator;
      const no = this.emit(t.no) as RuleEvaluator;
      return (d) => (p(d) ? yes(d) : no(d));
    }
    return decisionList(ps, wants, outs, this.emit(cur));
  }

  /**
   * "If `f` is `want`, `out`" as list entries: an `or` that must hold (an `and` that must
   * fail) becomes one entry per part, cheapest first, instead of one closure around them.
   */
  private entries(f: Formula, want: boolean, out: readonly string[], ps: Predicate[], wants: boolean[], outs: (readonly string[])[]): void {
    if (f.t === 'not') {
      this.entries(f.of, !want, out, ps, wants, outs);
      return;
    }
    if ((f.t === 'or' && want) || (f.t === 'and' && !want)) {
      const order = f.of.slice().sort((a, b) => this.formulaCost(a) - this.formulaCost(b));
      for (const x of order) this.entries(x, want, out, ps, wants, outs);
      return;
    }
    ps.push(this.build(f));
    wants.push(want);
    outs.push(out);
  }

  // -------------------------------------------------------------------------------------------
  // The action loop, for rules whose tree would be too large: each action's reach in turn,
  // the conjuncts all actions share first, with a memo for tests several formulas read.
  // -------------------------------------------------------------------------------------------

  private actionLoop(): RuleEvaluator {
    this.factor();
    this.memoiseShared();
    this.built.clear();
    const actions = this.rule.actions;
    const n = actions.length;
    const ids = this.ids();
    const reached: Predicate[] = [];
    const single: (readonly string[])[] = [];
    actions.forEach((a, i) => {
      reached.push(this.build(this.residual[i] ?? UNREACHED));
      single.push([a.nodeId]);
    });
    const common = this.common ? this.build(this.common) : ALWAYS;
    const m = this.memo;
    const memoised = this.memoised;
    // 2^53 / 2 evaluations before `gen` loses precision: centuries at any rate this runs.
    if (n === 1) {
      const r = reached[0] as Predicate;
      const one = single[0] as readonly string[];
      if (!memoised) return (d) => (r(d) ? one : NO_ACTIONS);
      return (d) => {
        m.gen += 2;
        return r(d) ? one : NO_ACTIONS;
      };
    }
    const exclusive = this.exclusive;
    if (n <= 30) {
      // The fired set as a bit mask, its array built once per distinct set.
      const byMask = new Map<number, readonly string[]>();
      return (d) => {
        if (memoised) m.gen += 2;
        if (!common(d)) return NO_ACTIONS;
        let mask = 0;
        let skip = 0;
        let first = -1;
        for (let i = 0; i < n; i++) {
          if ((skip & (1 << i)) !== 0 || !(reached[i] as Predicate)(d)) continue;
          skip |= exclusive[i] as number;
          if (first < 0) first = i;
          mask |= 1 << i;
        }
        if (first < 0) return NO_ACTIONS;
        if (mask === 1 << first) return single[first] as readonly string[];
        let out = byMask.get(mask);
        if (out === undefined) {
          out = ids.filter((_id, i) => (mask & (1 << i)) !== 0);
          if (byMask.size < 1024) byMask.set(mask, out);
        }
        return out;
      };
    }
    return (d) => {
      if (memoised) m.gen += 2;
      if (!common(d)) return NO_ACTIONS;
      let out: string[] | null = null;
      for (let i = 0; i < n; i++) if ((reached[i] as Predicate)(d)) (out ??= []).push(ids[i] as string);
      return out ?? NO_ACTIONS;
    };
  }
}

/**
 * The plan evaluator for a rule version, compiled on first use and kept at isolate scope (the
 * webhook hot path). The key must change whenever the rule does (e.g. `rule:12@v3`).
 */
export const ruleEvaluatorFor: (key: string, rule: Pick<CompiledRule, 'tests' | 'reach' | 'actions'>) => RuleEvaluator = isolateCache(
  (rule: Pick<CompiledRule, 'tests' | 'reach' | 'actions'>) => compileRulePlan(rule),
);
