/**
 * Graph → JSON Logic. Validates everything it can pin to a node and never throws for a bad
 * graph: `{ ok: false, errors }`.
 *
 * Flow semantics (docs/rules.md): every node has a *reach* formula, the set of contacts the
 * flow delivers to it. T is the trigger's test. A condition's `yes` output is reach ∧ test,
 * `no` is reach ∧ ¬test; a branch case i is reach ∧ ¬case1 … ∧ ¬case(i−1) ∧ case i; a score
 * band is reach ∧ (min ≤ score < max); `and` joins all inputs, `or` any, `not` is T ∧ ¬input.
 * Several edges into one node are OR-ed (except into `and`). An action fires when reached.
 *
 * The compiled rule keeps the formulas over named *tests* (one per condition / branch case /
 * score / trigger) as well as the inlined JSON Logic: the SQL preview computes each test once
 * per contact and derives every node count from those columns.
 */
import { upgradeGraph } from './upgrade';
import { cronProblem } from '../schedule';
import { parseRuleGraph } from './schema';
import { outputHandles } from './handles';
import { ruleError, type RuleError, type RuleResult } from './errors';
import { fieldCatalog, fieldOperatorAllowed, type CustomFieldDecl, type FieldDef } from './fields';
import { compileSegment } from './segment';
import { checkValue, CONDITION_OPERATORS, fieldLogic } from './operators';
import {
  bandActionId,
  isTagAction,
  type ActionSpec,
  type BandNode,
  type ScoreBand,
  type ScoreMetric,
  type ConditionSpec,
  type JsonLogic,
  type RuleGraph,
  type RuleNode,
  type TriggerSpec,
} from './types';

/** A boolean formula over test ids: how each node's reach is built. */
export type Formula =
  | { t: 'true' }
  | { t: 'test'; id: string }
  | { t: 'band'; id: string; min: number; max: number | null }
  | { t: 'and'; of: Formula[] }
  | { t: 'or'; of: Formula[] }
  | { t: 'not'; of: Formula };

/** A per-contact test: a predicate, or the number a score node computes. */
export interface CompiledTest {
  id: string;
  nodeId: string;
  kind: 'bool' | 'number';
  logic: JsonLogic;
  /** Reads the triggering event: a preview without an event assumes it holds. */
  eventScoped: boolean;
  /**
   * The conditions behind a predicate test, with the JSON Logic of each field's value (for
   * explanations); a segment reference carries the segment's name, its value is "in it".
   */
  conditions?: { condition: ConditionSpec; valueLogic: JsonLogic; logic: JsonLogic; segmentName?: string }[];
  /** A score test's factors (with the JSON Logic of each value) and bands (for explanations). */
  score?: { metrics: (ScoreMetric & { valueLogic: JsonLogic })[]; bands: ScoreBand[] };
}

/** An action with the node that carries it. */
export interface CompiledAction {
  nodeId: string;
  action: ActionSpec;
}

/** What `compileRule` produces. */
export interface CompiledRule {
  /**
   * Evaluates to the array of action node ids that fire for a contact, in node order:
   * `{"merge": [{"if": [<reach of a1>, ["a1"], []]}, …]}`. Pure json-logic-js plus `sf_*`.
   */
  logic: JsonLogic;
  trigger: TriggerSpec;
  /** The trigger node's id: its test checks the event type (plus the trigger's filters). */
  triggerNodeId: string;
  actions: CompiledAction[];
  tests: CompiledTest[];
  /** Reach formula per node id (the trigger's is T). */
  reach: Record<string, Formula>;
  /** What flows along each edge (its source's output on that handle), per edge id: edge counts on the canvas. */
  edgeFlow: Record<string, Formula>;
  /** Reach per node as standalone JSON Logic (for per-node JS counts and explanations). */
  nodeLogic: Record<string, JsonLogic>;
  /**
   * Every segment whose current audience was expanded into this rule (directly or through
   * another segment), ascending: what a cache of the compiled rule must be keyed on.
   */
  segmentIds: number[];
}

/** A segment as the compiler expands it: its current graph. */
export interface SegmentSource {
  id: number;
  name: string;
  graph: unknown;
  /**
   * The audience already compiled, used instead of `graph`: the browser, which checks a draft
   * without the segments' graphs, stands in a placeholder; the server always expands the graph.
   */
  audience?: JsonLogic;
}

/**
 * The segments a condition "in segment X" may name, as they stand at compile time. The compiler
 * expands X's audience in place, so every evaluator and the SQL see ordinary JSON Logic; callers
 * compile again when a referenced segment changes (docs/rules.md, "Segment references").
 */
