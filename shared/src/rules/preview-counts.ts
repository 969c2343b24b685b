/**
 * The preview's counts as a few index-friendly COUNT queries instead of one pass that evaluates
 * every test and every node for every contact (`buildPreviewQuery`).
 *
 * Every column of the preview (total, matched, each node's reach, each edge, gain / lose per
 * action) counts the contacts satisfying a formula over *atoms*: the rule's tests, score bands
 * and "holds the action's tag". Written as its 0/1 indicator, a formula is a multilinear
 * polynomial in the atoms (`¬a = 1 − a`, `a ∧ b = a·b`, `a ∨ b = 1 − (1 − a)(1 − b)`, `a·a = a`),
 * and the count of a monomial `a·b·c` is `SELECT count(*) FROM contacts c WHERE a AND b AND c`.
 * So each column is an exact integer combination of conjunction counts: a condition's `no`
 * count is its reach minus its `yes`, a chain of five conditions needs five prefix counts, and
 * every count is a plain conjunction SQLite can answer from an index:
 *
 * - a comparison on a contact column is written without the `COALESCE(…, 0)` the 0/1 form
 *   carries (in a WHERE a NULL already fails, so it is the same test), which lets SQLite use
 *   an index — with `contacts_rule_cover_idx` most conjunctions never touch the table;
 * - an event-aggregate condition becomes a set, computed once per statement from the
 *   (type, day) rollup index into a MATERIALIZED CTE: `c.id IN a0`; when a contact with no
 *   events in the window (aggregate 0) passes the test, the set holds those who fail it and
 *   the test is the atom's complement, 1 − (c.id IN a0), so no count is a pass over everyone
 *   with a NOT IN probe each (`c.id NOT IN a0` only inside an AND / OR of tests);
 * - "holds tag t" is counted in two D1 batches, because how to count "holds t ∧ tests" depends
 *   on which side is smaller, and both sizes are counts the preview has anyway. The first batch
 *   has every count without a held tag and each tag's holder count (the tag index alone). The
 *   second writes each held conjunction from the smaller side: a correlated EXISTS probing the
 *   contacts the tests leave when they are fewer, a walk of the tag index looking each holder up
 *   when the holders are; where the tests are one equality read off its own index (ids in
 *   order; a short IN list as one merge per value) and the sides are of a size, a merge of the
 *   two id lists (INTERSECT … ORDER BY); a conjunction with an empty side is 0 without a query.
 *   Counts over an aggregate set — a chain's later prefixes, and "… ∧ holds t" — ride in the
 *   first batch on one pass over the smallest conjunction with that set (`count(*)` and
 *   `sum(CASE WHEN extra …)`): enumerating the set and looking its contacts up was most of each
 *   such count's cost, and building the set again in the second batch cost more than sizing
 *   won. Each choice is measured in bench/preview.ts (a correlated EXISTS for every contact was
 *   the one statement's main cost).
 *
 * Rules whose polynomials grow too large (wide ORs, long else-chains) get `null`, and the
 * caller uses the one-statement preview. The differential fuzz test holds both paths and the
 * JS evaluators to the same counts, node by node and edge by edge.
 */
import type { CompiledRule, CompiledTest, Formula } from './compile';
import { ruleError, UnsupportedLogicError, type RuleResult } from './errors';
import { LOGIC_OPERATIONS, type AggregateJoin, type LogicOperation, type SqlContext, type SqlFrag } from './operators';
import {
  balanced,
  D1_MAX_PARAMS,
  D1_MAX_STATEMENT_BYTES,
  numberParams,
  packCounts,
  toSql,
  type PreviewColumn,
  type PreviewOptions,
} from './sql';
import { isTagAction, type JsonLogic } from './types';
import { conflictFormula, netFormulas, netPlan } from './net-effect';

/** At most this many distinct conjunction counts per preview; beyond, the one-statement path. */
export const MAX_PREVIEW_COUNTS = 64;
/** An id-ordered side and the holders within this factor of each other are merged. */
const MERGE_RATIO = 8;
/** At most this many terms in one column's polynomial while expanding. */
const MAX_TERMS = 256;

/** One D1 batch of counts. */
export interface CountRound {
  /** Each returns one row with one text column `counts`: comma-separated integers. */
  statements: SqlFrag[];
  /** How many counts each statement returns, in order. */
  perStatement: number[];
  /** The count (index into the plan's count list) each returned integer is, in order. */
  fills: number[];
}

/** The count batches of a preview and how to read the columns from their results. */
export interface PreviewCountPlan {
  columns: PreviewColumn[];
  /** Per column: Σ coeff × count[index] over the plan's count list. */
  combos: { index: number; coeff: number }[][];
  /** How many counts (`combos` index into them); a count that no round fills is 0. */
  size: number;
  /** The first batch (with one round, every count). */
  first: CountRound;
  /**
   * Two rounds: the held-tag counts, each written from the smaller side, given the counts of the
   * first round. Counts it leaves out are 0 (a side of the conjunction was empty).
   */
  second?: (counts: readonly number[]) => CountRound;
}

/** Knobs for measuring (bench/preview.ts) and for tests; the preview uses the defaults. */
export interface PlanTuning {
  /** At most this many counts per statement (default: as many as D1's limits allow). */
  countsPerStatement?: number;
  /** Only total, matched, nodes and edges: no gain / lose / holders columns (default false). */
  nodesOnly?: boolean;
  /** 2 (default): held-tag counts in a second batch, each from its smaller side; 1: one batch. */
  rounds?: 1 | 2;
  /**
   * "Holds tag t" next to other tests: chosen (auto: by the narrowing rule in one round, by the
   * sides' sizes in two), or always one form.
   */
  held?: HeldForm | 'auto';
  /**
   * Two rounds: counts over an aggregate set ride on one pass over the smallest of them, held
   * tags included, in the first round, so the set is built and walked once (default true).
   */
  narrow?: boolean;
  /** Two rounds: merge an id-ordered equality with the holders where they are of a size (default true). */
  merge?: boolean;
  /** Counts that differ only in bands of one score share one pass computing the score (default true). */
  bandPasses?: boolean;
  /** Two rounds: held-tag counts probed from the same side share one pass over it (default true). */
  heldGroups?: boolean;
}

/**
 * How a count with "holds tag t" reads the tag: `walk` the tag index and look each holder up;
 * probe each contact the other atoms leave (`exists`); build the holder set and look them up
 * in it (`in`); or intersect both sides as id lists in order (`merge`).
 */
