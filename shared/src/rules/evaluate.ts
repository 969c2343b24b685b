/**
 * The fast evaluator: compiles JSON Logic once into nested closures (no `eval`, no
 * `new Function`: Workers forbid both) and caches them per rule-version key at isolate scope,
 * so the webhook hot path only runs closures. It supports exactly what `compile.ts` emits —
 * var, and, or, !, !!, if, merge and the `sf_*` operations — and refuses anything else when
 * compiling, not when evaluating.
 */
import type { CompiledRule, Formula } from './compile';
import { UnsupportedLogicError } from './errors';
import { LOGIC_OPERATIONS } from './operators';
import type { EvalData, JsonLogic } from './types';

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
