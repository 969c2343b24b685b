/**
 * The fast evaluator: compiles JSON Logic once into nested closures (no `eval`, no
 * `new Function`: Workers forbid both) and caches them per rule-version key at isolate scope,
 * so the webhook hot path only runs closures. It supports exactly what `compile.ts` emits —
 * var, and, or, !, !!, if, merge and the `sf_*` operations — and refuses anything else when
 * compiling, not when evaluating.
 */
import type { CompiledRule, Formula } from './compile';
import { UnsupportedLogicError } from './errors';
import { DEFAULT_TZ_OFFSET_MINUTES, lastDaysWindow } from './days';
import { LOGIC_OPERATIONS } from './operators';
import type { DailyStatRow, EvalData, EventRow, JsonLogic } from './types';

/** A compiled rule: data in, JSON Logic result out. */
export type Evaluator = (data: EvalData) => unknown;

/** json-logic-js truthiness: `[]` is false, everything else as in JS. */
export function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  return !!v;
}

const isLogic = (v: unknown): v is Record<string, JsonLogic> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 1;
const hasLogic = (v: JsonLogic): boolean => (Array.isArray(v) ? v.some(hasLogic) : isLogic(v));

function compileVar(args: JsonLogic[]): Evaluator {
  const path = args[0];
  const fallback = args[1] ?? null;
  if (typeof path !== 'string' && typeof path !== 'number') throw new UnsupportedLogicError('var needs a literal path');
  const keys = String(path) === '' ? [] : String(path).split('.');
  if (keys.length === 2) {
    // The common shape (`contact.totalSpend`, `event.text`), without the loop.
    const [k1, k2] = keys as [string, string];
    return (d) => {
      const o = (d as unknown as Record<string, unknown>)[k1];
      if (o === null || o === undefined) return fallback;
      const v = (o as Record<string, unknown>)[k2];
      return v === undefined ? fallback : v;
    };
  }
  return (d) => {
    let cur: unknown = d;
    // As json-logic-js: a missing step gives the fallback, a stored null stays null.
    for (const k of keys) {
      if (cur === null || cur === undefined) return fallback;
      cur = (cur as Record<string, unknown>)[k];
      if (cur === undefined) return fallback;
    }
    return cur;
  };
}

// ---------------------------------------------------------------------------------------------
// Specialised closures. For the operand shapes the compiler emits (a value read, then literal
// operands) the common operations get a closure with the literal pre-checked and pre-built (a
// Set for lists, the day window cached per `now`), instead of the generic `js(d, ...)` call.
// Each one is the operation of `operators.ts` with its literal operands substituted, nothing
// else; any other shape falls back to `js`. The conformance suite and the differential fuzz
// test hold them to json-logic-js running `operators.ts`.
// ---------------------------------------------------------------------------------------------

/** Finite number (operators.ts `isNum`): `v - v === 0` is false for NaN and ±Infinity. */
const finite = (v: unknown): v is number => typeof v === 'number' && v - v === 0;
const never: Evaluator = () => false;

/** `lastDaysWindow(d.now, days, tz)`, recomputed only when `now` or the zone changes. */
function windowReader(days: number): (d: EvalData) => { firstDay: number; lastDay: number; fromMs: number; toMs: number } {
  let now = Number.NaN;
  let tzm = Number.NaN;
  let w = { firstDay: 0, lastDay: 0, fromMs: 0, toMs: 0 };
  return (d) => {
    const t = d.tzOffsetMinutes ?? DEFAULT_TZ_OFFSET_MINUTES;
    if (d.now !== now || t !== tzm) {
      w = lastDaysWindow(d.now, days, t);
      now = d.now;
      tzm = t;
    }
    return w;
  };
}

/** A set of the primitive literals of a list, or null when the list holds anything else. */
function primitiveSet(list: JsonLogic): Set<unknown> | null {
  if (!Array.isArray(list)) return null;
  for (const x of list) if (x !== null && typeof x === 'object') return null;
  return new Set(list);
}