export interface SegmentResolver {
  /** The segment now, or undefined when there is none. */
  get(id: number): SegmentSource | undefined;
  /**
   * Whether the author may name it (their department scope); omitted: every segment. Asked of
   * the graph's own references only: one named inside another was checked when that was saved.
   */
  visible?: (id: number) => boolean;
  /** Segments being expanded, outermost first (a segment being saved first): naming one again is a cycle. */
  stack?: readonly number[];
}

/** What the compiler needs to know about the workspace. */
export interface CompileOptions {
  customFields?: readonly CustomFieldDecl[];
  /** Whether a tag id exists (and is active); omitted = every positive id is accepted. */
  tagExists?: (tagId: number) => boolean;
  /** A segment's graph: its Start node is a schedule trigger meaning "all contacts", whose cron is not read. */
  segment?: boolean;
  /**
   * Whether a destination of this kind exists and is not revoked (call-webhook → `webhook`,
   * notify → `notify`); omitted = every positive id is accepted.
   */
  destinationExists?: (destinationId: number, kind: 'webhook' | 'notify') => boolean;
  /**
   * A tag's group and whether that group is exclusive (band nodes map bands onto one exclusive
   * group); omitted = band tags are not checked against their group.
   */
  tagGroup?: (tagId: number) => { groupId: number; exclusive: boolean } | undefined;
  /** Segments conditions may reference; omitted: a segment reference is an `unknown_segment` error. */
  segments?: SegmentResolver;
}

/**
 * Upper bound on the size of one node's inlined reach. Formulas share sub-formulas, but JSON
 * Logic and SQL text inline them, so a ladder of diamonds grows exponentially; refuse it with
 * an error on the node rather than emit megabytes.
 */
export const MAX_INLINED_TERMS = 5_000;

const TRUE: Formula = { t: 'true' };
const FALSE: Formula = { t: 'not', of: TRUE };

function and(...of: Formula[]): Formula {
  const flat: Formula[] = [];
  for (const f of of) {
    if (f.t === 'true') continue;
    if (f.t === 'and') flat.push(...f.of);
    else flat.push(f);
  }
  if (flat.length === 0) return TRUE;
  return flat.length === 1 ? (flat[0] as Formula) : { t: 'and', of: flat };
}
function or(of: Formula[]): Formula {
  if (of.some((f) => f.t === 'true')) return TRUE;
  if (of.length === 0) return FALSE;
  const flat = of.flatMap((f) => (f.t === 'or' ? f.of : [f]));
  return flat.length === 1 ? (flat[0] as Formula) : { t: 'or', of: flat };
}
const not = (f: Formula): Formula => ({ t: 'not', of: f });

/** Inlines a formula into JSON Logic. */
export function formulaToLogic(f: Formula, testsById: ReadonlyMap<string, CompiledTest>): JsonLogic {
  switch (f.t) {
    case 'true':
      return true;
    case 'test':
      return testsById.get(f.id)?.logic ?? false;
    case 'band':
      return { sf_band: [testsById.get(f.id)?.logic ?? 0, f.min, f.max] };
    case 'and':
      return { and: f.of.map((x) => formulaToLogic(x, testsById)) };
    case 'or':
      return { or: f.of.map((x) => formulaToLogic(x, testsById)) };
    case 'not':
      return { '!': [formulaToLogic(f.of, testsById)] };
  }
}

/**
 * Named output handles of a node, or null when it has one unnamed output (an action's edges are
 * refused as `action_has_output`, not as a bad handle).
 */
function handlesOf(n: RuleNode): string[] | null {
  const handles = outputHandles(n);
  return handles.length > 0 && handles.every((h) => h !== undefined) ? (handles as string[]) : null;
}

/**
 * Validates one condition against the catalog and lowers it to JSON Logic, or reports why not.
 * Shared by condition nodes, branch cases and trigger filters.
 */