export type HeldForm = 'walk' | 'exists' | 'in' | 'merge';

/** Indicator polynomial: monomial (sorted atom indices joined by ',', '' = 1) → coefficient. */
type Poly = Map<string, number>;

class TooBig extends Error {}

const ONE = (): Poly => new Map([['', 1]]);
const atom = (i: number): Poly => new Map([[String(i), 1]]);

function add(into: Poly, p: Poly, k: number): Poly {
  for (const [m, c] of p) {
    const v = (into.get(m) ?? 0) + k * c;
    if (v === 0) into.delete(m);
    else into.set(m, v);
  }
  if (into.size > MAX_TERMS) throw new TooBig();
  return into;
}
/** A product of atoms no contact satisfies (two disjoint bands of one score), or not. */
type Impossible = (atoms: readonly number[]) => boolean;

function mulMono(a: string, b: string, impossible?: Impossible): string | null {
  if (a === '') return b;
  if (b === '') return a;
  const set = new Set([...a.split(','), ...b.split(',')].map(Number));
  const ids = [...set].sort((x, y) => x - y);
  if (impossible?.(ids)) return null;
  return ids.join(',');
}
function mul(a: Poly, b: Poly, impossible?: Impossible): Poly {
  const out: Poly = new Map();
  for (const [ma, ca] of a) {
    for (const [mb, cb] of b) {
      const m = mulMono(ma, mb, impossible);
      if (m === null) continue;
      const v = (out.get(m) ?? 0) + ca * cb;
      if (v === 0) out.delete(m);
      else out.set(m, v);
    }
    if (out.size > MAX_TERMS) throw new TooBig();
  }
  return out;
}
/** 1 − p */
const complement = (p: Poly): Poly => add(ONE(), p, -1);

/**
 * `COALESCE(X, 0)` → `X`: the same truth in a WHERE clause (NULL and 0 both fail), and X alone
 * is something SQLite can match to an index. Anything else is returned as is.
 */
export function unwrapCoalesce(sql: string): string {
  if (!sql.startsWith('COALESCE(') || !sql.endsWith(', 0)')) return sql;
  let depth = 0;
  let quoted = false;
  for (let i = 'COALESCE'.length; i < sql.length; i++) {
    const ch = sql[i];
    if (ch === "'") quoted = !quoted;
    if (quoted) continue;
    if (ch === '(') depth++;
    else if (ch === ')') {
      depth--;
      if (depth === 0 && i !== sql.length - 1) return sql; // the first paren closes early
    } else if (ch === ',' && depth === 1 && i !== sql.length - 4) return sql; // a second argument
  }
  return sql.slice('COALESCE('.length, -', 0)'.length);
}

/** "Contact c holds tag t", probed per contact (EXISTS on the primary key). */
function heldWhere(tagId: number): SqlFrag {
  return { sql: 'EXISTS (SELECT 1 FROM contact_tags ct WHERE ct.contact_id = c.id AND ct.tag_id = ?)', params: [tagId] };
}

/**
 * A MATERIALIZED set a count reads (`aN`). An aggregate comparison's set can also be written over
 * a shared CTE of the aggregate itself (`wN`: every contact's value in the window): a statement
 * with two thresholds on one aggregate (a learned tree splits the same 60-day amount at ¥200 and
 * ¥207) then groups the window once, not once per threshold. A statement with one such set keeps
 * `body`, which filters while it groups.
 */
interface Cte {
  name: string;
  body: SqlFrag;
  shared?: { base: string; baseBody: SqlFrag; body: SqlFrag };
}

interface Atom {
  /** A WHERE-clause predicate on `contacts c`. */
  where: SqlFrag;
  /** The MATERIALIZED CTEs it reads (`aN`). */
  ctes: Cte[];
  /**
   * `c.id IN aN`: the contacts with qualifying events in the window, few next to all contacts
   * (not `NOT IN aN`, which passes everyone without events).
   */
  inSet?: boolean;
  /** The test is this atom's complement (a NOT IN test, counted as 1 − IN). */
  negated?: boolean;
  /** "Holds tag t": written per count (see `heldWhere`). */
  heldTag?: number;
  /**
   * An equality on a column with an index of its own, whose contacts come off the index in id
   * order; or a short IN list on one, as disjoint equalities (`values`).
   */
  idOrdered?: { column: string; values?: (string | number)[] };
}

/**
 * Columns with a single-column index (worker/src/db/schema.ts): `c.col = ?` reads the index in
 * (col, id) order, so its ids come sorted with no sort step (checked in preview-counts.test.ts).
 */
export const ID_ORDERED_COLUMNS = ['kind', 'owner_user_id', 'department_id', 'last_active_at', 'total_spend'] as const;
const ID_ORDERED = new RegExp(`^c\\.(${ID_ORDERED_COLUMNS.join('|')}) = \\?$`);
const ID_ORDERED_IN = new RegExp(`^c\\.(${ID_ORDERED_COLUMNS.join('|')}) IN \\(SELECT value FROM json_each\\(\\?\\)\\)$`);
/**
 * Contact columns some index leads with (worker/src/db/schema.ts): a test naming one may be
 * answered from that index, so a count with it is not a scan and does not serve as a pass base.
 */
const INDEXED_COLUMN = new RegExp(
  `\\bc\\.(${[...ID_ORDERED_COLUMNS, 'region', 'external_id', 'phone_hash', 'id_number_hash'].join('|')})\\b`,
);
/** At most this many values of an IN list are merged one by one (each reads the holders once). */
const MAX_MERGED_VALUES = 4;

/** Whether a test's WHERE predicate reads an id-ordered index (see `Atom.idOrdered`). */
function idOrdered(where: SqlFrag): Atom['idOrdered'] {
  const eq = ID_ORDERED.exec(where.sql);
  if (eq?.[1]) return { column: eq[1] };
  const list = ID_ORDERED_IN.exec(where.sql);
  const json = where.params[0];
  if (!list?.[1] || where.params.length !== 1 || typeof json !== 'string') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  // One JS type, no duplicates: the equalities are then disjoint and their counts add up to
  // the IN's (json_each yields the same TEXT / INTEGER values a bound string / integer is).
  const values = [...new Set(parsed)];
  const strings = values.every((v) => typeof v === 'string');
  const integers = values.every((v) => Number.isSafeInteger(v));
  if (values.length === 0 || values.length > MAX_MERGED_VALUES || !(strings || integers)) return undefined;
  return { column: list[1], values: values as (string | number)[] };
}

