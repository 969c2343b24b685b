/**
 * What the two JS evaluators (`evaluate-closure.ts`, `evaluate-plan.ts`) and the operations'
 * fast paths in `operators.ts` share: the compiled-expression type, json-logic-js's truthiness,
 * how a literal is told from logic and handed to a fast path, and the per-isolate cache.
 */
import type { EvalData, JsonLogic } from './types';

/** A compiled expression (or a whole compiled rule): the contact's data in, its JSON Logic value out. */
export type Evaluator = (data: EvalData) => unknown;

/** json-logic-js truthiness: `[]` is false, everything else as in JS. */
export function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  return !!v;
}

/** One operation: an object with exactly one key (json-logic-js's test). */
export const isLogic = (v: unknown): v is Record<string, JsonLogic> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 1;

/** Whether evaluating `v` does anything: an operation, or a list holding one. Otherwise `v` is a literal. */
export const hasLogic = (v: JsonLogic): boolean => (Array.isArray(v) ? v.some(hasLogic) : isLogic(v));

/**
 * An operand as an operation's fast path (`operators.ts`) receives it: a literal of the rule as it
 * stands, or an expression compiled by the calling evaluator (a function: JSON has none).
 */
export type Operand = JsonLogic | Evaluator;

/** Whether an operand is a compiled expression rather than a literal. */
export const isCompiled = (o: Operand | undefined): o is Evaluator => typeof o === 'function';

/** An operation's operands for its fast path: literals as they stand, expressions compiled by `compile`. */
export function operandsOf(args: JsonLogic[], compile: (logic: JsonLogic) => Evaluator): Operand[] {
  return args.map((a) => (hasLogic(a) ? compile(a) : a));
}

/** Finite number (operators.ts `isNum`): `v - v === 0` is false for NaN and ±Infinity. */
export const finite = (v: unknown): v is number => typeof v === 'number' && v - v === 0;

const CACHE_LIMIT = 256;

/**
 * `compile` memoised per key at isolate scope, the least recently used of more than 256 keys
 * dropped. The key must change whenever what it compiles does (e.g. `rule:12@v3`).
 */
export function isolateCache<I, O>(compile: (input: I) => O): (key: string, input: I) => O {
  const cache = new Map<string, O>();
  return (key, input) => {
    const hit = cache.get(key);
    if (hit !== undefined) {
      // Refresh recency: Map keeps insertion order, so the first key is the least recently used.
      cache.delete(key);
      cache.set(key, hit);
      return hit;
    }
    const fn = compile(input);
    cache.set(key, fn);
    if (cache.size > CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
    return fn;
  };
}