export function compileCondition(
  nodeId: string,
  c: ConditionSpec,
  catalog: ReadonlyMap<string, FieldDef>,
  opts: CompileOptions,
  allowEventFields: boolean,
): CompiledCondition | RuleError {
  const field = catalog.get(c.field);
  if (!field) return ruleError(nodeId, 'unknown_field', `unknown field "${c.field}"`);
  if (field.eventScoped && !allowEventFields) {
    return ruleError(nodeId, 'unknown_field', `"${c.field}" reads the triggering event: only for event-triggered rules`);
  }
  if (!fieldOperatorAllowed(field, c.op)) {
    return ruleError(nodeId, 'bad_operator', `operator "${c.op}" does not apply to ${field.type} field "${c.field}"`);
  }
  const op = CONDITION_OPERATORS[c.op];
  if (!op) return ruleError(nodeId, 'bad_operator', `unknown operator "${c.op}"`);
  if (op.value !== 'none' && (c.value === undefined || c.value === null || c.value === '')) {
    return ruleError(nodeId, 'missing_value', `"${c.field} ${c.op}" needs a value`);
  }
  const problem = checkValue(op.value, field.type, c.value);
  if (problem) return ruleError(nodeId, 'wrong_value_type', `"${c.field} ${c.op}" ${problem}`);
  if (field.enumValues && ['eq', 'neq', 'in', 'not_in'].includes(c.op)) {
    const values = Array.isArray(c.value) ? c.value : [c.value];
    const bad = values.find((v) => !field.enumValues?.includes(v as string));
    if (bad !== undefined) return ruleError(nodeId, 'wrong_value_type', `"${String(bad)}" is not a value of "${c.field}"`);
  }
  if (field.type === 'aggregate') {
    if (!c.params) return ruleError(nodeId, 'bad_params', `"${c.field}" needs an event type and a number of days`);
  }
  if (op.value === 'tag' || op.value === 'tags') {
    const ids = Array.isArray(c.value) ? (c.value as number[]) : [c.value as number];
    const unknown = opts.tagExists ? ids.find((id) => !opts.tagExists?.(id)) : undefined;
    if (unknown !== undefined) return ruleError(nodeId, 'unknown_tag', `tag ${unknown} does not exist or is retired`);
  }
  if (field.type === 'segment') return segmentReference(nodeId, c.value as number, c.op === 'not_in_segment', opts);
  if (c.op === 'in_department_tree') {
    const valueLogic: JsonLogic = { var: 'contact.departmentId' };
    return { logic: op.toLogic(valueLogic, c.value, field.type), valueLogic, eventScoped: false, segmentIds: [] };
  }
  const valueLogic = fieldLogic(field, c.params);
  return { logic: op.toLogic(valueLogic, c.value, field.type), valueLogic, eventScoped: !!field.eventScoped, segmentIds: [] };
}

/** A condition lowered to JSON Logic. */
export interface CompiledCondition {
  logic: JsonLogic;
  /** The value the explanation shows (a segment reference: whether the contact is in it). */
  valueLogic: JsonLogic;
  eventScoped: boolean;
  /** Segments expanded into it (a reference and everything that segment references). */
  segmentIds: number[];
  segmentName?: string;
}

const quoted = (names: readonly string[]) => names.map((n) => `"${n}"`).join(' → ');

/**
 * "in segment X" / "not in segment X": X's audience as its graph stands now, compiled with
 * `compileSegment` and inlined (negated for "not in"), so the JS evaluators and the SQL need no
 * operation of their own and the preview counts it like any condition. A reference back to a
 * segment being expanded is a cycle, refused with the path in names (`segment_cycle`, whose
 * `path` the UI words); a segment the author cannot see is `unknown_segment`.
 */
function segmentReference(nodeId: string, id: number, negate: boolean, opts: CompileOptions): CompiledCondition | RuleError {
  const resolver = opts.segments;
  const seg = resolver?.get(id);
  if (!resolver || !seg || (resolver.visible && !resolver.visible(id))) {
    return ruleError(nodeId, 'unknown_segment', `segment ${id} does not exist or is not yours to see`);
  }
  const stack = resolver.stack ?? [];
  if (stack.includes(id)) {
    const path = [...stack.slice(stack.indexOf(id)), id].map((s) => resolver.get(s)?.name ?? String(s));
    return { ...ruleError(nodeId, 'segment_cycle', `segments ${quoted(path)} form a cycle`), path };
  }
  if (seg.audience !== undefined) {
    const audience = seg.audience;
    return {
      logic: negate ? { '!': [audience] } : audience,
      valueLogic: audience,
      eventScoped: false,
      segmentIds: [id],
      segmentName: seg.name,
    };
  }
  const inner = compileSegment(seg.graph, { ...opts, segments: { get: resolver.get, stack: [...stack, id] } });
  if (!inner.ok) {
    const cycle = inner.errors.find((e) => e.code === 'segment_cycle');
    if (cycle) return { ...ruleError(nodeId, 'segment_cycle', cycle.message), ...(cycle.path ? { path: cycle.path } : {}) };
    const why = inner.errors[0]?.message ?? '';
    return ruleError(nodeId, 'segment_invalid', `segment "${seg.name}" has errors of its own: ${why}`);
  }
  const audience = inner.value.logic;
  const segmentIds = [...new Set([id, ...inner.value.rule.segmentIds])].sort((a, b) => a - b);
  return { logic: negate ? { '!': [audience] } : audience, valueLogic: audience, eventScoped: false, segmentIds, segmentName: seg.name };
}