const COMPARISONS = new Set(['sf_eq', 'sf_neq', 'sf_lt', 'sf_lte', 'sf_gt', 'sf_gte', 'sf_between']);
const isLogic = (v: unknown): v is Record<string, JsonLogic> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 1;
const isPrimitive = (v: unknown) => v === null || ['string', 'number', 'boolean'].includes(typeof v);

/**
 * Builds the preview's count plan, or null when the rule's polynomials are too large (the
 * caller then uses `buildPreviewQuery`). Errors (parameters, length) as `buildPreviewQuery`.
 */
export function buildPreviewCountPlan(
  rule: CompiledRule,
  ctx: SqlContext,
  opts: PreviewOptions & PlanTuning = {},
): RuleResult<PreviewCountPlan> | null {
  // an estimate from past events counts contacts over (contact, event) rows: the one statement does
  if (ctx.recentEvents) return null;
  try {
    return build(rule, ctx, opts);
  } catch (e) {
    if (e instanceof TooBig) return null;
    if (e instanceof UnsupportedLogicError) return { ok: false, errors: [ruleError(null, 'invalid_document', e.message)] };
    throw e;
  }
}

type Band = { id: string; min: number; max: number | null };
const disjoint = (x: Band, y: Band) => (x.max !== null && x.max <= y.min) || (y.max !== null && y.max <= x.min);

/**
 * The atoms of a rule's preview (its tests as WHERE predicates, score bands, "holds tag t") and
 * each formula as a polynomial over them.
 */
class AtomTable {
  readonly atoms: Atom[] = [];
  /** The score and interval of each band atom. */
  readonly bandOf = new Map<number, Band>();
  readonly testsById: Map<string, CompiledTest>;
  private readonly byKey = new Map<string, number>();
  private ctes = 0;
  /** The shared CTE name of each aggregate (`AggregateJoin.key`). */
  private readonly bases = new Map<string, string>();

  constructor(
    rule: CompiledRule,
    readonly ctx: SqlContext,
  ) {
    this.testsById = new Map(rule.tests.map((t) => [t.id, t]));
  }

  private add(key: string, make: () => Atom): number {
    let i = this.byKey.get(key);
    if (i === undefined) {
      i = this.atoms.length;
      this.atoms.push(make());
      this.byKey.set(key, i);
    }
    return i;
  }

  /** A test's logic as a WHERE predicate (an aggregate comparison as a CTE set). */
  private testAtom(logic: JsonLogic, top = true): Atom {
    if (isLogic(logic)) {
      const op = Object.keys(logic)[0] as string;
      const raw = logic[op] as JsonLogic;
      const args: JsonLogic[] = Array.isArray(raw) ? raw : [raw];
      const head = args[0];
      const lits = args.slice(1);
      if (COMPARISONS.has(op) && isLogic(head) && 'sf_agg' in head && lits.every(isPrimitive)) {
        const set = this.aggregateAtom(logic, op, head, lits, top);
        if (set) return set;
      }
      if (op === 'and' || op === 'or') {
        // NULL-or-0 fails alike under AND / OR in a WHERE, so the parts may be unwrapped too.
        const parts = args.map((a) => this.testAtom(a, false));
        const sql = balanced(
          parts.map((p) => p.where.sql),
          op === 'and' ? ' AND ' : ' OR ',
          op === 'and' ? '1' : '0',
        );
        return { where: { sql, params: parts.flatMap((p) => p.where.params) }, ctes: parts.flatMap((p) => p.ctes) };
      }
    }
    const f = toSql(logic, this.ctx);
    const sql = unwrapCoalesce(f.sql);
    const where = { sql, params: f.params };
    const ordered = idOrdered(where);
    return { where, ctes: [], ...(ordered ? { idOrdered: ordered } : {}) };
  }

  /** An event-aggregate comparison as a set of contacts in a MATERIALIZED CTE, or null when it is not one. */
  private aggregateAtom(logic: JsonLogic, op: string, head: Record<string, JsonLogic>, lits: JsonLogic[], top: boolean): Atom | null {
    const aggArgs = head.sf_agg;
    if (!Array.isArray(aggArgs) || !aggArgs.every(isPrimitive)) return null;
    const joins: AggregateJoin[] = [];
    const test = toSql(logic, { ...this.ctx, aggregateJoins: joins });
    const join = joins[0];
    if (joins.length !== 1 || !join) return null;
    // A contact without events in the window has the aggregate 0 (no row in the set).
    const zeroPasses =
      LOGIC_OPERATIONS[op]?.js({ contact: {}, now: this.ctx.now, tzOffsetMinutes: this.ctx.tzOffsetMinutes }, 0, ...lits) === true;
    const name = `a${this.ctes++}`;
    const filter = zeroPasses ? `NOT ${test.sql}` : test.sql;
    const body: SqlFrag = {
      sql: `SELECT ${join.alias}.cid AS cid FROM (${join.body.sql}) ${join.alias} WHERE ${filter}`,
      params: [...join.body.params, ...test.params],
    };
    let base = this.bases.get(join.key);
    if (!base) this.bases.set(join.key, (base = `w${this.bases.size}`));
    const shared = {
      base,
      baseBody: join.body,
      body: { sql: `SELECT ${join.alias}.cid AS cid FROM ${base} ${join.alias} WHERE ${filter}`, params: test.params },
    };
    const ctes = [{ name, body, shared }];
    if (zeroPasses && top) {
      // A test alone: 1 − (c.id IN the failing set), so its counts are those of the other atoms
      // minus those over the (few) contacts in the set — never a pass over everyone with a probe each.
      return { where: { sql: `c.id IN ${name}`, params: [] }, ctes, inSet: true, negated: true };
    }
    return {
      where: { sql: `c.id ${zeroPasses ? 'NOT IN' : 'IN'} ${name}`, params: [] },
      ctes,
      ...(zeroPasses ? {} : { inSet: true }),
    };
  }

