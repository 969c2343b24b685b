/**
 * JSON Logic → SQL for D1 (SQLite). Pure: it returns text with `?` placeholders and the values
 * to bind, never text built from user values; running it is the worker's job
 * (`worker/src/rules/preview.ts`). The contacts table is aliased `c`.
 *
 * Two entry points:
 * - `compileWhere`: one predicate (a segment, a node's reach) as a WHERE expression;
 * - `buildPreviewQuery`: ONE statement returning the total, the count at every node and the
 *   gain/lose diff per action. Each test (condition, branch case, score, held tag) is computed
 *   once per contact in an inner SELECT; node counts are `SUM(CASE WHEN … THEN 1 ELSE 0 END)`
 *   over those 0/1 columns, so parameters grow with the number of tests, not with paths.
 */
import { ruleError, UnsupportedLogicError, type RuleResult } from './errors';
import { BUILTIN_FIELDS } from './fields';
import { LOGIC_OPERATIONS, type AggregateJoin, type SqlContext, type SqlFrag, type SqlOperand } from './operators';
import type { CompiledRule, Formula } from './compile';
import { isTagAction, type JsonLogic } from './types';
import { conflictFormula, netFormulas, netPlan, type NetPlan } from './net-effect';

/** D1 refuses statements with more bound parameters than this. */
export const D1_MAX_PARAMS = 100;

/** D1 refuses statements longer than this many bytes (SQLITE_TOOBIG); the SQL is ASCII. */
export const D1_MAX_STATEMENT_BYTES = 100_000;

/**
 * A contact's department path on `contacts c` (one primary-key lookup): what "所属部门及下级"
 * reads, in SQL here and in the JS loaders, which select it `AS department_path`.
 */
export const DEPARTMENT_PATH_SQL = '(SELECT path FROM departments WHERE id = c.department_id)';

/** `var` paths the SQL side understands: contact columns by their catalog key. */
const COLUMN_BY_VAR = new Map<string, string>([
  ...BUILTIN_FIELDS.flatMap((f) => (f.source.kind === 'column' ? [[`contact.${f.key}`, `c.${f.source.column}`] as [string, string]] : [])),
  ['contact.bucket', 'c.bucket'],
  ['contact.id', 'c.id'],
  // the department path the JS loaders join in (`DEPARTMENT_PATH_VAR`): one primary-key lookup
  ['contact.departmentPath', DEPARTMENT_PATH_SQL],
]);
const EVENT_PROPS = new Set(['type', 'text', 'channel', 'amount']);

const isLogic = (v: unknown): v is Record<string, JsonLogic> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 1;
const isPrimitive = (v: unknown) => v === null || ['string', 'number', 'boolean'].includes(typeof v);

/**
 * `a AND b AND c …` as a balanced tree of parentheses. D1 caps expression depth at 100, and
 * SQLite parses a flat chain as a left-deep tree one level per term; balanced, n terms cost
 * log2(n) levels. Parameters stay in text order.
 */
export function balanced(parts: readonly string[], sep: string, empty: string): string {
  if (parts.length === 0) return empty;
  if (parts.length === 1) return `(${parts[0] as string})`;
  const mid = Math.ceil(parts.length / 2);
  return `(${balanced(parts.slice(0, mid), sep, empty)}${sep}${balanced(parts.slice(mid), sep, empty)})`;
}

function join(parts: SqlFrag[], sep: string, empty: string): SqlFrag {
  return {
    sql: balanced(
      parts.map((p) => p.sql),
      sep,
      empty,
    ),
    params: parts.flatMap((p) => p.params),
  };
}