/** Compiles a rule graph (any stored version) into JSON Logic plus the per-node plan. */
export function compileRule(input: unknown, opts: CompileOptions = {}): RuleResult<CompiledRule> {
  const up = upgradeGraph(input);
  if (!up.ok) return up;
  const parsed = parseRuleGraph(up.value);
  if (!parsed.ok) return parsed;
  // a rule's schedule must be one the cron can run (a segment's Start node carries no schedule)
  const scheduleErrors = (opts.segment ? [] : parsed.value.nodes).flatMap((n) => {
    const problem = n.kind === 'trigger' && n.trigger.type === 'schedule' ? cronProblem(n.trigger.cron) : null;
    return problem === null ? [] : [ruleError(n.id, 'bad_schedule', `the schedule is not a five-field cron expression: ${problem}`)];
  });
  const compiled = compileGraph(parsed.value, opts);
  if (scheduleErrors.length === 0) return compiled;
  return { ok: false, errors: [...scheduleErrors, ...(compiled.ok ? [] : compiled.errors)] };
}

/** The graph's shape once its edges are read: what the node contents and formulas build on. */
interface Structure {
  byId: Map<string, RuleNode>;
  trigger: RuleNode | undefined;
  /** Per node, the edges into it: source node, source handle (for nodes with several outputs) and edge id. */
  incoming: Map<string, { from: string; handle: string | undefined; edgeId: string }[]>;
  /** Node ids in topological order (nodes on a cycle left out). */
  order: string[];
  /** Node ids a path from the trigger reaches. */
  reached: Set<string>;
  actions: RuleNode[];
}

/** The edges read into `incoming` / `outgoing`; each edge that cannot be is an error on it. */
function readEdges(graph: RuleGraph, byId: Map<string, RuleNode>, errors: RuleError[]) {
  const incoming: Structure['incoming'] = new Map();
  const outgoing = new Map<string, string[]>();
  const edgeIds = new Set<string>();
  for (const e of graph.edges) {
    if (edgeIds.has(e.id)) errors.push(ruleError(null, 'duplicate_id', `two edges have the id "${e.id}"`, e.id));
    edgeIds.add(e.id);
    const src = byId.get(e.source);
    const dst = byId.get(e.target);
    if (!src || !dst) {
      const missing = !src ? e.source : e.target;
      errors.push(ruleError(src ? src.id : null, 'dangling_edge', `edge ${e.id} points to missing node "${missing}"`, e.id));
      continue;
    }
    const handles = handlesOf(src);
    const handle = src.kind === 'condition' ? (e.sourceHandle ?? 'yes') : e.sourceHandle;
    if (handles ? handle === undefined || !handles.includes(handle) : handle !== undefined && handle !== 'out') {
      const which = `edge ${e.id} leaves "${String(e.sourceHandle)}", which ${src.kind} "${src.id}" does not have`;
      errors.push(ruleError(src.id, 'bad_handle', which, e.id));
      continue;
    }
    if (dst.kind === 'trigger') {
      errors.push(ruleError(dst.id, 'trigger_has_input', 'nothing can lead into the trigger', e.id));
      continue;
    }
    if (src.kind === 'action') {
      errors.push(ruleError(src.id, 'action_has_output', 'an action ends the flow', e.id));
      continue;
    }
    incoming.set(dst.id, [...(incoming.get(dst.id) ?? []), { from: src.id, handle: handles ? handle : undefined, edgeId: e.id }]);
    outgoing.set(src.id, [...(outgoing.get(src.id) ?? []), dst.id]);
  }
  return { incoming, outgoing };
}

/** Kahn's algorithm: the nodes in topological order; whatever is left out is on or behind a cycle. */
function topologicalOrder(graph: RuleGraph, incoming: Structure['incoming'], outgoing: Map<string, string[]>): string[] {
  const indeg = new Map(graph.nodes.map((n) => [n.id, incoming.get(n.id)?.length ?? 0]));
  const order: string[] = [];
  const queue = graph.nodes.filter((n) => indeg.get(n.id) === 0).map((n) => n.id);
  while (queue.length) {
    const id = queue.shift() as string;
    order.push(id);
    for (const next of outgoing.get(id) ?? []) {
      indeg.set(next, (indeg.get(next) ?? 0) - 1);
      if (indeg.get(next) === 0) queue.push(next);
    }
  }
  return order;
}