  /**
   * Bands of one score are intervals of one number: a contact in two disjoint ones does not
   * exist, so such products are dropped (exclusive band actions then cost no conjunction counts).
   */
  private readonly impossible: Impossible = (ids) => {
    const bands = ids.flatMap((i) => this.bandOf.get(i) ?? []);
    for (let i = 0; i < bands.length; i++) {
      for (let j = i + 1; j < bands.length; j++) {
        const x = bands[i] as Band;
        const y = bands[j] as Band;
        if (x.id === y.id && disjoint(x, y)) return true;
      }
    }
    return false;
  };

  times(a: Poly, b: Poly): Poly {
    return mul(a, b, this.impossible);
  }

  polyOf(f: Formula): Poly {
    switch (f.t) {
      case 'true':
        return ONE();
      case 'test': {
        const t = this.testsById.get(f.id);
        if (!t) return new Map();
        // As the one-statement preview: without an event, tests of the event count as passed.
        if (t.eventScoped && this.ctx.event === undefined && t.kind === 'bool') return ONE();
        const i = this.add(`t:${f.id}`, () => this.testAtom(t.logic));
        return this.atoms[i]?.negated ? complement(atom(i)) : atom(i);
      }
      case 'band': {
        const t = this.testsById.get(f.id);
        if (!t) return new Map();
        const { min, max } = f;
        const i = this.add(`b:${f.id}|${min}|${max}`, () => {
          const band = toSql({ sf_band: [t.logic, min, max] }, this.ctx);
          return { where: { sql: unwrapCoalesce(band.sql), params: band.params }, ctes: [] };
        });
        this.bandOf.set(i, { id: f.id, min, max });
        return atom(i);
      }
      case 'and': {
        let p = ONE();
        for (const x of f.of) p = this.times(p, this.polyOf(x));
        return p;
      }
      case 'or': {
        let none = ONE();
        for (const x of f.of) none = this.times(none, complement(this.polyOf(x)));
        return complement(none);
      }
      case 'not':
        return complement(this.polyOf(f.of));
    }
  }

  /** "Holds tag t" as an atom. */
  held(tagId: number): Poly {
    return atom(this.add(`h:${tagId}`, () => ({ where: { sql: '', params: [] }, ctes: [], heldTag: tagId })));
  }

  /** The atoms of a monomial. */
  of(m: string): Atom[] {
    return m === '' ? [] : m.split(',').map((i) => this.atoms[Number(i)] as Atom);
  }
}

/** The preview's columns (total, matched, nodes, edges, per-tag net change, conflicts), each a polynomial. */
function previewColumns(rule: CompiledRule, t: AtomTable, opts: PreviewOptions & PlanTuning) {
  const columns: PreviewColumn[] = [];
  const polys: Poly[] = [];
  const column = (c: PreviewColumn, p: Poly) => {
    columns.push(c);
    polys.push(p);
  };
  const NEVER: Formula = { t: 'not', of: { t: 'true' } };
  const reachPoly = new Map<string, Poly>();
  const reachOf = (nodeId: string) => {
    let p = reachPoly.get(nodeId);
    if (!p) {
      p = t.polyOf(rule.reach[nodeId] ?? NEVER);
      reachPoly.set(nodeId, p);
    }
    return p;
  };
  column({ kind: 'total' }, ONE());
  let none = ONE();
  for (const a of rule.actions) none = t.times(none, complement(reachOf(a.nodeId)));
  column({ kind: 'matched' }, complement(none));
  for (const nodeId of Object.keys(rule.reach)) column({ kind: 'node', nodeId }, reachOf(nodeId));
  for (const [edgeId, f] of Object.entries(rule.edgeFlow)) column({ kind: 'edge', edgeId }, t.polyOf(f));
  if (!opts.nodesOnly) {
    // The net change per tag (net-effect.ts): gain = wins ∧ ¬holds; lose = holds ∧ (removed ∨
    // displaced); kept = holds and the rule neither adds nor takes it.
    const plan = opts.net ?? netPlan(rule.actions, () => undefined);
    let unchanged = ONE(); // Π over tags of (1 − gains it − loses it): the two are disjoint
    const outbound = rule.actions.filter((a) => !isTagAction(a.action));
    for (const f of netFormulas(rule, plan)) {
      const h = t.held(f.tagId);
      const wins = f.add ? t.polyOf(f.add) : new Map<string, number>();
      const kept = (p: Formula | null) => (p ? complement(t.polyOf(p)) : ONE());
      const away = complement(t.times(kept(f.remove), kept(f.displaced)));
      const gain = t.times(wins, complement(h));
      const lose = t.times(h, away);
      column({ kind: 'tag_gain', tagId: f.tagId }, gain);
      column({ kind: 'tag_lose', tagId: f.tagId }, lose);
      if (f.add) column({ kind: 'tag_kept', tagId: f.tagId }, t.times(h, t.times(complement(wins), complement(away))));
      if (outbound.length > 0) unchanged = t.times(unchanged, add(complement(gain), lose, -1));
    }
    plan.conflicts.forEach((c, index) => column({ kind: 'conflict', index }, t.polyOf(conflictFormula(rule, c))));
    // A call-webhook / notify node calls for the contacts it reaches whose tags the rule changes.
    const changed = complement(unchanged);
    for (const a of outbound) column({ kind: 'calls', nodeId: a.nodeId }, t.times(reachOf(a.nodeId), changed));
  }
  return { columns, polys };
}

/** How one statement's counts read their atoms: the shapes of a count query, and packing them into statements. */
class CountQueries {
  constructor(
    private readonly t: AtomTable,
    private readonly opts: PreviewOptions & PlanTuning,
  ) {}

  private get scope() {
    return this.opts.scope;
  }

  /** The contacts in scope satisfying every atom of `used`, "holds t" written in `form`. */
  count(used: Atom[], form: HeldForm): CountQuery {
    const scope = this.scope;
    const others = used.filter((a) => a.heldTag === undefined);
    const held = used.filter((a) => a.heldTag !== undefined);
    const tag = held[0]?.heldTag;
    // Every contact_tags row names a contact (foreign key, enforced by D1): the tag index alone.
    if (used.length === 1 && tag !== undefined && !scope) return holdersQuery(tag);
    if (form === 'walk' && held.length === 1 && tag !== undefined) {
      // Walk the tag index (contact ids in order) and look each holder up.
      const preds = [{ sql: 'ht.tag_id = ?', params: [tag] as unknown[] }, ...others.map((a) => a.where), ...(scope ? [scope] : [])];
      return {
        sql: `(SELECT count(*) FROM contact_tags ht CROSS JOIN contacts c ON c.id = ht.contact_id${whereOf(preds)})`,
        params: preds.flatMap((p) => p.params),
        ctes: others.flatMap((a) => a.ctes),
      };
    }
    if (form === 'merge' && held.length === 1 && tag !== undefined) return this.merged(others, held, tag);
    // From the other atoms' side: each contact they leave is probed (EXISTS on the primary
    // key), or looked up in the holder set built once (IN).
    const preds = used.map((a) => (a.heldTag === undefined ? a.where : form === 'in' ? heldIn(a.heldTag) : heldWhere(a.heldTag)));
    if (scope) preds.push(scope);
    return {
      sql: `(SELECT count(*) FROM contacts c${whereOf(preds)})`,
      params: preds.flatMap((p) => p.params),
      ctes: others.flatMap((a) => a.ctes),
    };
  }