/** Compiles a JSON Logic expression; throws `UnsupportedLogicError` on what it cannot express. */
export function toSql(logic: JsonLogic, ctx: SqlContext): SqlFrag {
  if (logic === true) return { sql: '1', params: [] };
  if (logic === false) return { sql: '0', params: [] };
  if (logic === null) return { sql: 'NULL', params: [] };
  if (typeof logic === 'number' || typeof logic === 'string') return { sql: '?', params: [logic] };
  if (Array.isArray(logic)) throw new UnsupportedLogicError('a list is only allowed as an operation argument');
  if (!isLogic(logic)) throw new UnsupportedLogicError('not a JSON Logic expression');
  const op = Object.keys(logic)[0] as string;
  const raw = logic[op] as JsonLogic;
  const args: JsonLogic[] = Array.isArray(raw) ? raw : [raw];
  switch (op) {
    case 'var': {
      const path = String(args[0]);
      const column = COLUMN_BY_VAR.get(path);
      if (column) return { sql: column, params: [] };
      const [scope, prop] = path.split('.');
      if (scope === 'event' && prop && EVENT_PROPS.has(prop)) {
        // Estimated from past events: the row's own event (buildLayers joins it as `ev`).
        if (ctx.recentEvents) return { sql: `ev.${prop}`, params: [] };
        // The triggering event is one value per statement: a bound parameter.
        const ev = ctx.event as Record<string, unknown> | null | undefined;
        return { sql: '?', params: [ev?.[prop] ?? null] };
      }
      throw new UnsupportedLogicError(`no column for var "${path}"`);
    }
    case 'and':
      return join(
        args.map((a) => toSql(a, ctx)),
        ' AND ',
        '1',
      );
    case 'or':
      return join(
        args.map((a) => toSql(a, ctx)),
        ' OR ',
        '0',
      );
    case '!': {
      const f = toSql(args[0] ?? null, ctx);
      return { sql: `(NOT ${f.sql})`, params: f.params };
    }
    case '!!': {
      const f = toSql(args[0] ?? null, ctx);
      return { sql: `(${f.sql} <> 0)`, params: f.params };
    }
    case 'if': {
      // json-logic-js: no arguments is null; one is the else value alone
      if (args.length === 0) return { sql: 'NULL', params: [] };
      if (args.length === 1) return toSql(args[0] ?? null, ctx);
      let text = '(CASE';
      const params: unknown[] = [];
      let i = 0;
      for (; i + 1 < args.length; i += 2) {
        const c = toSql(args[i] ?? null, ctx);
        const v = toSql(args[i + 1] ?? null, ctx);
        text += ` WHEN ${c.sql} THEN ${v.sql}`;
        params.push(...c.params, ...v.params);
      }
      if (i < args.length) {
        const e = toSql(args[i] ?? null, ctx);
        text += ` ELSE ${e.sql}`;
        params.push(...e.params);
      }
      return { sql: `${text} END)`, params };
    }
    default: {
      const operation = LOGIC_OPERATIONS[op];
      if (!operation) throw new UnsupportedLogicError(`unknown operation "${op}"`);
      const operands: SqlOperand[] = args.map((a) =>
        isPrimitive(a) || (Array.isArray(a) && a.every(isPrimitive)) ? { kind: 'lit', value: a } : { kind: 'expr', frag: toSql(a, ctx) },
      );
      return operation.sql(operands, ctx);
    }
  }
}

/** Operations whose SQL is a value (a count, a score, a custom field), not a 0/1 predicate. */
const VALUE_OPERATIONS = new Set(['sf_agg', 'sf_score', 'sf_custom']);

/** json-logic-js's truthiness of a literal: `[]`, `""`, `0`, `null`, `false` are false; `"0"` is true. */
const literalTruthy = (v: unknown) => (Array.isArray(v) ? v.length > 0 : !!v);

/**
 * JSON Logic used as a condition, as a 0/1 SQL predicate with json-logic-js's truthiness: a
 * string is true unless empty (SQLite would read `'zucchini'` and `'0'` as 0), null and empty
 * lists are false, `and` / `or` / `if` test their parts' truthiness the same way. Comparisons
 * and Segflow's predicates are 0/1 already and compile as `toSql` does.
 */