/** Ids, edges, the one trigger, cycles and reachability; each problem an error on its node or edge. */
function checkStructure(graph: RuleGraph, errors: RuleError[]): Structure {
  const byId = new Map<string, RuleNode>();
  for (const n of graph.nodes) {
    if (byId.has(n.id)) errors.push(ruleError(n.id, 'duplicate_id', `two nodes have the id "${n.id}"`));
    byId.set(n.id, n);
  }
  const triggers = graph.nodes.filter((n) => n.kind === 'trigger');
  if (triggers.length === 0) errors.push(ruleError(null, 'no_trigger', 'add a trigger: an event or a schedule'));
  for (const t of triggers.slice(1)) errors.push(ruleError(t.id, 'multiple_triggers', 'a rule has exactly one trigger'));
  const trigger = triggers[0];

  const { incoming, outgoing } = readEdges(graph, byId, errors);
  const order = topologicalOrder(graph, incoming, outgoing);
  const inCycle = graph.nodes.filter((n) => !order.includes(n.id));
  for (const n of inCycle) errors.push(ruleError(n.id, 'cycle', `"${n.id}" is on a loop: the flow must only go forward`));

  const reached = new Set<string>();
  const stack = trigger ? [trigger.id] : [];
  while (stack.length) {
    const id = stack.pop() as string;
    if (reached.has(id)) continue;
    reached.add(id);
    stack.push(...(outgoing.get(id) ?? []));
  }
  const actions = graph.nodes.filter((n) => n.kind === 'action');
  if (actions.length === 0) errors.push(ruleError(null, 'no_actions', 'add at least one action'));
  // Outside an event rule, an outbound action fires only for contacts the same run re-tags.
  const tagActions = actions.filter((n) => n.kind === 'action' && isTagAction(n.action));
  if (actions.length > 0 && tagActions.length === 0 && trigger?.kind === 'trigger' && trigger.trigger.type !== 'event') {
    const message = 'call-webhook and notify fire only for contacts whose tags this run changes: add a tag action, or trigger on an event';
    errors.push(ruleError(actions[0]?.id ?? null, 'outbound_never_fires', message));
  }
  for (const n of graph.nodes) {
    if (!trigger || reached.has(n.id) || n.kind === 'trigger' || inCycle.includes(n)) continue;
    if (n.kind === 'action' && !incoming.get(n.id)?.length) {
      errors.push(ruleError(n.id, 'action_no_path', 'connect this action: nothing leads to it'));
    } else {
      errors.push(ruleError(n.id, 'unreachable', 'no path from the trigger leads here'));
    }
  }
  return { byId, trigger, incoming, order, reached, actions };
}

/** An event trigger's test: the event's type and the trigger's filters (null when a filter is in error). */
function triggerTest(
  n: RuleNode & { kind: 'trigger' },
  catalog: Map<string, FieldDef>,
  opts: CompileOptions,
  errors: RuleError[],
  used: number[],
) {
  if (n.trigger.type !== 'event') return null;
  const parts: JsonLogic[] = [{ sf_eq: [{ var: 'event.type' }, n.trigger.eventType] }];
  const conditions: NonNullable<CompiledTest['conditions']> = [];
  let ok = true;
  for (const f of n.trigger.filters) {
    const r = compileCondition(n.id, f, catalog, opts, true);
    if ('code' in r) {
      errors.push(r);
      ok = false;
    } else {
      parts.push(r.logic);
      conditions.push({ condition: f, valueLogic: r.valueLogic, logic: r.logic, ...(r.segmentName ? { segmentName: r.segmentName } : {}) });
      used.push(...r.segmentIds);
    }
  }
  if (!ok) return null;
  const logic = parts.length === 1 ? (parts[0] as JsonLogic) : { and: parts };
  const test: CompiledTest = { id: n.id, nodeId: n.id, kind: 'bool', logic, eventScoped: true, conditions };
  return test;
}

/** Field types a score can weigh: numbers and aggregates as they are, yes/no as 1 / 0, dates as days since. */
/** Field types a score may weigh (a yes/no as 1 / 0, a date as the days since it). */
export const SCORE_FIELD_TYPES: ReadonlySet<string> = new Set(['number', 'aggregate', 'boolean', 'date']);