  /** "Holds t ∧ others" as a merge of two id lists in order. */
  private merged(others: Atom[], held: Atom[], tag: number): CountQuery {
    const scope = this.scope;
    const list = others.length === 1 ? others[0]?.idOrdered : undefined;
    if (list?.values && !scope) {
      // An IN list merged value by value: disjoint equalities, each read in id order.
      const parts = list.values.map((v) =>
        this.count(
          [{ where: { sql: `c.${list.column} = ?`, params: [v] }, ctes: [], idOrdered: { column: list.column } }, ...held],
          'merge',
        ),
      );
      return { sql: `(${parts.map((p) => p.sql).join(' + ')})`, params: parts.flatMap((p) => p.params), ctes: [] };
    }
    // Both sides as ascending id lists, intersected by a merge (SQLite's MERGE (INTERSECT) for a
    // compound SELECT with ORDER BY): the holders are read off the tag index in order, the
    // other side is sorted only when its plan does not already yield ids in order.
    const preds = others.map((a) => a.where);
    if (scope) preds.push(scope);
    return {
      sql: `(SELECT count(*) FROM (SELECT c.id FROM contacts c${whereOf(preds)} INTERSECT SELECT ht.contact_id FROM contact_tags ht WHERE ht.tag_id = ? ORDER BY 1))`,
      params: [...preds.flatMap((p) => p.params), tag],
      ctes: others.flatMap((a) => a.ctes),
    };
  }

  /** Where other atoms are selective — an aggregate set, or two or more tests — probe per contact. */
  narrowed(used: Atom[]): boolean {
    const others = used.filter((a) => a.heldTag === undefined);
    return others.some((a) => a.ctes.length > 0) || others.length >= 2;
  }

  /**
   * One pass over the contacts satisfying `used`: their count, and per rider how many of them
   * also satisfy its extra atoms (one text "n,r1,r2…"). `CASE WHEN` keeps the WHERE clause's
   * truth (NULL fails).
   */
  pass(used: Atom[], riders: Atom[][]): CountQuery {
    const preds = used.map((a) => a.where);
    if (this.scope) preds.push(this.scope);
    const sums = riders.map((extra) => countWhen(extra.map((a) => (a.heldTag === undefined ? a.where : heldWhere(a.heldTag)))));
    return {
      // balanced, as the statement's own list: SQLite caps an expression's depth at 100
      sql: `(SELECT ${packCounts(['count(*)', ...sums.map((x) => x.sql)])} FROM contacts c${whereOf(preds)})`,
      params: [...sums.flatMap((x) => x.params), ...preds.flatMap((p) => p.params)],
      ctes: [...used, ...riders.flat()].flatMap((a) => a.ctes),
      n: 1 + riders.length,
    };
  }

  /**
   * Counts with a band of a score: written alone, each evaluates the score for every contact it
   * reads (a correlated subquery per aggregate metric), once per count — a score's four bands and
   * their tags were 25 such scans. Counts that differ only in their bands of one score share one
   * pass instead, computing the score once per contact and summing `CASE WHEN band` per count:
   * over all contacts with the aggregates as joins (one pass over each window), or over a held
   * tag's holders (the tag index walked) with the aggregates per contact (few contacts).
   */
  bandPass(scoreId: string, rest: Atom[], bands: number[][]): CountQuery | null {
    const { ctx, bandOf } = this.t;
    const test = this.t.testsById.get(scoreId);
    if (!test) return null;
    const held = rest.filter((a) => a.heldTag !== undefined);
    const walk = held.length === 1 ? held[0]?.heldTag : undefined;
    const joins: AggregateJoin[] = [];
    const score = toSql(test.logic, walk === undefined ? { ...ctx, aggregateJoins: joins } : ctx);
    const preds: SqlFrag[] = [
      ...(walk === undefined ? [] : [{ sql: 'ht.tag_id = ?', params: [walk] as unknown[] }]),
      ...rest.filter((a) => a.heldTag === undefined).map((a) => a.where),
      ...held.filter((a) => a.heldTag !== walk).map((a) => heldWhere(a.heldTag as number)),
      ...(this.scope ? [this.scope] : []),
    ];
    const v: SqlFrag = { sql: 'v', params: [] };
    const sums = bands.map((ids) =>
      countWhen(
        ids.map((i) => {
          const b = bandOf.get(i) as Band;
          const args = [
            { kind: 'expr', frag: v },
            { kind: 'lit', value: b.min },
            { kind: 'lit', value: b.max },
          ] as const;
          return (LOGIC_OPERATIONS.sf_band as LogicOperation).sql([...args], ctx);
        }),
      ),
    );
    const from = walk === undefined ? 'contacts c' : 'contact_tags ht CROSS JOIN contacts c ON c.id = ht.contact_id';
    return {
      // LIMIT -1: the inner select is not flattened, so the score is computed once per contact
      sql: `(SELECT ${packCounts(sums.map((s) => s.sql))} FROM (SELECT ${score.sql} AS v FROM ${from}${joins.map((j) => ` ${j.frag.sql}`).join('')}${whereOf(preds)} LIMIT -1))`,
      params: [
        ...sums.flatMap((s) => s.params),
        ...score.params,
        ...joins.flatMap((j) => j.frag.params),
        ...preds.flatMap((p) => p.params),
      ],
      ctes: rest.flatMap((a) => a.ctes),
      n: sums.length,
    };
  }

