/**
 * The fast evaluator: compiles JSON Logic once into nested closures (no `eval`, no
 * `new Function`: Workers forbid both) and caches them per rule-version key at isolate scope,
 * so the webhook hot path only runs closures. It supports exactly what `compile.ts` emits —
 * var, and, or, !, !!, if, merge and the `sf_*` operations — and refuses anything else when
 * compiling, not when evaluating.
 */
import type { CompiledRule, CompiledTest, Formula } from './compile';
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
      if (op === 'sf_lt')
        return (d) => {
          const a = read(d);
          return finite(a) && a < b;
        };
      if (op === 'sf_lte')
        return (d) => {
          const a = read(d);
          return finite(a) && a <= b;
        };
      if (op === 'sf_gt')
        return (d) => {
          const a = read(d);
          return finite(a) && a > b;
        };
      return (d) => {
        const a = read(d);
        return finite(a) && a >= b;
      };
    }
    case 'sf_between': {
      if (lits.length !== 2) return null;
      if (!finite(b) || !finite(c)) return never;
      return (d) => {
        const a = read(d);
        return finite(a) && a >= b && a <= c;
      };
    }
    case 'sf_in':
    case 'sf_not_in': {
      if (lits.length !== 1) return null;
      if (!Array.isArray(b)) return never;
      const set = primitiveSet(b);
      if (!set) return null;
      // list.some((x) => comparable(a, x) && a === x) for a non-null: `a === x` implies the
      // rest. A short list is scanned (indexOf is `===`); a long one is a Set, whose
      // SameValueZero differs from `===` only for NaN, excluded by `a === a`.
      if (b.length <= SHORT_LIST) {
        const list: unknown[] = b.slice();
        if (op === 'sf_in')
          return (d) => {
            const a = read(d);
            return a !== null && a !== undefined && list.indexOf(a) >= 0;
          };
        return (d) => {
          const a = read(d);
          return a !== null && a !== undefined && list.indexOf(a) < 0;
        };
      }
      if (op === 'sf_in')
        return (d) => {
          const a = read(d);
          return a !== null && a !== undefined && a === a && set.has(a);
        };
      return (d) => {
        const a = read(d);
        return a !== null && a !== undefined && !(a === a && set.has(a));
      };
    }
    case 'sf_is_empty':
      if (lits.length !== 0) return null;
      return (d) => {
        const a = read(d);
        return a === null || a === undefined || a === '';
      };
    case 'sf_is_not_empty':
      if (lits.length !== 0) return null;
      return (d) => {
        const a = read(d);
        return a !== null && a !== undefined && a !== '';
      };
    case 'sf_contains':
      if (lits.length !== 1) return null;
      if (typeof b !== 'string') return never;
      return (d) => {
        const a = read(d);
        return typeof a === 'string' && a.includes(b);
      };
    case 'sf_starts_with':
      if (lits.length !== 1) return null;
      if (typeof b !== 'string') return never;
      return (d) => {
        const a = read(d);
        return typeof a === 'string' && a.startsWith(b);
      };
    case 'sf_within_days': {
      if (lits.length !== 1) return null;
      if (!finite(b)) return never;
      const w = new DayWindow(b);
      return (d) => {
        const a = read(d);
        if (!finite(a)) return false;
        const x = w.at(d);
        return a >= x.fromMs && a <= x.toMs;
      };
    }
    case 'sf_days_ago_at_least': {
      if (lits.length !== 1) return null;
      if (!finite(b)) return never;
      const w = new DayWindow(b);
      return (d) => {
        const a = read(d);
        return finite(a) && a < w.at(d).fromMs;
      };
    }
    case 'sf_in_rollout': {
      // isNum(bucket) && isNum(salt) && isNum(threshold) && (bucket + salt) % 10000 < threshold
      if (lits.length !== 2) return null;
      if (!finite(b) || !finite(c)) return never;
      return (d) => {
        const a = read(d);
        return finite(a) && (a + b) % 10_000 < c;
      };
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

/** The contact's custom attributes, when they are an object. */
function customOf(d: EvalData): Record<string, unknown> | null {
  const custom = d.contact.custom;
  return typeof custom === 'object' && custom !== null ? (custom as Record<string, unknown>) : null;
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
    }
    case 'sf_agg': {
      if (lits.length !== 4) return null;
      const type = String(a);
      const isCount = String(b) === 'count';
      const w = new DayWindow(Number(c));
      const channel = e === null || e === undefined ? null : String(e);
      // The window's bounds in locals and one loop per measure: this runs for every contact.
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
    }
    case 'sf_custom': {
      // operators.ts sf_custom: the declared type decides which stored JSON values count.
      if (lits.length !== 2) return null;
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
// contact. Each piece is the operation of `operators.ts` with its literal
// operands bound at compile time; the conformance suite and the differential fuzz test hold
// the result to json-logic-js on `rule.logic`, action by action.
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

/** The value of an operand: a dedicated reader for a known field, else the closure compiler. */
function compileValue(logic: JsonLogic): Evaluator {
  if (isLogic(logic) && 'var' in logic) {
    const raw = logic.var;
    const va: JsonLogic[] = Array.isArray(raw) ? raw : [raw];
    const fallback = va[1] ?? null;
    if (fallback === null && typeof va[0] === 'string') {
      const dot = va[0].indexOf('.');
      const head = va[0].slice(0, dot);
      const key = va[0].slice(dot + 1);
      const table = head === 'contact' ? CONTACT_READERS : head === 'event' ? EVENT_READERS : null;
      if (dot > 0 && table && Object.hasOwn(table, key)) return table[key] as Evaluator;
    }
  }
  if (isLogic(logic) && 'sf_score' in logic) {
    const score = compileScore(logic.sf_score);
    if (score) return score;
  }
  return compileLogic(logic);
}

/** `sf_score` with its metrics compiled and weights and caps bound: the same arithmetic, in the same order. */
function compileScore(raw: JsonLogic): Evaluator | null {
  const args: JsonLogic[] = Array.isArray(raw) ? raw : [raw];
  const reads: Evaluator[] = [];
  const weights: number[] = [];
  const caps: number[] = [];
  for (let i = 0; i + 2 < args.length; i += 3) {
    const w = args[i + 1];
    const cap = args[i + 2];
    if (typeof w !== 'number' || typeof cap !== 'number' || hasLogic(w) || hasLogic(cap)) return null;
    reads.push(compileValue(args[i] as JsonLogic));
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
}

/** The predicate operations whose specialised closures return booleans. */
const BOOLEAN_LITERAL_OPS = new Set(['sf_has_tag', 'sf_lacks_tag', 'sf_has_any_tag', 'sf_has_no_tag']);

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
  const lits = args.slice(1);
  if (op !== 'var' && args.length > 0 && lits.every((a) => !hasLogic(a))) {
    if (!hasLogic(args[0] as JsonLogic)) {
      if (BOOLEAN_LITERAL_OPS.has(op)) {
        const special = specialiseLiteral(op, args);
        if (special) return special as Predicate;
      }
    } else if (LOGIC_OPERATIONS[op]) {
      const special = specialisePredicate(op, compileValue(args[0] as JsonLogic), lits);
      if (special) return special as Predicate;
    }
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
 * A coarse cost of evaluating logic once, to run expensive tests last in `and`/`or` (tests are
 * pure and total, so order never changes a result): an aggregate walks the contact's rows (raw
 * events more than the rollup), tags, lists and keywords scan arrays or strings. Loads and
 * compares cost 0, so cheap tests keep the graph's order — an event trigger's type check, the
 * most selective test of an event rule, stays first.
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
  let own = 0;
  if (op === 'sf_agg') own = Array.isArray(raw) && raw[3] !== null && raw[3] !== undefined ? 40 : 20;
  else if (op.includes('tag') || op.startsWith('sf_keyword') || op.startsWith('sf_list') || op === 'sf_custom') own = 4;
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
        const { min, max } = f;
        const score = i === undefined ? undefined : (this.values[i] ?? compileValue(this.rule.tests[i]?.logic ?? null));
        // sf_band: isNum(s) && isNum(min) && s >= min && (max absent || (isNum(max) && s < max))
        if (!score || !finite(min) || (max !== null && max !== undefined && !finite(max))) fn = NEVER;
        else if (max === null || max === undefined)
          fn = (d) => {
            const s = score(d);
            return finite(s) && s >= min;
          };
        else
          fn = (d) => {
            const s = score(d);
            return finite(s) && s >= min && s < max;
          };
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