/** A score factor's value: the field's, a boolean as 1 / 0 (`sf_bool_number`), a date as days since (`sf_days_since`). */
export function scoreValueLogic(field: FieldDef, params: ConditionSpec['params']): JsonLogic {
  const v = fieldLogic(field, params);
  if (field.type === 'boolean') return { sf_bool_number: [v] };
  if (field.type === 'date') return { sf_days_since: [v] };
  return v;
}

/** A score node's number: its metrics (each a number field or an event aggregate) and its bands checked. */
function scoreTest(n: RuleNode & { kind: 'score' }, catalog: Map<string, FieldDef>, isEventRule: boolean, errors: RuleError[]) {
  const args: JsonLogic[] = [];
  const metrics: NonNullable<CompiledTest['score']>['metrics'] = [];
  for (const m of n.metrics) {
    const field = catalog.get(m.field);
    if (!field || !SCORE_FIELD_TYPES.has(field.type)) {
      const code = field ? 'wrong_value_type' : 'unknown_field';
      errors.push(ruleError(n.id, code, `score metric "${m.field}" must be a number, a yes/no, a date or an event aggregate`));
    } else if (field.eventScoped && !isEventRule) {
      errors.push(ruleError(n.id, 'unknown_field', `"${m.field}" reads the triggering event: only for event-triggered rules`));
    } else if (field.type === 'aggregate' && !m.params) {
      errors.push(ruleError(n.id, 'bad_params', `score metric "${m.field}" needs an event type and a number of days`));
    } else {
      const valueLogic = scoreValueLogic(field, m.params);
      args.push(valueLogic, m.weight, m.cap);
      metrics.push({ ...m, valueLogic });
    }
  }
  const seenBands = new Set<string>();
  for (const b of n.bands) {
    if (b.max !== null && b.max <= b.min) errors.push(ruleError(n.id, 'wrong_value_type', `band "${b.id}" needs min < max`));
    if (seenBands.has(b.id)) errors.push(ruleError(n.id, 'duplicate_id', `band id "${b.id}" is used twice`));
    seenBands.add(b.id);
  }
  const test: CompiledTest = {
    id: n.id,
    nodeId: n.id,
    kind: 'number',
    logic: { sf_score: args },
    eventScoped: n.metrics.some((m) => catalog.get(m.field)?.eventScoped),
    score: { metrics, bands: n.bands },
  };
  return test;
}

/** Every node's tests (conditions, branch cases, event filters, scores) and the checks of the rest. */
function compileNodeTests(graph: RuleGraph, s: Structure, opts: CompileOptions, errors: RuleError[], used: number[]): CompiledTest[] {
  const catalog = fieldCatalog(opts.customFields ?? []);
  const isEventRule = s.trigger?.kind === 'trigger' && s.trigger.trigger.type === 'event';
  const tests: CompiledTest[] = [];
  const addTest = (nodeId: string, id: string, c: ConditionSpec) => {
    const r = compileCondition(nodeId, c, catalog, opts, isEventRule);
    if ('code' in r) errors.push(r);
    else {
      used.push(...r.segmentIds);
      const conditions = [
        { condition: c, valueLogic: r.valueLogic, logic: r.logic, ...(r.segmentName ? { segmentName: r.segmentName } : {}) },
      ];
      tests.push({ id, nodeId, kind: 'bool', logic: r.logic, eventScoped: r.eventScoped, conditions });
    }
  };
  for (const n of graph.nodes) {
    switch (n.kind) {
      case 'trigger': {
        const t = triggerTest(n, catalog, opts, errors, used);
        if (t) tests.push(t);
        break;
      }
      case 'condition':
        addTest(n.id, n.id, n.condition);
        break;
      case 'branch': {
        const seen = new Set<string>();
        for (const c of n.cases) {
          if (c.id === 'else' || seen.has(c.id))
            errors.push(ruleError(n.id, 'duplicate_id', `case id "${c.id}" is used twice (or is "else")`));
          seen.add(c.id);
          addTest(n.id, `${n.id}:${c.id}`, c.condition);
        }
        break;
      }
      case 'score':
        tests.push(scoreTest(n, catalog, isEventRule, errors));
        break;
      case 'logic': {
        const k = s.incoming.get(n.id)?.length ?? 0;
        if (n.op === 'not' ? k !== 1 : k < 1) {
          const message = n.op === 'not' ? 'NOT takes exactly one input' : `${n.op.toUpperCase()} needs at least one input`;
          errors.push(ruleError(n.id, 'logic_inputs', message));
        }
        break;
      }
      case 'action':
        if (isTagAction(n.action)) {
          if (opts.tagExists && !opts.tagExists(n.action.tagId)) {
            errors.push(ruleError(n.id, 'unknown_tag', `tag ${n.action.tagId} does not exist or is retired`));
          }
        } else {
          const kind = n.action.type === 'call_webhook' ? 'webhook' : 'notify';
          if (opts.destinationExists && !opts.destinationExists(n.action.destinationId, kind)) {
            const message = `destination ${n.action.destinationId} is not a ${kind} destination, or it was revoked`;
            errors.push(ruleError(n.id, 'unknown_destination', message));
          }
        }
        break;
    }
  }
  return tests;
}