export function toPredicate(logic: JsonLogic, ctx: SqlContext): SqlFrag {
  if (!isLogic(logic)) return { sql: literalTruthy(logic) ? '1' : '0', params: [] };
  const op = Object.keys(logic)[0] as string;
  const raw = logic[op] as JsonLogic;
  const args: JsonLogic[] = Array.isArray(raw) ? raw : [raw];
  switch (op) {
    case 'and':
    case 'or':
      // no operands: json-logic-js returns undefined, which is false
      if (args.length === 0) return { sql: '0', params: [] };
      return join(
        args.map((a) => toPredicate(a, ctx)),
        op === 'and' ? ' AND ' : ' OR ',
        op === 'and' ? '1' : '0',
      );
    case '!': {
      const f = toPredicate(args[0] ?? null, ctx);
      return { sql: `(NOT ${f.sql})`, params: f.params };
    }
    case '!!':
      return toPredicate(args[0] ?? null, ctx);
    case 'if': {
      if (args.length <= 1) return toPredicate(args[0] ?? null, ctx);
      const parts: SqlFrag[] = [];
      let i = 0;
      for (; i + 1 < args.length; i += 2) parts.push(toPredicate(args[i] ?? null, ctx), toPredicate(args[i + 1] ?? null, ctx));
      const otherwise = toPredicate(i < args.length ? (args[i] ?? null) : null, ctx);
      let sql = '(CASE';
      for (let k = 0; k < parts.length; k += 2) sql += ` WHEN ${parts[k]?.sql} THEN ${parts[k + 1]?.sql}`;
      return { sql: `${sql} ELSE ${otherwise.sql} END)`, params: [...parts.flatMap((p) => p.params), ...otherwise.params] };
    }
    default: {
      if (op !== 'var' && !VALUE_OPERATIONS.has(op) && LOGIC_OPERATIONS[op]) return toSql(logic, ctx);
      // a value: text is true unless empty, a number unless 0, NULL never
      const v = toSql(logic, ctx);
      return {
        sql: `COALESCE(CASE typeof(${v.sql}) WHEN 'text' THEN ${v.sql} <> '' ELSE ${v.sql} <> 0 END, 0)`,
        params: [...v.params, ...v.params, ...v.params],
      };
    }
  }
}

function checked(f: () => SqlFrag): RuleResult<SqlFrag> {
  try {
    const frag = f();
    const long = tooLong(frag.sql);
    if (long) return long;
    if (frag.params.length > D1_MAX_PARAMS) {
      return {
        ok: false,
        errors: [
          ruleError(
            null,
            'too_many_parameters',
            `the rule needs ${frag.params.length} SQL parameters; D1 allows ${D1_MAX_PARAMS}: simplify it`,
          ),
        ],
      };
    }
    return { ok: true, value: frag };
  } catch (e) {
    if (e instanceof UnsupportedLogicError) return { ok: false, errors: [ruleError(null, 'invalid_document', e.message)] };
    throw e;
  }
}

/** A JSON Logic predicate as a 0/1 SQL expression over `contacts c`, with its parameters. */
export function compileWhere(logic: JsonLogic, ctx: SqlContext): RuleResult<SqlFrag> {
  return checked(() => toPredicate(logic, ctx));
}

/** What each output column of the preview query means. */
export type PreviewColumn =
  | { kind: 'total' }
  | { kind: 'matched' }
  | { kind: 'node'; nodeId: string }
  | { kind: 'edge'; edgeId: string }
  /** The net change per tag (net-effect.ts): contacts gaining it, losing it, holding and keeping it. */
  | { kind: 'tag_gain'; tagId: number }
  | { kind: 'tag_lose'; tagId: number }
  | { kind: 'tag_kept'; tagId: number }
  /** Contacts for which both actions of the plan's conflict `index` fire. */
  | { kind: 'conflict'; index: number }
  /**
   * A call-webhook / notify node: contacts it reaches whose tags the rule changes (gain or lose
   * any tag) — the calls publishing makes through it.
   */
  | { kind: 'calls'; nodeId: string };

/**
 * The preview statement and how to read its single result row: one column `counts`, the counts
 * as comma-separated integers in `columns` order. Packed into one text value because D1 also
 * caps a result at 100 columns, and a rule with 50 nodes and 50 edges would pass that.
 */
export interface PreviewQuery {
  sql: string;
  params: unknown[];
  columns: PreviewColumn[];
}

/** Extra options of the preview: a scope over contacts (department, one contact id…). */
export interface PreviewOptions {
  /** Extra predicate on `contacts c` (e.g. `c.department_id IN (…)`), with its parameters. */
  scope?: SqlFrag;
  /**
   * How `runPreview` counts: `counts` (default) as index-friendly conjunction counts
   * (`preview-counts.ts`) when the rule allows, else — and with `single` — the one statement
   * of `buildPreviewQuery`. Tests run both and compare.
   */
  strategy?: 'counts' | 'single';
  /**
   * The rule's net plan (exclusive groups, tags they would displace): without it every tag is
   * taken as non-exclusive.
   */
  net?: NetPlan;
}

/** Thrown inside the builder, turned into a `too_complex` error by `guarded`. */
class TooManyColumns extends Error {
  constructor(readonly count: number) {
    super(`the rule needs ${count} per-contact columns; D1 allows ${D1_MAX_COLUMNS}: split the rule`);
  }
}

