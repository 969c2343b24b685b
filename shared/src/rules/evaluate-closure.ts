/**
 * The closure evaluator: compiles JSON Logic once into nested closures (no `eval`, no
 * `new Function`: Workers forbid both) and caches them per rule-version key at isolate scope.
 * It supports exactly what `compile.ts` emits — var, and, or, !, !!, if, merge and the `sf_*`
 * operations of `operators.ts` — and refuses anything else when compiling, not when evaluating.
 * An operation runs its fast path from `operators.ts` when it has one for its operands, else
 * its `js` with the literal operands bound.
 */
import { UnsupportedLogicError } from './errors';
import { hasLogic, isCompiled, isLogic, isolateCache, operandsOf, truthy, type Evaluator, type Operand } from './evaluate-common';
import { LOGIC_OPERATIONS, type LogicOperation } from './operators';
import type { JsonLogic } from './types';

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

/**
 * `js` called with the operands, literals bound once: `{sf_gte: [{var: 'contact.totalSpend'}, 100000]}`
 * costs one closure call plus the operation. Unrolled for the common shapes: no argument array per call.
 */
function callJs(js: LogicOperation['js'], operands: Operand[]): Evaluator {
  if (!operands.some(isCompiled)) {
    const lits = operands;
    return (d) => js(d, ...lits);
  }
  const [head, ...rest] = operands;
  if (isCompiled(head) && !rest.some(isCompiled)) {
    const a = head;
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
  // Literals among expressions (rare): every operand a closure.
  const fs = operands.map((o): Evaluator => (isCompiled(o) ? o : () => o));
  switch (fs.length) {
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
    case 'and':
    case 'or': {
      // The first part that settles it (falsy for `and`, truthy for `or`), else the last.
      const fs = args.map(compileLogic);
      const settles = op === 'or';
      return (d) => {
        let cur: unknown;
        for (const f of fs) {
          cur = f(d);
          if (truthy(cur) === settles) return cur;
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
      const operands = operandsOf(args, compileLogic);
      return operation.fast?.(operands) ?? callJs(operation.js, operands);
    }
  }
}

/**
 * The compiled closure for a rule version, compiled on first use and kept at isolate scope.
 * The key must change whenever the logic does (e.g. `rule:12@v3`).
 */
export const evaluatorFor: (key: string, logic: JsonLogic) => Evaluator = isolateCache(compileLogic);