const bandRange = (b: { min: number; max: number | null }) => `${b.min}–${b.max ?? '∞'}`;

/**
 * A band node's own checks: bands contiguous (each starts where the one below ends), not
 * overlapping, a different tag each, every tag in one group (the first band's), that group
 * exclusive. Each problem is
 * an error on the node naming the bands or the tag.
 */
export function bandProblems(n: BandNode, opts: Pick<CompileOptions, 'tagGroup'> = {}): RuleError[] {
  const errors: RuleError[] = [];
  const sorted = [...n.bands].sort((a, b) => a.min - b.min);
  for (let i = 1; i < sorted.length; i++) {
    const lo = sorted[i - 1] as BandNode['bands'][number];
    const hi = sorted[i] as BandNode['bands'][number];
    const which = `bands "${lo.id}" (${bandRange(lo)}) and "${hi.id}" (${bandRange(hi)})`;
    if (lo.max === null || lo.max > hi.min) errors.push(ruleError(n.id, 'bad_bands', `${which} overlap`));
    else if (lo.max < hi.min) errors.push(ruleError(n.id, 'bad_bands', `${which} leave a gap from ${lo.max} to ${hi.min}`));
  }
  const seenTags = new Map<number, string>();
  for (const b of n.bands) {
    const other = seenTags.get(b.tagId);
    if (other !== undefined) errors.push(ruleError(n.id, 'bad_bands', `bands "${other}" and "${b.id}" add the same tag ${b.tagId}`));
    seenTags.set(b.tagId, b.id);
  }
  const first = n.bands[0];
  const group = first && opts.tagGroup?.(first.tagId);
  if (!first || !group) return errors;
  for (const b of n.bands.slice(1)) {
    const g = opts.tagGroup?.(b.tagId);
    if (g && g.groupId !== group.groupId) {
      const message = `band "${b.id}": tag ${b.tagId} is not in the group of band "${first.id}"'s tag ${first.tagId}: one group per band node`;
      errors.push(ruleError(n.id, 'band_group', message));
    }
  }
  if (!group.exclusive) {
    const message = `the bands' tag group ${group.groupId} is not exclusive: a contact could keep several bands' tags`;
    errors.push(ruleError(n.id, 'band_group', message));
  }
  return errors;
}

/**
 * Band nodes → a score node (same id, bands, out-edges) plus one add-tag action per band
 * (`bandActionId`), wired from the band's handle. Everything after this sees an ordinary graph.
 */
function lowerBands(graph: RuleGraph, opts: CompileOptions, errors: RuleError[]): RuleGraph {
  if (!graph.nodes.some((n) => n.kind === 'band')) return graph;
  const nodes: RuleNode[] = [];
  const edges = [...graph.edges];
  for (const n of graph.nodes) {
    if (n.kind !== 'band') {
      nodes.push(n);
      continue;
    }
    errors.push(...bandProblems(n, opts));
    const bands = n.bands.map(({ tagId: _tag, ...b }) => b);
    nodes.push({ id: n.id, kind: 'score', metrics: n.metrics, bands, ...(n.label === undefined ? {} : { label: n.label }) });
    for (const b of n.bands) {
      const id = bandActionId(n.id, b.id);
      nodes.push({ id, kind: 'action', action: { type: 'add_tag', tagId: b.tagId } });
      edges.push({ id, source: n.id, target: id, sourceHandle: b.id });
    }
  }
  // the band actions stand where the band node stands in node order, so priority order (the
  // first add of an exclusive group wins) is the canvas's order, band node included
  return { ...graph, nodes, edges };
}

