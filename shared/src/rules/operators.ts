/**
 * The one truth of the rule language: every JSON Logic operation Segflow adds, with its JS form
 * and its SQL form side by side, and every condition operator with how it validates its value
 * and which operation it becomes. json-logic-js, the closure evaluator and the SQL compiler all
 * read these tables; the conformance suite runs all three against them.
 *
 * Null rule: a comparison with a missing (null/undefined) or wrongly-typed value is FALSE, in JS
 * and in SQL (every SQL form yields 0/1, never NULL, via COALESCE), so NOT and else-branches
 * stay two-valued. Only `is_empty` / `is_not_empty` look at null.
 *
 * An operation's entry also holds its fast path (`fast`): what the closure evaluator and the plan
 * evaluator run instead of calling `js`, with the literal operands bound at compile time. Adding
 * an operation means adding its entry here (js, sql, and a fast path if it is on a hot path) and
 * its conformance cases; neither evaluator names operations.
 */
import { EVENT_TYPES, type EventType } from '../domain';
import { dayNumber, DEFAULT_TZ_OFFSET_MINUTES, lastDaysWindow } from './days';
import { finite, isCompiled, type Evaluator, type Operand } from './evaluate-common';
import type { FieldDef, FieldType } from './fields';
import type { AggregateParams, DailyStatRow, EvalData, EventRow, JsonLogic, TriggerEvent } from './types';

/** A piece of SQL with its `?` parameters, in order. */
export interface SqlFrag {
  sql: string;
  params: unknown[];
}

/** What the SQL forms need besides their operands. The contacts table is aliased `c`. */
export interface SqlContext {
  now: number;
  tzOffsetMinutes: number;
  /** The triggering event; `undefined` in a preview, where event-scoped tests are assumed to hold. */
  event?: TriggerEvent | null;
  /**
   * When present, event aggregates become set-based LEFT JOINs collected here (one GROUP BY
   * pass over the window, deduplicated) instead of correlated subqueries; the caller adds them
   * after `FROM contacts c`. Used by the preview over all contacts.
   */
  aggregateJoins?: AggregateJoin[];
  /**
   * An event rule's preview by its past events: each row is a contact with one of its events of
   * the trigger's type in the window, `event.*` reads that event's columns (`ev`), and the
   * preview counts distinct contacts: who would have been acted on had the rule run on those
   * events. Set by the preview of a rule that reads its triggering event (`appliesNow` false).
   */
  recentEvents?: RecentEvents;
}

/** The window of past trigger events an event rule's preview is estimated from. */
export interface RecentEvents {
  type: EventType;
  days: number;
  /** Exclusive. */
  fromMs: number;
  /** Inclusive. */
  toMs: number;
}

/** A LEFT JOIN computing one aggregate for every contact: `alias.v`, keyed by `alias.cid`. */
export interface AggregateJoin {
  alias: string;
  /** Identity of the aggregate (kind, type, window, channel): equal keys share one join. */
  key: string;
  frag: SqlFrag;
  /** The joined subquery alone: `SELECT cid, v FROM … GROUP BY cid`. */
  body: SqlFrag;
}

/** An operand handed to a SQL form: an already-compiled expression or a literal from the rule. */
export type SqlOperand = { kind: 'expr'; frag: SqlFrag } | { kind: 'lit'; value: unknown };

/** One custom JSON Logic operation. */
export interface LogicOperation {
  /**
   * Evaluated arguments in, value out; `data` is the contact being evaluated. Positional (no
   * argument array) so the closure evaluator calls it without allocating.
   */
  js: (data: EvalData, ...args: unknown[]) => unknown;
  /** Operands in, SQL out: a 0/1 predicate, or a value for value-producing operations. */
  sql: (args: SqlOperand[], ctx: SqlContext) => SqlFrag;
  /**
   * The fast path of both JS evaluators: the operation compiled for these operands into one
   * closure, its literal operands checked and bound once (a Set for a long list, a day window
   * cached per `now`), or null for the evaluator's generic call of `js`. It must mean exactly
   * what `js` means: the conformance suite and the differential fuzz test hold both evaluators
   * to json-logic-js running `js`. Absent: always the generic call.
   */
  fast?: FastPath;
  /**
   * What one evaluation costs, roughly, so the plan runs cheap tests first (tests are pure and
   * total, so order never changes a result). Absent: 0, a load and a compare. An aggregate walks
   * the contact's rows; tags, lists and keywords scan arrays or strings.
   */
  cost?: number | ((raw: JsonLogic) => number);
  /** The operation gives a value (a number, a custom attribute), not a yes/no: never a test by itself. */
  givesValue?: true;
}

/**
 * See `LogicOperation.fast`. Literal operands arrive as they stand, expressions compiled by the
 * calling evaluator (the plan reads a contact field through a dedicated function).
 */
export type FastPath = (operands: readonly Operand[]) => Evaluator | null;

const never: Evaluator = () => false;

/**
 * A fast path for `op(expression, ...literals)` with `arity` literals: a condition on a field,
 * the shape `compile.ts` emits. `bind` gets the compiled expression and the literals.
 */
function onValue(arity: number, bind: (read: Evaluator, b: JsonLogic, c: JsonLogic) => Evaluator | null): FastPath {
  return (ops) => {
    const [a, b = null, c = null] = ops;
    if (ops.length !== arity + 1 || !isCompiled(a) || isCompiled(b) || isCompiled(c)) return null;
    return bind(a, b, c);
  };
}
/** A fast path for an operation whose `arity` operands are all literals (tags, aggregates, custom attributes). */
function onLiterals(arity: number, bind: (a: JsonLogic, b: JsonLogic, c: JsonLogic, e: JsonLogic) => Evaluator | null): FastPath {
  return (ops) => {
    if (ops.length !== arity || ops.some(isCompiled)) return null;
    const [a = null, b = null, c = null, e = null] = ops as JsonLogic[];
    return bind(a, b, c, e);
  };
}