/** `op(read(d), ...lits)` as one closure, or null to use the generic call. */
function specialisePredicate(op: string, read: Evaluator, lits: JsonLogic[]): Evaluator | null {
  const [b, c] = lits;
  switch (op) {
    case 'sf_eq':
      if (lits.length !== 1) return null;
      // comparable(a, b) && a === b: with b a non-null literal, `===` implies the rest.
      if (b === null || b === undefined) return never;
      return (d) => read(d) === b;
    case 'sf_neq': {
      if (lits.length !== 1) return null;
      if (b === null || b === undefined) return never;
      const tb = typeof b;
      return (d) => {
        const a = read(d);
        return a !== null && a !== undefined && typeof a === tb && a !== b;
      };
    }
    case 'sf_lt':
    case 'sf_lte':
    case 'sf_gt':
    case 'sf_gte': {
      if (lits.length !== 1) return null;
      if (!finite(b)) return never;
      if (op === 'sf_lt') return (d) => { const a = read(d); return finite(a) && a < b; };
      if (op === 'sf_lte') return (d) => { const a = read(d); return finite(a) && a <= b; };
      if (op === 'sf_gt') return (d) => { const a = read(d); return finite(a) && a > b; };
      return (d) => { const a = read(d); return finite(a) && a >= b; };
    }
    case 'sf_between': {
      if (lits.length !== 2) return null;
      if (!finite(b) || !finite(c)) return never;
      return (d) => { const a = read(d); return finite(a) && a >= b && a <= c; };
    }
    case 'sf_in':
    case 'sf_not_in': {
      if (lits.length !== 1) return null;
      if (!Array.isArray(b)) return never;
      const set = primitiveSet(b);
      if (!set) return null;
      // list.some((x) => comparable(a, x) && a === x) for a non-null: `===` on a primitive
      // literal is Set membership except for NaN (never === anything), excluded by `a === a`.
      if (op === 'sf_in') return (d) => { const a = read(d); return a !== null && a !== undefined && a === a && set.has(a); };
      return (d) => { const a = read(d); return a !== null && a !== undefined && !(a === a && set.has(a)); };
    }
    case 'sf_contains':
      if (lits.length !== 1) return null;
      if (typeof b !== 'string') return never;
      return (d) => { const a = read(d); return typeof a === 'string' && a.includes(b); };
    case 'sf_starts_with':
      if (lits.length !== 1) return null;
      if (typeof b !== 'string') return never;
      return (d) => { const a = read(d); return typeof a === 'string' && a.startsWith(b); };
    case 'sf_within_days': {
      if (lits.length !== 1) return null;
      if (!finite(b)) return never;
      const w = windowReader(b);
      return (d) => {
        const a = read(d);
        if (!finite(a)) return false;
        const x = w(d);
        return a >= x.fromMs && a <= x.toMs;
      };
    }
    case 'sf_days_ago_at_least': {
      if (lits.length !== 1) return null;
      if (!finite(b)) return never;
      const w = windowReader(b);
      return (d) => { const a = read(d); return finite(a) && a < w(d).fromMs; };
    }
    case 'sf_keyword_any':
    case 'sf_keyword_all': {
      if (lits.length !== 1) return null;
      if (!Array.isArray(b)) return never;
      const all = op === 'sf_keyword_all';
      // A non-string keyword never matches: it fails `every` and is skipped by `some`.
      if (all && !b.every((w) => typeof w === 'string')) return never;
      const words = b.filter((w): w is string => typeof w === 'string');
      return (d) => {
        const t = read(d);
        if (typeof t !== 'string') return false;
        for (let i = 0; i < words.length; i++) if (t.includes(words[i] as string) !== all) return !all;
        return all;
      };
    }
    default:
      return null;
  }
}