/** The per-contact layers shared by the preview and the sample: tests once, then band flags. */
interface Layers {
  from: string;
  params: unknown[];
  expr: (f: Formula) => string;
  held: Map<number, string>;
}

function buildLayers(rule: CompiledRule, outerCtx: SqlContext, scope: SqlFrag | undefined, heldTags: readonly number[] = []): Layers {
  const ctx: SqlContext = { ...outerCtx, aggregateJoins: [] };
  const joins = ctx.aggregateJoins as AggregateJoin[];
  const inner: string[] = ['c.id AS id', 'c.name AS name'];
  const innerParams: unknown[] = [];
  const testCol = new Map<string, string>();
  rule.tests.forEach((t, i) => {
    const name = `t${i}`;
    testCol.set(t.id, name);
    if (t.eventScoped && ctx.event === undefined && !ctx.recentEvents && t.kind === 'bool') {
      inner.push(`1 AS ${name}`);
      return;
    }
    const f = toSql(t.logic, ctx);
    inner.push(`${f.sql} AS ${name}`);
    innerParams.push(...f.params);
  });
  const held = new Map<number, string>();
  for (const tagId of heldTags) {
    if (held.has(tagId)) continue;
    const name = `h${held.size}`;
    held.set(tagId, name);
    inner.push(`EXISTS (SELECT 1 FROM contact_tags ct WHERE ct.contact_id = c.id AND ct.tag_id = ?) AS ${name}`);
    innerParams.push(tagId);
  }

  // Band flags in a middle layer, so the score is computed once however many bands use it.
  const middle: string[] = ['*'];
  const middleParams: unknown[] = [];
  const bandCol = new Map<string, string>();
  const bandKey = (f: Extract<Formula, { t: 'band' }>) => `${f.id}|${f.min}|${f.max}`;
  const collectBands = (f: Formula) => {
    if (f.t === 'band' && !bandCol.has(bandKey(f))) {
      const name = `b${bandCol.size}`;
      bandCol.set(bandKey(f), name);
      const s = testCol.get(f.id) as string;
      middle.push(f.max === null ? `(${s} >= ?) AS ${name}` : `(${s} >= ? AND ${s} < ?) AS ${name}`);
      middleParams.push(...(f.max === null ? [f.min] : [f.min, f.max]));
    } else if (f.t === 'and' || f.t === 'or') f.of.forEach(collectBands);
    else if (f.t === 'not') collectBands(f.of);
  };
  Object.values(rule.reach).forEach(collectBands);
  Object.values(rule.edgeFlow).forEach(collectBands);

  const expr = (f: Formula): string => {
    switch (f.t) {
      case 'true':
        return '1';
      case 'test':
        return testCol.get(f.id) ?? '0';
      case 'band':
        return bandCol.get(bandKey(f)) ?? '0';
      case 'and':
        return balanced(f.of.map(expr), ' AND ', '1');
      case 'or':
        return balanced(f.of.map(expr), ' OR ', '0');
      case 'not':
        return `(NOT ${expr(f.of)})`;
    }
  };
  // `LIMIT -1` (no limit) keeps SQLite from flattening the layers into the outer query, which
  // would copy each test's expression — correlated subqueries included — into every reference.
  // An estimate from past events: one row per contact and trigger event in the window.
  const recent = ctx.recentEvents;
  const events: SqlFrag = recent
    ? {
        sql: ' JOIN events ev ON ev.contact_id = c.id AND ev.type = ? AND ev.occurred_at > ? AND ev.occurred_at <= ?',
        params: [recent.type, recent.fromMs, recent.toMs],
      }
    : { sql: '', params: [] };
  const from =
    `(SELECT ${middle.join(', ')} FROM (` +
    `SELECT ${inner.join(', ')} FROM contacts c${events.sql}${joins.map((j) => ` ${j.frag.sql}`).join('')}${scope ? ` WHERE ${scope.sql}` : ''} LIMIT -1` +
    `) LIMIT -1)`;
  if (middle.length - 1 + inner.length > D1_MAX_COLUMNS) {
    throw new TooManyColumns(middle.length - 1 + inner.length);
  }
  // In text order: the middle select list, the inner select list, the events, the joins, the WHERE.
  const joinParams = joins.flatMap((j) => j.frag.params);
  return { from, params: [...middleParams, ...innerParams, ...events.params, ...joinParams, ...(scope?.params ?? [])], expr, held };
}