/**
 * `lastDaysWindow(d.now, days, tz)`, recomputed only when `now` or the zone changes: once per
 * batch of contacts evaluated at one `now`. A class (one hidden class, `at` inlined where it is
 * called) rather than a closure returning a fresh object.
 */
class DayWindow {
  now = Number.NaN;
  tz = Number.NaN;
  firstDay = 0;
  lastDay = 0;
  fromMs = 0;
  toMs = 0;
  constructor(readonly days: number) {}
  at(d: EvalData): this {
    const t = d.tzOffsetMinutes ?? DEFAULT_TZ_OFFSET_MINUTES;
    if (d.now !== this.now || t !== this.tz) {
      const w = lastDaysWindow(d.now, this.days, t);
      this.firstDay = w.firstDay;
      this.lastDay = w.lastDay;
      this.fromMs = w.fromMs;
      this.toMs = w.toMs;
      this.now = d.now;
      this.tz = t;
    }
    return this;
  }
}

/** Lists up to this long are scanned; longer ones are looked up in a Set. */
const SHORT_LIST = 8;

/** A set of the primitive literals of a list, or null when the list holds anything else. */
function primitiveSet(list: JsonLogic): Set<unknown> | null {
  if (!Array.isArray(list)) return null;
  for (const x of list) if (x !== null && typeof x === 'object') return null;
  return new Set(list);
}