/** An operation whose operands are all literals (tags, aggregates, custom attributes), or null. */
function specialiseLiteral(op: string, lits: JsonLogic[]): Evaluator | null {
  const [a, b, c, e] = lits;
  switch (op) {
    case 'sf_has_tag':
    case 'sf_lacks_tag': {
      if (lits.length !== 1) return null;
      const has = op === 'sf_has_tag';
      return (d) => {
        const tags = d.tags;
        return (tags !== undefined && tags !== null && tags.includes(a as number)) === has;
      };
    }
    case 'sf_has_any_tag':
    case 'sf_has_no_tag': {
      if (lits.length !== 1) return null;
      if (!Array.isArray(a)) return never;
      const set = primitiveSet(a);
      if (!set) return null;
      const any = op === 'sf_has_any_tag';
      // ids.some((id) => tags.includes(id)): both SameValueZero, so it is "a tag is in the set".
      return (d) => {
        const tags = d.tags;
        if (tags) for (let i = 0; i < tags.length; i++) if (set.has(tags[i])) return any;
        return !any;
      };
    }
    case 'sf_agg': {
      if (lits.length !== 4) return null;
      const type = String(a);
      const isCount = String(b) === 'count';
      const w = windowReader(Number(c));
      const channel = e === null || e === undefined ? null : String(e);
      if (channel === null) {
        return (d) => {
          const x = w(d);
          const stats = d.stats;
          let total = 0;
          if (stats) {
            for (let i = 0; i < stats.length; i++) {
              const s = stats[i] as DailyStatRow;
              if (s.type === type && s.day >= x.firstDay && s.day <= x.lastDay) total += isCount ? s.count : s.amount;
            }
          }
          return total;
        };
      }
      return (d) => {
        const x = w(d);
        const events = d.events;
        let total = 0;
        if (events) {
          for (let i = 0; i < events.length; i++) {
            const ev = events[i] as EventRow;
            if (ev.type === type && ev.channel === channel && ev.occurredAt >= x.fromMs && ev.occurredAt <= x.toMs) total += isCount ? 1 : (ev.amount ?? 0);
          }
        }
        return total;
      };
    }
    default:
      return null;
  }
}

