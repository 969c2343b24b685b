/**
 * The fast evaluator: compiles JSON Logic once into nested closures (no `eval`, no
 * `new Function`: Workers forbid both) and caches them per rule-version key at isolate scope,
 * so the webhook hot path only runs closures. It supports exactly what `compile.ts` emits —
 * var, and, or, !, !!, if, merge and the `sf_*` operations — and refuses anything else when
 * compiling, not when evaluating.
 */
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
      const fs = args.map(compileLogic);
      // Unrolled for the common arities: no per-call map over the argument closures.
      if (fs.length === 1) {
        const [a] = fs as [Evaluator];
        return (d) => js(d, [a(d)]);
      }
      if (fs.length === 2) {
        const [a, b] = fs as [Evaluator, Evaluator];
        return (d) => js(d, [a(d), b(d)]);
      }
      return (d) => js(d, fs.map((f) => f(d)));
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

/** Action node ids a compiled rule fires for one contact. */
export function firedActions(key: string, logic: JsonLogic, data: EvalData): string[] {
  const r = evaluatorFor(key, logic)(data);
  return Array.isArray(r) ? (r as string[]) : [];
}