/** `a || ',' || b …` as a balanced tree (expression depth), for the packed counts column. */
export function packCounts(parts: readonly string[]): string {
  if (parts.length === 1) return parts[0] as string;
  const mid = Math.ceil(parts.length / 2);
  return `(${packCounts(parts.slice(0, mid))} || ',' || ${packCounts(parts.slice(mid))})`;
}

/** D1 caps a SELECT at 100 columns, including the inner layers'. */
export const D1_MAX_COLUMNS = 100;

function tooLong(sql: string): RuleResult<never> | null {
  if (sql.length <= D1_MAX_STATEMENT_BYTES) return null;
  return {
    ok: false,
    errors: [ruleError(null, 'too_complex', `the query would be ${sql.length} bytes; D1 allows ${D1_MAX_STATEMENT_BYTES}: split the rule`)],
  };
}

/**
 * Numbers the placeholders of a complete statement (`?` → `?N`), one number per distinct value,
 * so a value used by several tests (a window bound, a repeated threshold) takes one of D1's 100
 * slots (D1 accepts `?1`…`?100`). Skips `?` inside quoted SQL strings. Only for whole
 * statements: a fragment meant to be combined with other `?` text keeps anonymous placeholders.
 */
export function numberParams(sql: string, params: readonly unknown[]): SqlFrag {
  const slot = new Map<string, number>();
  const values: unknown[] = [];
  let out = '';
  let next = 0;
  let quoted = false;
  for (const ch of sql) {
    if (ch === "'") quoted = !quoted;
    if (ch !== '?' || quoted) {
      out += ch;
      continue;
    }
    const v = params[next++] ?? null;
    const key = `${typeof v}:${JSON.stringify(v)}`;
    let n = slot.get(key);
    if (n === undefined) {
      values.push(v);
      n = values.length;
      slot.set(key, n);
    }
    out += `?${n}`;
  }
  return { sql: out, params: values };
}

function tooMany(n: number): RuleResult<never> {
  return {
    ok: false,
    errors: [ruleError(null, 'too_many_parameters', `the query needs ${n} SQL parameters; D1 allows ${D1_MAX_PARAMS}: simplify the rule`)],
  };
}

function guarded<T>(f: () => RuleResult<T>): RuleResult<T> {
  try {
    return f();
  } catch (e) {
    if (e instanceof TooManyColumns) return { ok: false, errors: [ruleError(null, 'too_complex', e.message)] };
    if (e instanceof UnsupportedLogicError) return { ok: false, errors: [ruleError(null, 'invalid_document', e.message)] };
    throw e;
  }
}

const NEVER: Formula = { t: 'not', of: { t: 'true' } };

/**
 * The preview statement for a compiled rule: one row with the total, the matched count (any
 * action fires), the count reaching every node and flowing along every edge, and per action the would-gain / would-lose
 * diff against current holders. Without `ctx.event` (a preview), tests that read the
 * triggering event count as satisfied: "who would match if the event came". With `ctx.event`
 * they are evaluated against it, exactly as the webhook path does. With `ctx.recentEvents` they
 * are evaluated against each of the contact's past trigger events in the window, and every
 * count is of contacts for whom at least one of those events would have fired it.
 */