/** Compiles JSON Logic into a closure. Throws `UnsupportedLogicError` on an operation it does not know. */
export function compileLogic(logic: JsonLogic): Evaluator {
  if (Array.isArray(logic)) {
    // Literal lists are built once and shared: operations never mutate their arguments.
    if (!hasLogic(logic)) return () => logic;
    const fs = logic.map(compileLogic);
    return (d) => fs.map((f) => f(d));
  }
  if (!isLogic(logic)) return () => logic;
  const op = Object.keys(logic)[0] as string;
  const raw = logic[op] as JsonLogic;
  const args: JsonLogic[] = Array.isArray(raw) ? raw : [raw];
  switch (op) {
    case 'var':
      return compileVar(args);
    case 'and': {
      const fs = args.map(compileLogic);
      return (d) => {
        let cur: unknown;
        for (const f of fs) {
          cur = f(d);
          if (!truthy(cur)) return cur;
        }
        return cur;
      };
    }
    case 'or': {
      const fs = args.map(compileLogic);
      return (d) => {
        let cur: unknown;
        for (const f of fs) {
          cur = f(d);
          if (truthy(cur)) return cur;
        }
        return cur;
      };
    }
    case '!': {
      const f = compileLogic(args[0] ?? null);
      return (d) => !truthy(f(d));
    }
    case '!!': {
      const f = compileLogic(args[0] ?? null);
      return (d) => truthy(f(d));
    }
    case 'if': {
      const fs = args.map(compileLogic);
      return (d) => {
        let i = 0;
        for (; i + 1 < fs.length; i += 2) if (truthy((fs[i] as Evaluator)(d))) return (fs[i + 1] as Evaluator)(d);
        return i < fs.length ? (fs[i] as Evaluator)(d) : null;
      };
    }
    case 'merge': {
      const fs = args.map(compileLogic);
      return (d) => {
        const out: unknown[] = [];
        for (const f of fs) {
          const v = f(d);
          if (Array.isArray(v)) out.push(...v);
          else out.push(v);
        }
        return out;
      };
    }
    default: {
      const operation = LOGIC_OPERATIONS[op];
      if (!operation) throw new UnsupportedLogicError(`unknown operation "${op}"`);
      const js = operation.js;
      // Partial evaluation: literal operands are bound once and a `var` with a two-step path is
      // read inline, so `{sf_gte: [{var: 'contact.totalSpend'}, 100000]}` costs one closure call
      // plus the operation itself. The operation (`js`) stays the single definition of meaning.
      const isLit = (a: JsonLogic) => !hasLogic(a);
      const twoStep = (a: JsonLogic): [string, string, JsonLogic] | null => {
        if (!isLogic(a) || !('var' in a)) return null;
        const raw = a.var;
        const va: JsonLogic[] = Array.isArray(raw) ? raw : [raw];
        const path = va[0];
        if (typeof path !== 'string') return null;
        const keys = path.split('.');
        return keys.length === 2 ? [keys[0] as string, keys[1] as string, va[1] ?? null] : null;
      };
      if (args.every(isLit)) {
        const lits = args;
        const special = specialiseLiteral(op, lits);
        if (special) return special;
        return (d) => js(d, ...lits);
      }
      const head = args[0] as JsonLogic;
      const rest = args.slice(1);
      const path = twoStep(head);
      if (rest.every(isLit)) {
        if (path) {
          const [k1, k2, fallback] = path;
          const read = (d: EvalData): unknown => {
            const o = (d as unknown as Record<string, unknown>)[k1];
            if (o === null || o === undefined) return fallback;
            const v = (o as Record<string, unknown>)[k2];
            return v === undefined ? fallback : v;
          };
          const special = specialisePredicate(op, read, rest);
          if (special) return special;
          if (rest.length === 1) {
            const b = rest[0];
            return (d) => js(d, read(d), b);
          }
          if (rest.length === 2) {
            const [b, c] = rest;
            return (d) => js(d, read(d), b, c);
          }
          return (d) => js(d, read(d), ...rest);
        }
        const a = compileLogic(head);
        const special = specialisePredicate(op, a, rest);
        if (special) return special;
        if (rest.length === 1) {
          const b = rest[0];
          return (d) => js(d, a(d), b);
        }
        if (rest.length === 2) {
          const [b, c] = rest;
          return (d) => js(d, a(d), b, c);
        }
        return (d) => js(d, a(d), ...rest);
      }
      const fs = args.map(compileLogic);
      // Unrolled for the common arities: no argument array per call.
      switch (fs.length) {
        case 0:
          return (d) => js(d);
        case 1: {
          const [a] = fs as [Evaluator];
          return (d) => js(d, a(d));
        }
        case 2: {
          const [a, b] = fs as [Evaluator, Evaluator];
          return (d) => js(d, a(d), b(d));
        }
        case 3: {
          const [a, b, c] = fs as [Evaluator, Evaluator, Evaluator];
          return (d) => js(d, a(d), b(d), c(d));
        }
        default:
          return (d) => js(d, ...fs.map((f) => f(d)));
      }
    }
  }
}

const CACHE_LIMIT = 256;
const cache = new Map<string, Evaluator>();

/**
 * The compiled closure for a rule version, compiled on first use and kept at isolate scope.
 * The key must change whenever the logic does (e.g. `rule:12@v3`).
 */