  /**
   * Several tags counted from the same smaller side (the tags of an exclusive group a rule adds
   * into, each possibly displaced): one pass over that side's contacts, looking up all the tags
   * at once, instead of one pass per tag.
   */
  heldGroup(rest: Atom[], tags: number[]): CountQuery {
    const preds = rest.map((a) => a.where);
    if (this.scope) preds.push(this.scope);
    const sums = tags.map((t) => ({ sql: 'coalesce(sum(CASE WHEN ht.tag_id = ? THEN 1 ELSE 0 END), 0)', params: [t] as unknown[] }));
    return {
      sql: `(SELECT ${packCounts(sums.map((s) => s.sql))} FROM contacts c JOIN contact_tags ht ON ht.contact_id = c.id AND ht.tag_id IN (SELECT value FROM json_each(?))${whereOf(preds)})`,
      params: [...sums.flatMap((s) => s.params), JSON.stringify(tags), ...preds.flatMap((p) => p.params)],
      ctes: rest.flatMap((a) => a.ctes),
      n: tags.length,
    };
  }

  statement(part: CountQuery[]): SqlFrag {
    const sets = new Map<string, Cte>();
    for (const q of part) for (const c of q.ctes) sets.set(c.name, c);
    // an aggregate two sets of this statement read is grouped once, ahead of them
    const readers = new Map<string, number>();
    for (const c of sets.values()) if (c.shared) readers.set(c.shared.base, (readers.get(c.shared.base) ?? 0) + 1);
    const withs = new Map<string, SqlFrag>();
    for (const c of sets.values()) {
      if (c.shared && (readers.get(c.shared.base) ?? 0) > 1) {
        if (!withs.has(c.shared.base)) withs.set(c.shared.base, c.shared.baseBody);
        withs.set(c.name, c.shared.body);
      } else withs.set(c.name, c.body);
    }
    const head = withs.size ? `WITH ${[...withs].map(([name, b]) => `${name} AS MATERIALIZED (${b.sql})`).join(', ')} ` : '';
    const sql = `${head}SELECT ${packCounts(part.map((q) => q.sql))} AS counts`;
    return numberParams(sql, [...[...withs.values()].flatMap((b) => b.params), ...part.flatMap((q) => q.params)]);
  }

  /** Whether these counts fit in one statement within D1's limits. */
  fit(part: CountQuery[]): boolean {
    const s = this.statement(part);
    return s.params.length <= D1_MAX_PARAMS && s.sql.length <= D1_MAX_STATEMENT_BYTES;
  }

  /** Packs counts into as few statements as D1's limits allow (each count must fit alone). */
  pack(counts: CountQuery[], fills: number[]): CountRound {
    const statements: SqlFrag[] = [];
    const perStatement: number[] = [];
    let start = 0;
    while (start < counts.length) {
      let end = start + 1;
      const most = this.opts.countsPerStatement ?? counts.length;
      while (end < counts.length && end - start < most && this.fit(counts.slice(start, end + 1))) end++;
      statements.push(this.statement(counts.slice(start, end)));
      perStatement.push(counts.slice(start, end).reduce((n, q) => n + (q.n ?? 1), 0));
      start = end;
    }
    return { statements, perStatement, fills };
  }
}

const tooBig = (): RuleResult<never> => ({
  ok: false,
  errors: [
    ruleError(
      null,
      'too_many_parameters',
      `one count of the preview needs more than ${D1_MAX_PARAMS} SQL parameters or ${D1_MAX_STATEMENT_BYTES} bytes: simplify the rule`,
    ),
  ],
});

/** The distinct monomials of the columns (each one count), and each column as coefficients over them. */
interface Counts {
  monomials: string[];
  indexOf: Map<string, number>;
  combos: { index: number; coeff: number }[][];
}

function countsOf(polys: Poly[]): Counts {
  const monomials: string[] = [];
  const indexOf = new Map<string, number>();
  for (const p of polys) {
    for (const m of p.keys()) {
      if (indexOf.has(m)) continue;
      indexOf.set(m, monomials.length);
      monomials.push(m);
    }
  }
  const combos = polys.map((p) => [...p].map(([m, coeff]) => ({ index: indexOf.get(m) as number, coeff })));
  return { monomials, indexOf, combos };
}

/** Counts that differ only in bands of one score, each group as one pass (see `bandPass`). */
function bandPassesOf(c: Counts, t: AtomTable, q: CountQueries, opts: PlanTuning) {
  const bandPasses: { indices: number[]; query: CountQuery }[] = [];
  const banded = new Set<number>();
  if (opts.bandPasses === false) return { bandPasses, banded };
  const groups = new Map<string, { score: string; rest: number[]; bands: number[][]; indices: number[] }>();
  c.monomials.forEach((m, index) => {
    const ids = m === '' ? [] : m.split(',').map(Number);
    const bands = ids.filter((i) => t.bandOf.has(i));
    const scores = [...new Set(bands.map((i) => t.bandOf.get(i)?.id as string))];
    if (scores.length !== 1) return;
    const rest = ids.filter((i) => !t.bandOf.has(i));
    const key = `${scores[0]}|${rest.join(',')}`;
    const g = groups.get(key) ?? { score: scores[0] as string, rest, bands: [], indices: [] };
    g.bands.push(bands);
    g.indices.push(index);
    groups.set(key, g);
  });
  for (const g of groups.values()) {
    const query = q.bandPass(
      g.score,
      g.rest.map((i) => t.atoms[i] as Atom),
      g.bands,
    );
    if (!query || !q.fit([query])) continue;
    bandPasses.push({ indices: g.indices, query });
    for (const i of g.indices) banded.add(i);
  }
  return { bandPasses, banded };
}

/**
 * Counts over an aggregate set ride on one pass: every conjunction that contains a smaller one
 * with an aggregate set (the chain's later prefixes) is counted in the pass over that smaller
 * one's contacts (`count(*)`, `sum(CASE WHEN extra …)`), as enumerating the set and looking its
 * contacts up was most of each such count's cost. "… ∧ holds t" rides only on a pass with a
 * positive set (`IN aN`, few contacts): on a pass over a NOT IN set (nearly everyone; now only
 * inside an AND / OR of tests) its EXISTS per contact cost 1.2 s at 1M, so elsewhere it is sized
 * in the second batch.
 */