/** The contact's custom attributes, when they are an object. */
function customOf(d: EvalData): Record<string, unknown> | null {
  const custom = d.contact.custom;
  return typeof custom === 'object' && custom !== null ? (custom as Record<string, unknown>) : null;
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
/** Same JS type and not null: the precondition of every comparison. */
const comparable = (a: unknown, b: unknown) => a !== null && a !== undefined && b !== null && b !== undefined && typeof a === typeof b;
const tz = (d: EvalData) => d.tzOffsetMinutes ?? DEFAULT_TZ_OFFSET_MINUTES;

/** A bound parameter, or the operand's SQL. */
function val(o: SqlOperand | undefined): SqlFrag {
  if (!o) return { sql: 'NULL', params: [] };
  return o.kind === 'expr' ? o.frag : { sql: '?', params: [o.value ?? null] };
}
/** A literal list as ONE JSON parameter, read back with `json_each(?)`: long lists cost one slot. */
function jsonParam(o: SqlOperand | undefined): SqlFrag {
  if (!o || o.kind !== 'lit') throw new Error('expected a literal list');
  return { sql: '?', params: [JSON.stringify(o.value)] };
}
/** Template for SQL with fragments: `sql\`COALESCE(${a} > ${b}, 0)\``. */
function sql(strings: TemplateStringsArray, ...frags: SqlFrag[]): SqlFrag {
  let text = strings[0] ?? '';
  const params: unknown[] = [];
  frags.forEach((f, i) => {
    text += f.sql + (strings[i + 1] ?? '');
    params.push(...f.params);
  });
  return { sql: text, params };
}
const p = (v: unknown): SqlFrag => ({ sql: '?', params: [v] });
const lit = (o: SqlOperand | undefined): unknown => (o?.kind === 'lit' ? o.value : undefined);

/** A comparison of numbers; `bound` is its fast path with the literal `b` bound (a closure of its own per operator, so each inlines its compare). */
function cmp(test: (a: number, b: number) => boolean, op: string, bound: (read: Evaluator, b: number) => Evaluator): LogicOperation {
  return {
    // Numbers only: JS orders strings by UTF-16 units, SQLite by UTF-8 bytes.
    js: (_d, a, b) => isNum(a) && isNum(b) && test(a, b),
    sql: ([a, b]) => {
      const A = val(a);
      const B = val(b);
      return sql`COALESCE(${A} ${{ sql: op, params: [] }} ${B}, 0)`;
    },
    fast: onValue(1, (read, b) => (finite(b) ? bound(read, b) : never)),
  };
}

/**
 * `sf_in` / `sf_not_in` with the list bound: list.some((x) => comparable(a, x) && a === x) for a
 * non-null `a`, where `a === x` implies the rest. A short list is scanned (indexOf is `===`); a
 * long one is a Set, whose SameValueZero differs from `===` only for NaN, excluded by `a === a`.
 */
function inList(want: boolean): FastPath {
  return onValue(1, (read, b) => {
    if (!Array.isArray(b)) return never;
    const set = primitiveSet(b);
    if (!set) return null;
    if (b.length <= SHORT_LIST) {
      const list: unknown[] = b.slice();
      if (want)
        return (d) => {
          const a = read(d);
          return a !== null && a !== undefined && list.indexOf(a) >= 0;
        };
      return (d) => {
        const a = read(d);
        return a !== null && a !== undefined && list.indexOf(a) < 0;
      };
    }
    if (want)
      return (d) => {
        const a = read(d);
        return a !== null && a !== undefined && a === a && set.has(a);
      };
    return (d) => {
      const a = read(d);
      return a !== null && a !== undefined && !(a === a && set.has(a));
    };
  });
}

/** `sf_has_any_tag` (`any`) / `sf_has_no_tag` with the ids bound. */
function anyTag(any: boolean): FastPath {
  return onLiterals(1, (a) => {
    if (!Array.isArray(a)) return never;
    const set = primitiveSet(a);
    if (!set) return null;
    if (a.length <= SHORT_LIST) {
      // ids.some((id) => tags.includes(id)), as written: a few ids, a few tags.
      const ids = a.slice();
      return (d) => {
        const tags = d.tags;
        if (tags) for (let i = 0; i < ids.length; i++) if (tags.includes(ids[i] as number)) return any;
        return !any;
      };
    }
    // ids.some((id) => tags.includes(id)): both SameValueZero, so it is "a tag is in the set".
    return (d) => {
      const tags = d.tags;
      if (tags) for (let i = 0; i < tags.length; i++) if (set.has(tags[i])) return any;
      return !any;
    };
  });
}

/** `sf_keyword_any` / `sf_keyword_all` (`all`) with the words bound. */
function keywords(all: boolean): FastPath {
  return onValue(1, (read, b) => {
    if (!Array.isArray(b)) return never;
    // A non-string keyword never matches: it fails `every` and is skipped by `some`.
    if (all && !b.every((w) => typeof w === 'string')) return never;
    const words = b.filter((w): w is string => typeof w === 'string');
    return (d) => {
      const t = read(d);
      if (typeof t !== 'string') return false;
      for (let i = 0; i < words.length; i++) if (t.includes(words[i] as string) !== all) return !all;
      return all;
    };
  });
}

/** `sf_agg` with its operands bound: the window's bounds in locals and one loop per measure, as this runs for every contact. */
const aggregateFast = onLiterals(4, (a, b, c, e) => {
  const type = String(a);
  const isCount = String(b) === 'count';
  const w = new DayWindow(Number(c));
  const channel = e === null || e === undefined ? null : String(e);
  if (channel === null) {
    if (isCount) {
      return (d) => {
        const x = w.at(d);
        const lo = x.firstDay;
        const hi = x.lastDay;
        const stats = d.stats;
        let total = 0;
        if (stats)
          for (let i = 0; i < stats.length; i++) {
            const s = stats[i] as DailyStatRow;
            if (s.type === type && s.day >= lo && s.day <= hi) total += s.count;
          }
        return total;
      };
    }
    return (d) => {
      const x = w.at(d);
      const lo = x.firstDay;
      const hi = x.lastDay;
      const stats = d.stats;
      let total = 0;
      if (stats)
        for (let i = 0; i < stats.length; i++) {
          const s = stats[i] as DailyStatRow;
          if (s.type === type && s.day >= lo && s.day <= hi) total += s.amount;
        }
      return total;
    };
  }
  return (d) => {
    const x = w.at(d);
    const lo = x.fromMs;
    const hi = x.toMs;
    const events = d.events;
    let total = 0;
    if (events)
      for (let i = 0; i < events.length; i++) {
        const ev = events[i] as EventRow;
        if (ev.type === type && ev.channel === channel && ev.occurredAt >= lo && ev.occurredAt <= hi)
          total += isCount ? 1 : (ev.amount ?? 0);
      }
    return total;
  };
});

/** `sf_custom` with its key and type bound: the declared type decides which stored JSON values count. */
const customFast = onLiterals(2, (a, b) => {
  const key = a as string;
  const obj = customOf;
  switch (b) {
    case 'text':
      return (d) => {
        const o = obj(d);
        const v = o === null ? null : o[key];
        return typeof v === 'string' ? v : null;
      };
    case 'number':
    case 'date':
      return (d) => {
        const o = obj(d);
        const v = o === null ? null : o[key];
        return finite(v) ? v : null;
      };
    case 'boolean':
      return (d) => {
        const o = obj(d);
        const v = o === null ? null : o[key];
        return typeof v === 'boolean' ? v : null;
      };
    case 'list':
      return (d) => {
        const o = obj(d);
        const v = o === null ? null : o[key];
        return Array.isArray(v) ? v : null;
      };
    default:
      return () => null;
  }
});

/**
 * `sf_score` with its metrics compiled and weights and caps bound: the same arithmetic, in the
 * same order. Operands come in threes (metric, weight, cap); weights and caps must be numbers.
 */
const scoreFast: FastPath = (ops) => {
  const reads: Evaluator[] = [];
  const weights: number[] = [];
  const caps: number[] = [];
  for (let i = 0; i + 2 < ops.length; i += 3) {
    const m = ops[i];
    const w = ops[i + 1];
    const cap = ops[i + 2];
    if (typeof w !== 'number' || typeof cap !== 'number') return null;
    reads.push(isCompiled(m) ? m : () => m);
    weights.push(w);
    caps.push(cap);
  }
  const n = reads.length;
  return (d) => {
    let total = 0;
    for (let i = 0; i < n; i++) {
      const x = (reads[i] as Evaluator)(d);
      const v = finite(x) ? x : 0;
      const cap = caps[i] as number;
      total += (Math.min(Math.max(v, 0), cap) * 1.0 * (weights[i] as number)) / cap;
    }
    return total;
  };
};

/** Sum of `count` or `amount` of an event type over the window, from the rollup or raw events. */
function aggregateJs(d: EvalData, eventType: string, measure: string, days: number, channel: string | null): number {
  const w = lastDaysWindow(d.now, days, tz(d));
  let total = 0;
  if (channel === null) {
    for (const s of d.stats ?? []) {
      if (s.type === eventType && s.day >= w.firstDay && s.day <= w.lastDay) total += measure === 'count' ? s.count : s.amount;
    }
  } else {
    for (const e of d.events ?? []) {
      if (e.type === eventType && e.channel === channel && e.occurredAt >= w.fromMs && e.occurredAt <= w.toMs) {
        total += measure === 'count' ? 1 : (e.amount ?? 0);
      }
    }
  }
  return total;
}

/**
 * The custom operations, by JSON Logic name. Predicates return booleans in JS and 0/1 in SQL.
 */
export const LOGIC_OPERATIONS: Record<string, LogicOperation> = {
  sf_eq: {
    js: (_d, a, b) => comparable(a, b) && a === b,
    sql: ([a, b]) => sql`COALESCE(${val(a)} = ${val(b)}, 0)`,
    // With b a non-null literal, `===` implies comparable(a, b).
    fast: onValue(1, (read, b) => (b === null || b === undefined ? never : (d) => read(d) === b)),
  },
  sf_neq: {
    js: (_d, a, b) => comparable(a, b) && a !== b,
    sql: ([a, b]) => sql`COALESCE(${val(a)} <> ${val(b)}, 0)`,
    fast: onValue(1, (read, b) => {
      if (b === null || b === undefined) return never;
      const tb = typeof b;
      return (d) => {
        const a = read(d);
        return a !== null && a !== undefined && typeof a === tb && a !== b;
      };
    }),
  },
  sf_lt: cmp(
    (a, b) => a < b,
    '<',
    (read, b) => (d) => {
      const a = read(d);
      return finite(a) && a < b;
    },
  ),
  sf_lte: cmp(
    (a, b) => a <= b,
    '<=',
    (read, b) => (d) => {
      const a = read(d);
      return finite(a) && a <= b;
    },
  ),
  sf_gt: cmp(
    (a, b) => a > b,
    '>',
    (read, b) => (d) => {
      const a = read(d);
      return finite(a) && a > b;
    },
  ),
  sf_gte: cmp(
    (a, b) => a >= b,
    '>=',
    (read, b) => (d) => {
      const a = read(d);
      return finite(a) && a >= b;
    },
  ),
  sf_between: {
    js: (_d, a, lo, hi) => isNum(a) && isNum(lo) && isNum(hi) && a >= lo && a <= hi,
    sql: ([a, lo, hi]) => sql`COALESCE(${val(a)} BETWEEN ${val(lo)} AND ${val(hi)}, 0)`,
    fast: onValue(2, (read, lo, hi) => {
      if (!finite(lo) || !finite(hi)) return never;
      return (d) => {
        const a = read(d);
        return finite(a) && a >= lo && a <= hi;
      };
    }),
  },
  sf_contains: {
    // instr, not LIKE: exact and case-sensitive like String.includes, and % _ are not wildcards.
    js: (_d, a, s) => isStr(a) && isStr(s) && a.includes(s),
    sql: ([a, s]) => sql`COALESCE(instr(${val(a)}, ${val(s)}) > 0, 0)`,
    fast: onValue(1, (read, s) => {
      if (typeof s !== 'string') return never;
      return (d) => {
        const a = read(d);
        return typeof a === 'string' && a.includes(s);
      };
    }),
  },
  sf_starts_with: {
    js: (_d, a, s) => isStr(a) && isStr(s) && a.startsWith(s),
    sql: ([a, s]) => sql`COALESCE(instr(${val(a)}, ${val(s)}) = 1, 0)`,
    fast: onValue(1, (read, s) => {
      if (typeof s !== 'string') return never;
      return (d) => {
        const a = read(d);
        return typeof a === 'string' && a.startsWith(s);
      };
    }),
  },
  sf_in: {
    js: (_d, a, list) => a !== null && a !== undefined && Array.isArray(list) && list.some((x) => comparable(a, x) && a === x),
    sql: ([a, list]) => sql`COALESCE(${val(a)} IN (SELECT value FROM json_each(${jsonParam(list)})), 0)`,
    fast: inList(true),
  },
  sf_not_in: {
    js: (_d, a, list) => a !== null && a !== undefined && Array.isArray(list) && !list.some((x) => comparable(a, x) && a === x),
    // `NULL NOT IN (empty set)` is TRUE in SQLite, hence the explicit null test.
    sql: ([a, list]) => {
      const A = val(a);
      return sql`(CASE WHEN ${A} IS NULL THEN 0 ELSE ${A} NOT IN (SELECT value FROM json_each(${jsonParam(list)})) END)`;
    },
    fast: inList(false),
  },
  sf_is_empty: {
    js: (_d, a) => a === null || a === undefined || a === '',
    sql: ([a]) => {
      const A = val(a);
      return sql`(${A} IS NULL OR ${A} = '')`;
    },
    fast: onValue(0, (read) => (d) => {
      const a = read(d);
      return a === null || a === undefined || a === '';
    }),
  },
  sf_is_not_empty: {
    js: (_d, a) => !(a === null || a === undefined || a === ''),
    sql: ([a]) => sql`COALESCE(${val(a)} <> '', 0)`,
    fast: onValue(0, (read) => (d) => {
      const a = read(d);
      return a !== null && a !== undefined && a !== '';
    }),
  },
  sf_list_empty: {
    // A custom list attribute: missing or [] (in SQL the list is JSON text).
    js: (_d, a) => a === null || a === undefined || (Array.isArray(a) && a.length === 0),
    sql: ([a]) => sql`COALESCE(json_array_length(${val(a)}) = 0, 1)`,
    cost: 4,
  },
  sf_list_not_empty: {
    js: (_d, a) => Array.isArray(a) && a.length > 0,
    sql: ([a]) => sql`COALESCE(json_array_length(${val(a)}) > 0, 0)`,
    cost: 4,
  },
  sf_is_true: {
    js: (_d, a) => a === true,
    sql: ([a]) => sql`COALESCE(${val(a)} = 1, 0)`,
  },
  sf_is_false: {
    js: (_d, a) => a === false,
    sql: ([a]) => sql`COALESCE(${val(a)} = 0, 0)`,
  },
  sf_within_days: {
    // Today and the N−1 days before, in the configured zone; bounds computed once, in ms.
    js: (d, a, n) => {
      if (!isNum(a) || !isNum(n)) return false;
      const w = lastDaysWindow(d.now, n, tz(d));
      return a >= w.fromMs && a <= w.toMs;
    },
    sql: ([a, n], ctx) => {
      const w = lastDaysWindow(ctx.now, Number(lit(n)), ctx.tzOffsetMinutes);
      return sql`COALESCE(${val(a)} BETWEEN ${p(w.fromMs)} AND ${p(w.toMs)}, 0)`;
    },
    fast: onValue(1, (read, n) => {
      if (!finite(n)) return never;
      const w = new DayWindow(n);
      return (d) => {
        const a = read(d);
        if (!finite(a)) return false;
        const x = w.at(d);
        return a >= x.fromMs && a <= x.toMs;
      };
    }),
  },
  sf_days_ago_at_least: {
    // The complement of sf_within_days among past dates: the local day is N or more days back.
    js: (d, a, n) => {
      if (!isNum(a) || !isNum(n)) return false;
      return a < lastDaysWindow(d.now, n, tz(d)).fromMs;
    },
    sql: ([a, n], ctx) => sql`COALESCE(${val(a)} < ${p(lastDaysWindow(ctx.now, Number(lit(n)), ctx.tzOffsetMinutes).fromMs)}, 0)`,
    fast: onValue(1, (read, n) => {
      if (!finite(n)) return never;
      const w = new DayWindow(n);
      return (d) => {
        const a = read(d);
        return finite(a) && a < w.at(d).fromMs;
      };
    }),
  },
  sf_has_tag: {
    js: (d, id) => (d.tags ?? []).includes(id as number),
    sql: ([id]) => sql`EXISTS (SELECT 1 FROM contact_tags ct WHERE ct.contact_id = c.id AND ct.tag_id = ${val(id)})`,
    fast: onLiterals(1, (id) => (d) => {
      const tags = d.tags;
      return tags !== undefined && tags !== null && tags.includes(id as number);
    }),
    cost: 4,
  },
  sf_lacks_tag: {
    js: (d, id) => !(d.tags ?? []).includes(id as number),
    sql: ([id]) => sql`NOT EXISTS (SELECT 1 FROM contact_tags ct WHERE ct.contact_id = c.id AND ct.tag_id = ${val(id)})`,
    fast: onLiterals(1, (id) => (d) => {
      const tags = d.tags;
      return !(tags !== undefined && tags !== null && tags.includes(id as number));
    }),
    cost: 4,
  },
  sf_has_any_tag: {
    js: (d, ids) => Array.isArray(ids) && ids.some((id) => (d.tags ?? []).includes(id as number)),
    sql: ([ids]) =>
      sql`EXISTS (SELECT 1 FROM contact_tags ct WHERE ct.contact_id = c.id AND ct.tag_id IN (SELECT value FROM json_each(${jsonParam(ids)})))`,
    fast: anyTag(true),
    cost: 4,
  },
  sf_has_all_tags: {
    // Vacuously true for an empty list, like Array.every.
    js: (d, ids) => Array.isArray(ids) && ids.every((id) => (d.tags ?? []).includes(id as number)),
    sql: ([ids]) =>
      sql`NOT EXISTS (SELECT 1 FROM json_each(${jsonParam(ids)}) j WHERE NOT EXISTS (SELECT 1 FROM contact_tags ct WHERE ct.contact_id = c.id AND ct.tag_id = j.value))`,
    cost: 4,
  },
  sf_has_no_tag: {
    js: (d, ids) => Array.isArray(ids) && !ids.some((id) => (d.tags ?? []).includes(id as number)),
    sql: ([ids]) =>
      sql`NOT EXISTS (SELECT 1 FROM contact_tags ct WHERE ct.contact_id = c.id AND ct.tag_id IN (SELECT value FROM json_each(${jsonParam(ids)})))`,
    fast: anyTag(false),
    cost: 4,
  },
  sf_list_has: {
    js: (_d, list, v) => Array.isArray(list) && v !== null && v !== undefined && list.some((x) => comparable(x, v) && x === v),
    sql: ([list, v]) => sql`EXISTS (SELECT 1 FROM json_each(${val(list)}) j WHERE j.value = ${val(v)})`,
    cost: 4,
  },
  sf_list_lacks: {
    // A missing list lacks nothing it could be asked about: null never matches.
    js: (_d, list, v) => Array.isArray(list) && !list.some((x) => comparable(x, v) && x === v),
    sql: ([list, v]) => {
      const L = val(list);
      return sql`(${L} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM json_each(${L}) j WHERE j.value = ${val(v)}))`;
    },
    cost: 4,
  },
  sf_keyword_any: {
    js: (_d, text, words) => isStr(text) && Array.isArray(words) && words.some((w) => isStr(w) && text.includes(w)),
    sql: ([text, words]) => sql`EXISTS (SELECT 1 FROM json_each(${jsonParam(words)}) j WHERE instr(${val(text)}, j.value) > 0)`,
    fast: keywords(false),
    cost: 4,
  },
  sf_keyword_all: {
    js: (_d, text, words) => isStr(text) && Array.isArray(words) && words.every((w) => isStr(w) && text.includes(w)),
    sql: ([text, words]) => {
      const T = val(text);
      return sql`(${T} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM json_each(${jsonParam(words)}) j WHERE COALESCE(instr(${T}, j.value), 0) = 0))`;
    },
    fast: keywords(true),
    cost: 4,
  },
  sf_in_department_tree: {
    // "this department or any below it": the contact's materialised department path ("/1/4/9/")
    // holds the chosen id as one of its segments. Read at evaluation time, so a department
    // created under the chosen one after publishing is covered with no republish.
    js: (_d, path, id) => isStr(path) && isNum(id) && Number.isInteger(id) && path.includes(`/${id}/`),
    // CAST: D1 may bind a JS number as REAL, which would read "/9101.0/"
    sql: ([path, id]) => sql`COALESCE(instr(${val(path)}, '/' || CAST(${val(id)} AS INTEGER) || '/') > 0, 0)`,
    fast: onValue(1, (read, id) => {
      if (!finite(id) || !Number.isInteger(id)) return never;
      const needle = `/${id}/`;
      return (d) => {
        const path = read(d);
        return typeof path === 'string' && path.includes(needle);
      };
    }),
  },
  sf_in_rollout: {
    // Gray release: the same contacts in JS and SQL because the bucket is a stored column.
    js: (_d, bucket, salt, threshold) => isNum(bucket) && isNum(salt) && isNum(threshold) && (bucket + salt) % 10_000 < threshold,
    sql: ([bucket, salt, threshold]) => sql`COALESCE(((${val(bucket)} + ${val(salt)}) % 10000) < ${val(threshold)}, 0)`,
    fast: onValue(2, (read, salt, threshold) => {
      if (!finite(salt) || !finite(threshold)) return never;
      return (d) => {
        const a = read(d);
        return finite(a) && (a + salt) % 10_000 < threshold;
      };
    }),
  },

  // ---- value-producing operations ----

  sf_custom: {
    // A declared custom attribute; a stored value of the wrong JSON type reads as missing.
    js: (d, key, type) => {
      const custom = d.contact.custom;
      if (typeof custom !== 'object' || custom === null) return null;
      const v = (custom as Record<string, unknown>)[key as string];
      switch (type) {
        case 'text':
          return isStr(v) ? v : null;
        case 'number':
        case 'date':
          return isNum(v) ? v : null;
        case 'boolean':
          return typeof v === 'boolean' ? v : null;
        case 'list':
          return Array.isArray(v) ? v : null;
        default:
          return null;
      }
    },
    sql: ([key, type]) => {
      const path = p(`$.${String(lit(key))}`);
      const jsonTypes: Record<string, string> = {
        text: "('text')",
        number: "('integer','real')",
        date: "('integer','real')",
        boolean: "('true','false')",
        list: "('array')",
      };
      const allowed = jsonTypes[String(lit(type))] ?? "('')";
      return sql`(CASE WHEN json_type(c.custom, ${path}) IN ${{ sql: allowed, params: [] }} THEN json_extract(c.custom, ${path}) END)`;
    },
    fast: customFast,
    cost: 4,
    givesValue: true,
  },
  sf_agg: {
    js: (d, eventType, measure, days, channel) =>
      aggregateJs(d, String(eventType), String(measure), Number(days), channel === null || channel === undefined ? null : String(channel)),
    sql: ([eventType, measure, days, channel], ctx) => {
      const w = lastDaysWindow(ctx.now, Number(lit(days)), ctx.tzOffsetMinutes);
      const ch = lit(channel);
      const isCount = lit(measure) === 'count';
      const filtered = ch !== null && ch !== undefined;
      const m = { sql: filtered ? (isCount ? 'COUNT(*)' : 'SUM(e.amount)') : isCount ? 'SUM(s.count)' : 'SUM(s.amount)', params: [] };
      // Without a property filter: the rollup. With one: raw events (the rollup has no channel).
      const where = filtered
        ? sql`e.type = ${val(eventType)} AND e.occurred_at BETWEEN ${p(w.fromMs)} AND ${p(w.toMs)} AND e.channel = ${val(channel)}`
        : sql`s.type = ${val(eventType)} AND s.day BETWEEN ${p(w.firstDay)} AND ${p(w.lastDay)}`;
      const table = { sql: filtered ? 'events e' : 'contact_daily_stats s', params: [] };
      const cid = { sql: filtered ? 'e.contact_id' : 's.contact_id', params: [] };
      if (ctx.aggregateJoins) {
        // Set-based: one pass over the window through the (type, day|occurred_at) index, then a
        // keyed join. A correlated subquery here was measured reading every row of the window
        // once per contact (SQLite prefers the covering type/day index over the primary key).
        const key = JSON.stringify([filtered, isCount, lit(eventType), w.firstDay, w.lastDay, ch ?? null]);
        let join = ctx.aggregateJoins.find((j) => j.key === key);
        if (!join) {
          const alias = `g${ctx.aggregateJoins.length}`;
          const body = sql`SELECT ${cid} AS cid, ${m} AS v FROM ${table} WHERE ${where} GROUP BY ${cid}`;
          join = { alias, key, frag: { sql: `LEFT JOIN (${body.sql}) ${alias} ON ${alias}.cid = c.id`, params: body.params }, body };
          ctx.aggregateJoins.push(join);
        }
        return { sql: `COALESCE(${join.alias}.v, 0)`, params: [] };
      }
      // One contact's rows through the primary key / contact index (`+` keeps SQLite off the
      // type/day index, which would scan the whole window for every contact).
      const pin = { sql: filtered ? '+e.type' : '+s.type', params: [] };
      const whereOne = filtered
        ? sql`${pin} = ${val(eventType)} AND e.occurred_at BETWEEN ${p(w.fromMs)} AND ${p(w.toMs)} AND e.channel = ${val(channel)}`
        : sql`${pin} = ${val(eventType)} AND s.day BETWEEN ${p(w.firstDay)} AND ${p(w.lastDay)}`;
      return sql`(SELECT COALESCE(${m}, 0) FROM ${table} WHERE ${cid} = c.id AND ${whereOne})`;
    },
    fast: aggregateFast,
    // Raw events (a channel filter) are more rows than the rollup.
    cost: (raw) => (Array.isArray(raw) && raw[3] !== null && raw[3] !== undefined ? 40 : 20),
    givesValue: true,
  },
  sf_bool_number: {
    // A boolean as a score factor: true 1, false 0, missing null (the score counts it 0).
    js: (_d, a) => (a === true ? 1 : a === false ? 0 : null),
    // stored booleans read as 1 / 0 (columns, json_extract of true / false), missing as NULL
    sql: ([a]) => sql`(${val(a)} + 0)`,
    givesValue: true,
  },
  sf_days_since: {
    // A date as a score factor: whole local days from its day to today (0 today, negative in
    // the future, which a score clamps to 0); missing null. Dates are epoch ms ≥ 0, so SQLite's
    // truncating CAST is the floor `dayNumber` takes.
    js: (d, a) => (isNum(a) ? dayNumber(d.now, tz(d)) - dayNumber(a, tz(d)) : null),
    sql: ([a], ctx) => {
      const off = ctx.tzOffsetMinutes * 60_000;
      return sql`(${p(dayNumber(ctx.now, ctx.tzOffsetMinutes))} - CAST((${val(a)} + ${p(off)}) / 86400000 AS INTEGER))`;
    },
    givesValue: true,
  },
  sf_score: {
    // Σ weight · min(max(value, 0), cap) / cap, a missing value counting 0. Same operation
    // order in JS and SQL (both IEEE doubles) so band edges agree; `* 1.0` avoids SQLite's
    // integer division.
    js: (_d, ...args: unknown[]) => {
      let total = 0;
      for (let i = 0; i + 2 < args.length; i += 3) {
        const v = isNum(args[i]) ? (args[i] as number) : 0;
        const w = args[i + 1] as number;
        const cap = args[i + 2] as number;
        total += (Math.min(Math.max(v, 0), cap) * 1.0 * w) / cap;
      }
      return total;
    },
    sql: (args) => {
      const terms: SqlFrag[] = [];
      for (let i = 0; i + 2 < args.length; i += 3) {
        terms.push(sql`(MIN(MAX(COALESCE(${val(args[i])}, 0), 0), ${val(args[i + 2])}) * 1.0 * ${val(args[i + 1])} / ${val(args[i + 2])})`);
      }
      if (terms.length === 0) return { sql: '0.0', params: [] };
      return { sql: `(0.0 + ${terms.map((t) => t.sql).join(' + ')})`, params: terms.flatMap((t) => t.params) };
    },
    fast: scoreFast,
    givesValue: true,
  },
  sf_band: {
    js: (_d, s, min, max) => isNum(s) && isNum(min) && s >= min && (max === null || max === undefined || (isNum(max) && s < max)),
    sql: ([s, min, max]) => {
      const S = val(s);
      if (lit(max) === null || lit(max) === undefined) return sql`COALESCE(${S} >= ${val(min)}, 0)`;
      return sql`COALESCE(${S} >= ${val(min)} AND ${S} < ${val(max)}, 0)`;
    },
    // The plan's score bands run this too, with the score compiled once.
    fast: onValue(2, (score, min, max) => {
      if (!finite(min) || (max !== null && max !== undefined && !finite(max))) return never;
      if (max === null || max === undefined)
        return (d) => {
          const s = score(d);
          return finite(s) && s >= min;
        };
      return (d) => {
        const s = score(d);
        return finite(s) && s >= min && s < max;
      };
    }),
  },
};

// ---------------------------------------------------------------------------------------------
// Condition operators: the canvas's vocabulary, validated and lowered onto the operations above.
// ---------------------------------------------------------------------------------------------

/** The operand shape an operator expects. */
export type ValueKind = 'none' | 'scalar' | 'range' | 'list' | 'days' | 'tag' | 'tags' | 'keywords' | 'rollout' | 'department' | 'segment';

/** How a condition operator validates its value and which JSON Logic it becomes. */
export interface ConditionOperator {
  value: ValueKind;
  /** `field` is the JSON Logic of the field's value (absent for tags). */
  toLogic: (field: JsonLogic, value: unknown, type: FieldType) => JsonLogic;
}

const unary = (op: string): ConditionOperator => ({ value: 'none', toLogic: (f) => ({ [op]: [f] }) });
const binary = (op: string, value: ValueKind = 'scalar'): ConditionOperator => ({
  value,
  toLogic: (f, v) => ({ [op]: [f, v as JsonLogic] }),
});

/** Every condition operator. The allowed-per-type lists are in `fields.ts`. */
export const CONDITION_OPERATORS: Record<string, ConditionOperator> = {
  eq: binary('sf_eq'),
  neq: binary('sf_neq'),
  lt: binary('sf_lt'),
  lte: binary('sf_lte'),
  gt: binary('sf_gt'),
  gte: binary('sf_gte'),
  between: { value: 'range', toLogic: (f, v) => ({ sf_between: [f, ...(v as [number, number])] }) },
  contains: binary('sf_contains'),
  starts_with: binary('sf_starts_with'),
  in: binary('sf_in', 'list'),
  not_in: binary('sf_not_in', 'list'),
  is_empty: { value: 'none', toLogic: (f, _v, t) => ({ [t === 'list' ? 'sf_list_empty' : 'sf_is_empty']: [f] }) },
  is_not_empty: { value: 'none', toLogic: (f, _v, t) => ({ [t === 'list' ? 'sf_list_not_empty' : 'sf_is_not_empty']: [f] }) },
  is_true: unary('sf_is_true'),
  is_false: unary('sf_is_false'),
  before: binary('sf_lt'),
  after: binary('sf_gt'),
  within_last_days: binary('sf_within_days', 'days'),
  more_than_days_ago: binary('sf_days_ago_at_least', 'days'),
  has_item: binary('sf_list_has'),
  lacks_item: binary('sf_list_lacks'),
  has: { value: 'tag', toLogic: (_f, v) => ({ sf_has_tag: [v as number] }) },
  lacks: { value: 'tag', toLogic: (_f, v) => ({ sf_lacks_tag: [v as number] }) },
  has_any: { value: 'tags', toLogic: (_f, v) => ({ sf_has_any_tag: [v as number[]] }) },
  has_all: { value: 'tags', toLogic: (_f, v) => ({ sf_has_all_tags: [v as number[]] }) },
  has_none: { value: 'tags', toLogic: (_f, v) => ({ sf_has_no_tag: [v as number[]] }) },
  contains_any: binary('sf_keyword_any', 'keywords'),
  contains_all: binary('sf_keyword_all', 'keywords'),
  // the field's logic is the contact's department path (`fieldLogic` for this operator)
  in_department_tree: { value: 'department', toLogic: (_f, v) => ({ sf_in_department_tree: [{ var: DEPARTMENT_PATH_VAR }, v as number] }) },
  // Never lowered here: the compiler expands the referenced segment's audience in place
  // (compile.ts `segmentReference`), so no evaluator and no SQL needs an operation for it.
  in_segment: { value: 'segment', toLogic: () => false },
  not_in_segment: { value: 'segment', toLogic: () => false },
  in_rollout: {
    value: 'rollout',
    toLogic: (f, v) => {
      const r = v as { percent: number; salt?: number };
      return { sf_in_rollout: [f, r.salt ?? 0, Math.round(r.percent * 100)] };
    },
  },
};

/**
 * The contact's department path ("/1/4/9/", its department and every ancestor), as the loaders
 * join it from `departments` (`department_path`) and SQL reads it by a keyed subquery.
 */
export const DEPARTMENT_PATH_VAR = 'contact.departmentPath';

/** The JSON Logic that reads a field's value (null for tags, which operators read directly). */
export function fieldLogic(field: FieldDef, params: AggregateParams | undefined): JsonLogic {
  const s = field.source;
  switch (s.kind) {
    case 'column':
      return { var: `contact.${field.key}` };
    case 'custom':
      return { sf_custom: [s.key, field.type] };
    case 'event':
      return { var: `event.${s.prop}` };
    case 'bucket':
      return { var: 'contact.bucket' };
    case 'tags':
    case 'segment':
      return null;
    case 'aggregate':
      return { sf_agg: [params?.eventType ?? '', s.measure, params?.days ?? 0, params?.channel ?? null] };
  }
}

/** Why a value does not fit an operator on a field type, or null when it fits. */
export function checkValue(kind: ValueKind, type: FieldType, value: unknown): string | null {
  const scalarOk = (v: unknown) => {
    if (type === 'text' || type === 'list') return typeof v === 'string' || (type === 'list' && isNum(v));
    return isNum(v);
  };
  const scalarName = type === 'text' ? 'a text' : type === 'list' ? 'a text or number' : type === 'date' ? 'a date (epoch ms)' : 'a number';
  switch (kind) {
    case 'none':
      return null;
    case 'scalar':
      return scalarOk(value) ? null : `needs ${scalarName}`;
    case 'range':
      return Array.isArray(value) && value.length === 2 && isNum(value[0]) && isNum(value[1]) && value[0] <= value[1]
        ? null
        : 'needs [low, high] numbers with low ≤ high';
    case 'list':
      return Array.isArray(value) && value.length > 0 && value.length <= 1000 && value.every(scalarOk)
        ? null
        : `needs a list of 1–1000 values, each ${scalarName}`;
    case 'days':
      return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 3660 ? null : 'needs a whole number of days, 1–3660';
    case 'tag':
      return Number.isInteger(value) && (value as number) > 0 ? null : 'needs a tag';
    case 'department':
      return Number.isInteger(value) && (value as number) > 0 ? null : 'needs a department';
    case 'segment':
      return Number.isInteger(value) && (value as number) > 0 ? null : 'needs a segment';
    case 'tags':
      return Array.isArray(value) && value.length > 0 && value.length <= 500 && value.every((v) => Number.isInteger(v) && v > 0)
        ? null
        : 'needs a list of 1–500 tags';
    case 'keywords':
      return Array.isArray(value) && value.length > 0 && value.length <= 200 && value.every((v) => typeof v === 'string' && v.length > 0)
        ? null
        : 'needs a list of 1–200 non-empty keywords';
    case 'rollout': {
      const r = value as { percent?: unknown; salt?: unknown } | null;
      if (typeof r !== 'object' || r === null || !isNum(r.percent) || r.percent <= 0 || r.percent > 100)
        return 'needs a percent in (0, 100]';
      if (r.salt !== undefined && !(Number.isInteger(r.salt) && (r.salt as number) >= 0 && (r.salt as number) < 10_000))
        return 'salt must be 0–9999';
      return null;
    }
  }
}

/** Event types a trigger or aggregate may name. */
export const RULE_EVENT_TYPES: readonly string[] = EVENT_TYPES;

/** Day number of `ms` in the evaluation zone (re-exported for explanations and tests). */
export { dayNumber };