/** What reaches each node and flows along each edge, in topological order, as formulas over the tests. */
function reachFormulas(s: Structure, trigger: RuleNode & { kind: 'trigger' }) {
  const T: Formula = trigger.trigger.type === 'event' ? { t: 'test', id: trigger.id } : TRUE;
  const reach: Record<string, Formula> = {};
  const edgeFlow: Record<string, Formula> = {};
  const out = (id: string, handle: string | undefined): Formula => {
    const n = s.byId.get(id) as RuleNode;
    const r = reach[id] ?? TRUE;
    switch (n.kind) {
      case 'condition':
        return handle === 'no' ? and(r, not({ t: 'test', id })) : and(r, { t: 'test', id });
      case 'branch': {
        const parts: Formula[] = [r];
        for (const c of n.cases) {
          const test: Formula = { t: 'test', id: `${id}:${c.id}` };
          if (c.id === handle) return and(...parts, test);
          parts.push(not(test));
        }
        return and(...parts);
      }
      case 'score': {
        const b = n.bands.find((x) => x.id === handle);
        return b ? and(r, { t: 'band', id, min: b.min, max: b.max }) : FALSE;
      }
      default:
        return r;
    }
  };
  for (const id of s.order) {
    const n = s.byId.get(id) as RuleNode;
    if (!s.reached.has(id)) continue;
    if (n.kind === 'trigger') {
      reach[id] = T;
      continue;
    }
    const ins = (s.incoming.get(id) ?? [])
      .filter((i) => s.reached.has(i.from))
      .map((i) => {
        const f = out(i.from, i.handle);
        edgeFlow[i.edgeId] = f;
        return f;
      });
    if (n.kind === 'logic' && n.op === 'and') reach[id] = and(...ins);
    else if (n.kind === 'logic' && n.op === 'not') reach[id] = and(T, not(or(ins)));
    else reach[id] = or(ins);
  }
  return { reach, edgeFlow };
}

/** The first node (or edge source) whose inlined formula would exceed MAX_INLINED_TERMS, if any. */
function firstTooComplex(graph: RuleGraph, order: string[], reach: Record<string, Formula>, edgeFlow: Record<string, Formula>) {
  const sizes = new Map<Formula, number>();
  const size = (f: Formula): number => {
    const known = sizes.get(f);
    if (known !== undefined) return known;
    const n = f.t === 'and' || f.t === 'or' ? f.of.reduce((acc, x) => acc + size(x), 1) : f.t === 'not' ? 1 + size(f.of) : 1;
    sizes.set(f, n);
    return n;
  };
  const node = order.find((id) => reach[id] && size(reach[id] as Formula) > MAX_INLINED_TERMS);
  if (node !== undefined) return node;
  const edge = Object.entries(edgeFlow).find(([, f]) => size(f) > MAX_INLINED_TERMS)?.[0];
  return edge === undefined ? undefined : (graph.edges.find((e) => e.id === edge)?.source ?? edge);
}

/**
 * Compiles a graph already parsed (and so within the size limits of `ruleGraphSchema`): for a
 * caller that adds nodes of its own (segments hang an internal action off their End node), so
 * that the one limit a user meets is the schema's. Structure first, then each node's contents,
 * then the formulas; errors of the first two are reported together.
 */
export function compileGraph(input: RuleGraph, opts: CompileOptions = {}): RuleResult<CompiledRule> {
  const errors: RuleError[] = [];
  const graph = lowerBands(input, opts, errors);
  const structure = checkStructure(graph, errors);
  const used: number[] = [];
  const tests = compileNodeTests(graph, structure, opts, errors, used);
  const trigger = structure.trigger;
  if (errors.length > 0 || !trigger || trigger.kind !== 'trigger') return { ok: false, errors };

  const { reach, edgeFlow } = reachFormulas(structure, trigger);
  const tooComplex = firstTooComplex(graph, structure.order, reach, edgeFlow);
  if (tooComplex !== undefined) {
    const message = 'too many paths lead here: merge branches with an OR node or split the rule';
    return { ok: false, errors: [ruleError(tooComplex, 'too_complex', message)] };
  }

  const testsById = new Map(tests.map((t) => [t.id, t]));
  const nodeLogic: Record<string, JsonLogic> = {};
  for (const [id, f] of Object.entries(reach)) nodeLogic[id] = formulaToLogic(f, testsById);
  const compiledActions = structure.actions.map((a) => ({ nodeId: a.id, action: (a as { action: ActionSpec }).action }));
  const logic: JsonLogic = {
    merge: compiledActions.map((a) => ({ if: [nodeLogic[a.nodeId] ?? false, [a.nodeId], []] })),
  };
  return {
    ok: true,
    value: {
      logic,
      trigger: trigger.trigger,
      triggerNodeId: trigger.id,
      actions: compiledActions,
      tests,
      reach,
      edgeFlow,
      nodeLogic,
      segmentIds: [...new Set(used)].sort((a, b) => a - b),
    },
  };
}