export function evaluatorFor(key: string, logic: JsonLogic): Evaluator {
  const hit = cache.get(key);
  if (hit) {
    // Refresh recency: Map keeps insertion order, so the first key is the least recently used.
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  const fn = compileLogic(logic);
  cache.set(key, fn);
  if (cache.size > CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  return fn;
}

/** A compiled rule's plan as one function: the action node ids that fire for a contact. */
export type RuleEvaluator = (data: EvalData) => string[];

const bandJs = (LOGIC_OPERATIONS.sf_band as { js: (d: EvalData, ...a: unknown[]) => unknown }).js;

/**
 * Compiles a rule's plan (tests + reach formulas) rather than its inlined JSON Logic: each test
 * runs at most once per evaluation however many actions' paths share it, where the inlined
 * logic repeats a shared ancestor once per action. Same operations, same results — the
 * conformance suite and the fuzz test hold it to json-logic-js on `rule.logic`.
 *
 * The memo is reset at the start of every call; evaluation is synchronous, so sharing it
 * between calls is safe.
 */
export function compileRulePlan(rule: Pick<CompiledRule, 'tests' | 'reach' | 'actions'>): RuleEvaluator {
  const index = new Map(rule.tests.map((t, i) => [t.id, i]));
  const testFns = rule.tests.map((t) => compileLogic(t.logic));
  const state = new Uint8Array(testFns.length); // 0 = not yet, 1 = true, 2 = false / computed
  const values: unknown[] = new Array(testFns.length).fill(null);
  const bool = (i: number, d: EvalData): boolean => {
    let s = state[i];
    if (s === 0) {
      s = truthy((testFns[i] as Evaluator)(d)) ? 1 : 2;
      state[i] = s;
    }
    return s === 1;
  };
  const num = (i: number, d: EvalData): unknown => {
    if (state[i] === 0) {
      values[i] = (testFns[i] as Evaluator)(d);
      state[i] = 1;
    }
    return values[i];
  };
  const built = new Map<Formula, (d: EvalData) => boolean>();
  const build = (f: Formula): ((d: EvalData) => boolean) => {
    const known = built.get(f);
    if (known) return known;
    let fn: (d: EvalData) => boolean;
    switch (f.t) {
      case 'true':
        fn = () => true;
        break;
      case 'test': {
        const i = index.get(f.id);
        fn = i === undefined ? () => false : (d) => bool(i, d);
        break;
      }
      case 'band': {
        const i = index.get(f.id);
        const { min, max } = f;
        fn = i === undefined ? () => false : (d) => bandJs(d, num(i, d), min, max) === true;
        break;
      }
      case 'and': {
        const parts = f.of.map(build);
        fn = (d) => {
          for (const p of parts) if (!p(d)) return false;
          return true;
        };
        break;
      }
      case 'or': {
        const parts = f.of.map(build);
        fn = (d) => {
          for (const p of parts) if (p(d)) return true;
          return false;
        };
        break;
      }
      case 'not': {
        const inner = build(f.of);
        fn = (d) => !inner(d);
        break;
      }
    }
    built.set(f, fn);
    return fn;
  };
  const actions = rule.actions.map((a) => ({ id: a.nodeId, reached: build(rule.reach[a.nodeId] ?? { t: 'not', of: { t: 'true' } }) }));
  return (d) => {
    state.fill(0);
    const fired: string[] = [];
    for (const a of actions) if (a.reached(d)) fired.push(a.id);
    return fired;
  };
}

const planCache = new Map<string, RuleEvaluator>();

/**
 * The plan evaluator for a rule version, compiled on first use and kept at isolate scope (the
 * webhook hot path). The key must change whenever the rule does (e.g. `rule:12@v3`).
 */
export function ruleEvaluatorFor(key: string, rule: Pick<CompiledRule, 'tests' | 'reach' | 'actions'>): RuleEvaluator {
  const hit = planCache.get(key);
  if (hit) {
    planCache.delete(key);
    planCache.set(key, hit);
    return hit;
  }
  const fn = compileRulePlan(rule);
  planCache.set(key, fn);
  if (planCache.size > CACHE_LIMIT) planCache.delete(planCache.keys().next().value as string);
  return fn;
}