function ridersOf(c: Counts, t: AtomTable, q: CountQueries, banded: Set<number>) {
  const { monomials } = c;
  const atomIds = (index: number) => (monomials[index] ? (monomials[index] as string).split(',').map(Number) : []);
  const riders = new Map<number, { index: number; extra: Atom[] }[]>();
  const rides = new Set<number>();
  const bases: number[] = [];
  const withSet = monomials
    .map((_m, i) => i)
    .filter(
      (i) =>
        !banded.has(i) &&
        t.of(monomials[i] as string).some((a) => a.ctes.length > 0) &&
        t.of(monomials[i] as string).filter((a) => a.heldTag !== undefined).length <= 1,
    )
    .sort((a, b) => atomIds(a).length - atomIds(b).length || a - b);
  const ride = (i: number, base: number) => {
    const extra = atomIds(i)
      .filter((x) => !atomIds(base).includes(x))
      .map((x) => t.atoms[x] as Atom);
    riders.set(base, [...(riders.get(base) ?? []), { index: i, extra }]);
    rides.add(i);
  };
  for (const i of withSet) {
    const ids = atomIds(i);
    const isHeld = t.of(monomials[i] as string).some((a) => a.heldTag !== undefined);
    const base = bases.find((b) => atomIds(b).every((x) => ids.includes(x)) && (!isHeld || atomIds(b).some((x) => t.atoms[x]?.inSet)));
    if (base !== undefined) ride(i, base);
    else if (!isHeld) bases.push(i);
  }
  // Plain conjunctions (tests only) over a base no index can narrow: the base is a scan whatever
  // its form, so a chain's later prefixes ride on it. Counted alone, `source_channel IN (…) AND
  // region IN (…)` walked the region index and looked up 42% of all contacts (bench/learn.ts).
  const plain = monomials
    .map((_m, i) => i)
    .filter(
      (i) =>
        monomials[i] !== '' &&
        !banded.has(i) &&
        !rides.has(i) &&
        t.of(monomials[i] as string).every((a) => a.heldTag === undefined && !a.ctes.length),
    )
    .sort((a, b) => atomIds(a).length - atomIds(b).length || a - b);
  const scanBases: number[] = [];
  for (const i of plain) {
    const ids = atomIds(i);
    const base = scanBases.find((b) => atomIds(b).every((x) => ids.includes(x)));
    if (base !== undefined) ride(i, base);
    else if (t.of(monomials[i] as string).every((a) => !INDEXED_COLUMN.test(a.where.sql))) scanBases.push(i);
  }
  // A pass too large for one statement: its counts go back to one query each.
  for (const [base, group] of riders) {
    if (
      q.fit([
        q.pass(
          t.of(monomials[base] as string),
          group.map((g) => g.extra),
        ),
      ])
    )
      continue;
    riders.delete(base);
    for (const g of group) rides.delete(g.index);
  }
  return { riders, rides };
}

/** A held count left for the second round: its index, the indices of its two sides' counts, its atoms. */
interface Later {
  index: number;
  holders: number;
  rest: number;
  used: Atom[];
}

/**
 * Builds the preview's count plan (see the file's comment), or null when the polynomials are too
 * large. Phases: atoms and polynomials (AtomTable, previewColumns), the distinct counts, the
 * passes shared by bands and by aggregate sets, then one or two rounds of statements.
 */
function build(rule: CompiledRule, outer: SqlContext, opts: PreviewOptions & PlanTuning): RuleResult<PreviewCountPlan> | null {
  const t = new AtomTable(rule, { now: outer.now, tzOffsetMinutes: outer.tzOffsetMinutes, event: outer.event });
  const { columns, polys } = previewColumns(rule, t, opts);
  const c = countsOf(polys);
  if (c.monomials.length > MAX_PREVIEW_COUNTS) return null;
  const q = new CountQueries(t, opts);
  const { bandPasses, banded } = bandPassesOf(c, t, q, opts);
  const forced = opts.held === 'auto' ? undefined : opts.held;
  if ((opts.rounds ?? 2) === 1) {
    const fills: number[] = [];
    const queries: CountQuery[] = [];
    c.monomials.forEach((m, index) => {
      if (banded.has(index)) return;
      const used = t.of(m);
      queries.push(q.count(used, forced ?? (q.narrowed(used) ? 'exists' : 'walk')));
      fills.push(index);
    });
    for (const b of bandPasses) {
      queries.push(b.query);
      fills.push(...b.indices);
    }
    if (!queries.every((x) => q.fit([x]))) return tooBig();
    return { ok: true, value: { columns, combos: c.combos, size: c.monomials.length, first: q.pack(queries, fills) } };
  }
  return twoRounds(c, t, q, { columns, bandPasses, banded, forced, opts });
}

/** What the rounds need besides the counts: the columns, the band passes, a forced held form, the tuning. */
interface RoundInputs {
  columns: PreviewColumn[];
  bandPasses: { indices: number[]; query: CountQuery }[];
  banded: Set<number>;
  forced: HeldForm | undefined;
  opts: PreviewOptions & PlanTuning;
}

/**
 * Two rounds. The first: every count without a held tag, each held tag's holder count (the tag
 * index alone, without the scope: that is what a walk visits), and — unless `narrow: false` —
 * the held counts next to a positive aggregate set (riding on its pass). The second: every other
 * held count, from the smaller side.
 */