export function buildPreviewQuery(rule: CompiledRule, ctx: SqlContext, opts: PreviewOptions = {}): RuleResult<PreviewQuery> {
  return guarded(() => {
    const plan = opts.net ?? netPlan(rule.actions, () => undefined);
    const layers = buildLayers(
      rule,
      ctx,
      opts.scope,
      plan.tags.map((t) => t.tagId),
    );
    const { expr, held } = layers;
    // COUNT of a CASE without ELSE: 0 over an empty scope, where SUM would be NULL. Estimated
    // from past events, a contact has a row per event: count each contact once (any of its events).
    const sum = ctx.recentEvents
      ? (e: string) => `COUNT(DISTINCT CASE WHEN ${e} THEN id END)`
      : (e: string) => `COUNT(CASE WHEN ${e} THEN 1 END)`;
    const columns: PreviewColumn[] = [{ kind: 'total' }, { kind: 'matched' }];
    const outer: string[] = [ctx.recentEvents ? 'COUNT(DISTINCT id)' : 'COUNT(*)'];
    const actionReach = rule.actions.map((a) => expr(rule.reach[a.nodeId] ?? NEVER));
    outer.push(sum(balanced(actionReach, ' OR ', '0')));
    for (const [nodeId, f] of Object.entries(rule.reach)) {
      columns.push({ kind: 'node', nodeId });
      outer.push(sum(expr(f)));
    }
    for (const [edgeId, f] of Object.entries(rule.edgeFlow)) {
      columns.push({ kind: 'edge', edgeId });
      outer.push(sum(expr(f)));
    }
    const changes: string[] = []; // per tag: the contact gains or loses it
    for (const f of netFormulas(rule, plan)) {
      const h = held.get(f.tagId) as string;
      const add = f.add ? expr(f.add) : '0';
      const away = balanced([f.remove ? expr(f.remove) : '0', f.displaced ? expr(f.displaced) : '0'], ' OR ', '0');
      columns.push({ kind: 'tag_gain', tagId: f.tagId }, { kind: 'tag_lose', tagId: f.tagId });
      outer.push(sum(`${add} AND NOT ${h}`), sum(`${h} AND ${away}`));
      changes.push(`(${add} AND NOT ${h})`, `(${h} AND ${away})`);
      if (f.add) {
        columns.push({ kind: 'tag_kept', tagId: f.tagId });
        outer.push(sum(`${h} AND NOT ${add} AND NOT ${away}`));
      }
    }
    plan.conflicts.forEach((c, index) => {
      columns.push({ kind: 'conflict', index });
      outer.push(sum(expr(conflictFormula(rule, c))));
    });
    const changed = balanced(changes, ' OR ', '0');
    for (const a of rule.actions) {
      if (isTagAction(a.action)) continue;
      columns.push({ kind: 'calls', nodeId: a.nodeId });
      outer.push(sum(`${expr(rule.reach[a.nodeId] ?? NEVER)} AND (${changed})`));
    }
    const q = numberParams(`SELECT ${packCounts(outer)} AS counts FROM ${layers.from}`, layers.params);
    if (q.params.length > D1_MAX_PARAMS) return tooMany(q.params.length);
    return tooLong(q.sql) ?? { ok: true, value: { sql: q.sql, params: q.params, columns } };
  });
}

/** A sample of matching contacts (any action fires), lowest ids first: `SELECT id, name …`. */
export function buildSampleQuery(rule: CompiledRule, ctx: SqlContext, limit: number, opts: PreviewOptions = {}): RuleResult<SqlFrag> {
  return guarded(() => {
    const layers = buildLayers(rule, ctx, opts.scope);
    const match = balanced(
      rule.actions.map((a) => layers.expr(rule.reach[a.nodeId] ?? NEVER)),
      ' OR ',
      '0',
    );
    const params = [...layers.params, Math.max(0, Math.min(1000, Math.floor(limit)))];
    // estimated from past events, a contact may match on several of its events: list it once
    const distinct = ctx.recentEvents ? 'DISTINCT ' : '';
    const q = numberParams(`SELECT ${distinct}id, name FROM ${layers.from} WHERE ${match} ORDER BY id LIMIT ?`, params);
    if (q.params.length > D1_MAX_PARAMS) return tooMany(q.params.length);
    return tooLong(q.sql) ?? { ok: true, value: q };
  });
}

/**
 * The contacts satisfying a formula over `rule`'s tests (a net-effect target: who gains a tag,
 * whose tag a remove takes), as a fragment to embed in a write (publishing now, scheduled runs):
 * `SELECT id FROM <the preview's layers> WHERE <formula>`. Built from the same layers as the
 * preview statement, so what is written is what was counted. Anonymous `?` placeholders: a
 * fragment the caller wraps with its own parameters.
 */
export function buildTargetsQuery(rule: CompiledRule, ctx: SqlContext, formula: Formula, opts: PreviewOptions = {}): RuleResult<SqlFrag> {
  return guarded(() => {
    const layers = buildLayers(rule, ctx, opts.scope);
    const text = `SELECT id FROM ${layers.from} WHERE ${layers.expr(formula)}`;
    if (layers.params.length > D1_MAX_PARAMS) return tooMany(layers.params.length);
    return tooLong(text) ?? { ok: true, value: { sql: text, params: layers.params } };
  });
}