function twoRounds(c: Counts, t: AtomTable, q: CountQueries, o: RoundInputs): RuleResult<PreviewCountPlan> {
  const { monomials, indexOf } = c;
  const { forced, opts } = o;
  const scope = opts.scope;
  const first: number[] = [];
  const firstQueries: CountQuery[] = [];
  const later: Later[] = [];
  const extra: CountQuery[] = [];
  const holdersIndex = new Map<number, number>();
  const { riders, rides } =
    opts.narrow !== false && forced === undefined ? ridersOf(c, t, q, o.banded) : { riders: new Map(), rides: new Set<number>() };
  for (const b of o.bandPasses) {
    first.push(...b.indices);
    firstQueries.push(b.query);
  }
  monomials.forEach((m, index) => {
    if (rides.has(index) || o.banded.has(index)) return;
    const used = t.of(m);
    const group: { index: number; extra: Atom[] }[] | undefined = riders.get(index);
    if (group) {
      first.push(index, ...group.map((g) => g.index));
      firstQueries.push(
        q.pass(
          used,
          group.map((g) => g.extra),
        ),
      );
      return;
    }
    const held = used.filter((a) => a.heldTag !== undefined);
    const tag = held[0]?.heldTag;
    const restKey =
      tag === undefined
        ? undefined
        : m
            .split(',')
            .filter((i) => t.atoms[Number(i)]?.heldTag !== tag)
            .join(',');
    const rest = restKey === undefined ? undefined : indexOf.get(restKey);
    if (
      tag === undefined ||
      rest === undefined ||
      held.length > 1 ||
      (used.length === 1 && !scope) ||
      (opts.narrow !== false && used.some((a) => a.inSet))
    ) {
      first.push(index);
      firstQueries.push(q.count(used, forced ?? (q.narrowed(used) || held.length > 1 ? 'exists' : 'walk')));
      return;
    }
    let holders = holdersIndex.get(tag);
    if (holders === undefined) {
      const alone = scope ? undefined : indexOf.get(String(t.atoms.findIndex((a) => a.heldTag === tag)));
      holders = alone ?? monomials.length + extra.push(holdersQuery(tag)) - 1;
      holdersIndex.set(tag, holders);
    }
    later.push({ index, holders, rest, used });
  });
  for (const l of later) {
    for (const form of ['walk', 'exists', 'in', 'merge'] as const) if (!q.fit([q.count(l.used, form)])) return tooBig();
  }
  if (!firstQueries.every((x) => q.fit([x]))) return tooBig();
  const firstRound = q.pack([...firstQueries, ...extra], [...first, ...extra.map((_q, i) => monomials.length + i)]);
  const second = (counts: readonly number[]) => secondRound(later, counts, q, forced, opts);
  return {
    ok: true,
    value: {
      columns: o.columns,
      combos: c.combos,
      size: monomials.length + extra.length,
      first: firstRound,
      ...(later.length ? { second } : {}),
    },
  };
}

/**
 * Drive from the smaller side. Where the other side is one equality read off its own index (ids
 * in order, as the holders are) and neither side is MERGE_RATIO× the other, merge them: two
 * sequential index reads instead of a B-tree probe per contact. Only then: a side whose ids need
 * sorting (or a scope) makes SQLite scan the table in id order for the merge, which measured
 * slower than either other form.
 */
function pickHeldForm(used: Atom[], side: number, holders: number, opts: PreviewOptions & PlanTuning): HeldForm {
  const others = used.filter((a) => a.heldTag === undefined);
  const mergeable = opts.merge !== false && !opts.scope && others.length === 1 && others[0]?.idOrdered !== undefined;
  if (mergeable && side < holders * MERGE_RATIO && holders < side * MERGE_RATIO) return 'merge';
  return side <= holders ? 'exists' : 'walk';
}

/** The second round, given the first round's counts: each held count from its smaller side. */
function secondRound(
  later: Later[],
  counts: readonly number[],
  q: CountQueries,
  forced: HeldForm | undefined,
  opts: PreviewOptions & PlanTuning,
): CountRound {
  const queries: CountQuery[] = [];
  const fills: number[] = [];
  const bySide = new Map<number, Later[]>();
  for (const l of later) {
    const holders = counts[l.holders] ?? 0;
    const side = counts[l.rest] ?? 0;
    // A conjunction lies within both sides: an empty side needs no query (the count stays 0).
    if (holders === 0 || side === 0) continue;
    const form = forced ?? pickHeldForm(l.used, side, holders, opts);
    if (form === 'exists' && forced === undefined && opts.heldGroups !== false) {
      bySide.set(l.rest, [...(bySide.get(l.rest) ?? []), l]);
      continue;
    }
    queries.push(q.count(l.used, form));
    fills.push(l.index);
  }
  for (const group of bySide.values()) {
    const tags = group.map((l) => l.used.find((a) => a.heldTag !== undefined)?.heldTag as number);
    const rest = (group[0] as Later).used.filter((a) => a.heldTag === undefined);
    const one = group.length > 1 ? q.heldGroup(rest, tags) : q.count((group[0] as Later).used, 'exists');
    if (group.length > 1 && !q.fit([one])) {
      for (const l of group) {
        queries.push(q.count(l.used, 'exists'));
        fills.push(l.index);
      }
      continue;
    }
    queries.push(one);
    fills.push(...group.map((l) => l.index));
  }
  return q.pack(queries, fills);
}

/** ` WHERE a AND b …` (balanced: SQLite caps an expression's depth at 100), or '' for no predicates. */
function whereOf(preds: readonly SqlFrag[]): string {
  return preds.length
    ? ` WHERE ${balanced(
        preds.map((p) => p.sql),
        ' AND ',
        '1',
      )}`
    : '';
}

/** How many rows satisfy every part: `sum(CASE WHEN …)`, which keeps the WHERE clause's truth (NULL fails). */
function countWhen(parts: readonly SqlFrag[]): SqlFrag {
  return {
    sql: `coalesce(sum(CASE WHEN ${balanced(
      parts.map((p) => p.sql),
      ' AND ',
      '1',
    )} THEN 1 ELSE 0 END), 0)`,
    params: parts.flatMap((p) => p.params),
  };
}

/** A count subquery and the MATERIALIZED sets it reads. */
interface CountQuery {
  sql: string;
  params: unknown[];
  ctes: Cte[];
  /** How many comma-separated counts it yields (default 1). */
  n?: number;
}

/** Every holder of tag t, on the tag index alone (no scope). */
function holdersQuery(tag: number): CountQuery {
  return { sql: '(SELECT count(*) FROM contact_tags WHERE tag_id = ?)', params: [tag], ctes: [] };
}

/** "Contact c holds tag t" against the holder set, built once per count. */
function heldIn(tagId: number): SqlFrag {
  return { sql: 'c.id IN (SELECT contact_id FROM contact_tags WHERE tag_id = ?)', params: [tagId] };
}

/** Writes one round's packed results (one `counts` text per statement) into `counts`. */
export function fillCounts(round: CountRound, packed: readonly unknown[], counts: number[]): void {
  let k = 0;
  round.perStatement.forEach((n, i) => {
    const got = String(packed[i] ?? '').split(',');
    for (let j = 0; j < n; j++) counts[round.fills[k++] as number] = Number(got[j]) || 0;
  });
}

/** The columns' values from the counts: Σ coeff × count per column. */
export function columnValues(plan: PreviewCountPlan, counts: readonly number[]): number[] {
  return plan.combos.map((terms) => terms.reduce((n, t) => n + t.coeff * (counts[t.index] ?? 0), 0));
}
