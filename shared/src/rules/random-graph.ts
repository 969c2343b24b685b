/**
 * Seeded random *valid* rule graphs for differential testing (SQL count = JS count) and
 * benchmarks. Valid by construction: every node is connected from an earlier node through a
 * handle it has, so there are no cycles or unreachable nodes; values are drawn from a
 * vocabulary sampled from real data so conditions select something.
 */
import type { EventType } from '../domain';
import type { CustomFieldDecl } from './fields';
import type { ConditionSpec, RuleEdge, RuleGraph, RuleNode } from './types';
import { outputHandles } from './handles';

/** A small, fast, seedable PRNG (mulberry32): the same seed gives the same graphs everywhere. */
export class SeededRandom {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** In [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }
  /** `n` distinct items (or all, when fewer). */
  sample<T>(items: readonly T[], n: number): T[] {
    const copy = [...items];
    const out: T[] = [];
    while (out.length < n && copy.length) out.push(copy.splice(Math.floor(this.next() * copy.length), 1)[0] as T);
    return out;
  }
}

/** Values seen in the data, per field: what random conditions compare against. */
export interface GraphVocabulary {
  /** Observed values per text/number/date contact field key (nulls left out). */
  values: Record<string, (string | number)[]>;
  tagIds: number[];
  customFields: CustomFieldDecl[];
  /** Observed values per custom key. */
  customValues: Record<string, (string | number | boolean)[]>;
  eventChannels: string[];
  keywords: string[];
  /** Department ids "所属部门及下级" may name; absent: no such conditions (older seeds draw as before). */
  departmentIds?: number[];
  /** Segment ids "in segment" may name (the caller compiles with a resolver for them); absent: none. */
  segmentIds?: number[];
}

const TEXT_FIELDS = ['region', 'city', 'kind', 'gender', 'device', 'sourceChannel', 'remark', 'company', 'occupation', 'name'];
const NUMBER_FIELDS = ['messageCount', 'purchaseCount', 'totalSpend', 'inviteCount', 'violationCount', 'departmentId', 'ownerUserId'];
const DATE_FIELDS = ['lastActiveAt', 'lastPurchaseAt', 'createdAt'];
const AGG_TYPES: EventType[] = ['message', 'purchase', 'article_open', 'invite', 'violation', 'qr_scan'];
const DAYS = [1, 3, 7, 14, 30, 90, 180];

function substring(r: SeededRandom, s: string): string {
  const chars = [...s];
  if (chars.length <= 1) return s;
  const start = r.int(0, chars.length - 1);
  return chars.slice(start, Math.min(chars.length, start + r.int(1, 3))).join('');
}

function numberNear(r: SeededRandom, seen: (string | number)[]): number {
  const nums = seen.filter((v): v is number => typeof v === 'number');
  const base = nums.length ? r.pick(nums) : r.int(0, 100);
  // Often exactly a seen value: edges (≥ vs >) are where evaluators disagree.
  return r.chance(0.5) ? base : base + r.int(-3, 3);
}

/** One random, valid condition. */
// Long on purpose: one switch over the field kinds, each case a few seeded draws; a fuzz failure
// names its seed, and the draws' order is what reproduces it.
export function randomCondition(r: SeededRandom, v: GraphVocabulary, eventRule: boolean): ConditionSpec {
  const kind = r.pick([
    'text',
    'text',
    'number',
    'number',
    'date',
    'tags',
    'tags',
    'agg',
    'agg',
    'custom',
    'bucket',
    ...(eventRule ? ['keyword'] : []),
    ...(v.departmentIds?.length ? ['department'] : []),
    ...(v.segmentIds?.length ? ['segment', 'segment'] : []),
  ]);
  switch (kind) {
    case 'department':
      return { field: 'departmentId', op: 'in_department_tree', value: r.pick(v.departmentIds ?? []) };
    case 'segment':
      return { field: 'segment', op: r.pick(['in_segment', 'not_in_segment']), value: r.pick(v.segmentIds ?? []) };
    case 'text': {
      const field = r.pick(TEXT_FIELDS);
      const seen = (v.values[field] ?? []).filter((x): x is string => typeof x === 'string' && x.length > 0);
      if (seen.length === 0) return { field, op: r.pick(['is_empty', 'is_not_empty']) };
      const enumField = ['kind', 'gender', 'device'].includes(field);
      const op = r.pick(
        enumField ? ['eq', 'neq', 'in', 'not_in'] : ['eq', 'neq', 'contains', 'starts_with', 'in', 'not_in', 'is_empty', 'is_not_empty'],
      );
      const one = r.pick(seen);
      if (op === 'in' || op === 'not_in') return { field, op, value: r.sample(seen, r.int(1, 4)) };
      if (op === 'contains' || op === 'starts_with')
        return { field, op, value: op === 'starts_with' ? [...one].slice(0, r.int(1, 2)).join('') : substring(r, one) };
      if (op === 'is_empty' || op === 'is_not_empty') return { field, op };
      return { field, op, value: one };
    }
    case 'number': {
      const field = r.pick(NUMBER_FIELDS);
      const seen = v.values[field] ?? [];
      const op = r.pick(['eq', 'neq', 'lt', 'lte', 'gt', 'gte', 'between', 'in', 'not_in', 'is_empty', 'is_not_empty']);
      if (op === 'between') {
        const a = numberNear(r, seen);
        const b = numberNear(r, seen);
        return { field, op, value: [Math.min(a, b), Math.max(a, b)] };
      }
      if (op === 'in' || op === 'not_in') return { field, op, value: [numberNear(r, seen), numberNear(r, seen)] };
      if (op === 'is_empty' || op === 'is_not_empty') return { field, op };
      return { field, op, value: numberNear(r, seen) };
    }
    case 'date': {
      const field = r.pick(DATE_FIELDS);
      const op = r.pick(['before', 'after', 'within_last_days', 'more_than_days_ago', 'is_empty']);
      if (op === 'within_last_days' || op === 'more_than_days_ago') return { field, op, value: r.pick(DAYS) };
      if (op === 'is_empty') return { field, op };
      return { field, op, value: numberNear(r, v.values[field] ?? [0]) };
    }
    case 'tags': {
      const op = r.pick(['has', 'lacks', 'has_any', 'has_all', 'has_none']);
      if (op === 'has' || op === 'lacks') return { field: 'tags', op, value: r.pick(v.tagIds) };
      return { field: 'tags', op, value: r.sample(v.tagIds, r.int(1, 3)) };
    }
    case 'agg': {
      const params = {
        eventType: r.pick(AGG_TYPES),
        days: r.pick(DAYS),
        ...(r.chance(0.25) && v.eventChannels.length ? { channel: r.pick(v.eventChannels) } : {}),
      };
      const amount = params.eventType === 'purchase' && r.chance(0.5);
      const op = r.pick(['eq', 'neq', 'lt', 'lte', 'gt', 'gte', 'between']);
      const val = amount ? r.int(0, 20) * 5000 : r.int(0, 6);
      return {
        field: amount ? 'event.amount' : 'event.count',
        op,
        value: op === 'between' ? [val, val + r.int(0, amount ? 50000 : 5)] : val,
        params,
      };
    }
    case 'custom': {
      const decl = r.pick(v.customFields);
      const seen = v.customValues[decl.key] ?? [];
      const field = `custom.${decl.key}`;
      if (decl.type === 'number' || decl.type === 'date') {
        const op = r.pick(['gt', 'lte', 'eq', 'is_empty']);
        return op === 'is_empty' ? { field, op } : { field, op, value: numberNear(r, seen as (string | number)[]) };
      }
      if (decl.type === 'text') {
        const texts = seen.filter((x): x is string => typeof x === 'string');
        const op = r.pick(['eq', 'neq', 'contains', 'is_empty']);
        if (op === 'is_empty' || texts.length === 0) return { field, op: 'is_empty' };
        return { field, op, value: op === 'contains' ? substring(r, r.pick(texts)) : r.pick(texts) };
      }
      if (decl.type === 'boolean') return { field, op: r.pick(['is_true', 'is_false', 'is_empty']) };
      return { field, op: r.pick(['is_empty', 'is_not_empty']) };
    }
    case 'bucket':
      return { field: 'bucket', op: 'in_rollout', value: { percent: r.pick([1, 5, 10, 50, 99.99]), salt: r.int(0, 9999) } };
    default:
      return { field: 'trigger.text', op: r.pick(['contains_any', 'contains_all']), value: r.sample(v.keywords, r.int(1, 2)) };
  }
}

/** Options of `randomGraph`. */
export interface RandomGraphOptions {
  maxNodes?: number;
  eventType?: EventType;
  /**
   * Tags the actions draw from (default: every tag of the vocabulary). A few tags, some of one
   * exclusive group, make actions collide: add and remove of one tag, two tags of one group.
   */
  actionTags?: readonly number[];
  /** How many actions (default 1–3). */
  actions?: { min: number; max: number };
}

/**
 * A random valid graph: a trigger, 1–`maxNodes` inner nodes (conditions, branches, scores with
 * two bands and sometimes a third overlapping them, and/or/not) each fed from earlier nodes,
 * and 1–3 actions.
 */
export function randomGraph(r: SeededRandom, v: GraphVocabulary, opts: RandomGraphOptions = {}): RuleGraph {
  const eventRule = opts.eventType !== undefined;
  const nodes: RuleNode[] = [
    eventRule
      ? {
          id: 'trigger',
          kind: 'trigger',
          trigger: { type: 'event', eventType: opts.eventType as EventType, filters: r.chance(0.3) ? [randomCondition(r, v, true)] : [] },
        }
      : { id: 'trigger', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } },
  ];
  const edges: RuleEdge[] = [];
  const connect = (target: string, isAction = false) => {
    // Prefer recent nodes (chains, not stars), and keep actions off the trigger when possible,
    // so that graphs select proper subsets rather than everyone.
    let pool = nodes.filter((n) => n.kind !== 'action' && !(isAction && n.kind === 'trigger'));
    if (pool.length === 0) pool = [nodes[0] as RuleNode];
    if (r.chance(0.7)) pool = pool.slice(-3);
    const from = r.pick(pool);
    const handle = r.pick(outputHandles(from));
    edges.push({ id: `e${edges.length}`, source: from.id, target, ...(handle === undefined ? {} : { sourceHandle: handle }) });
  };
  const inner = r.int(1, opts.maxNodes ?? 6);
  for (let i = 0; i < inner; i++) {
    const id = `n${i}`;
    const roll = r.next();
    let node: RuleNode;
    let inputs = 1;
    if (roll < 0.55) node = { id, kind: 'condition', condition: randomCondition(r, v, eventRule) };
    else if (roll < 0.67) {
      node = {
        id,
        kind: 'branch',
        cases: Array.from({ length: r.int(1, 3) }, (_x, k) => ({ id: `c${k}`, condition: randomCondition(r, v, eventRule) })),
      };
    } else if (roll < 0.77) {
      const metric = (): { field: string; params?: { eventType: EventType; days: number }; weight: number; cap: number } =>
        r.chance(0.5)
          ? { field: r.pick(['messageCount', 'inviteCount', 'purchaseCount', 'violationCount']), weight: r.int(-15, 40), cap: r.int(1, 50) }
          : {
              field: 'event.count',
              params: { eventType: r.pick(AGG_TYPES), days: r.pick(DAYS) },
              weight: r.int(-15, 40),
              cap: r.int(1, 10),
            };
      const cut = r.int(10, 60);
      node = {
        id,
        kind: 'score',
        metrics: Array.from({ length: r.int(1, 3) }, metric),
        bands: [
          { id: 'hi', min: cut, max: null },
          { id: 'lo', min: 0, max: cut },
          // a band overlapping both: a contact can take two handles of one score
          ...(r.chance(0.25) ? [{ id: 'mid', min: cut - 5, max: cut + 5 }] : []),
        ],
      };
    } else {
      const op = r.pick(['and', 'or', 'not'] as const);
      node = { id, kind: 'logic', op };
      inputs = op === 'not' ? 1 : r.int(1, 2);
    }
    for (let k = 0; k < inputs; k++) connect(id);
    nodes.push(node);
  }
  const actions = r.int(opts.actions?.min ?? 1, opts.actions?.max ?? 3);
  const tags = opts.actionTags ?? v.tagIds;
  for (let i = 0; i < actions; i++) {
    const id = `a${i}`;
    connect(id, true);
    nodes.push({ id, kind: 'action', action: { type: r.chance(0.7) ? 'add_tag' : 'remove_tag', tagId: r.pick(tags) } });
  }
  return { schemaVersion: 1, nodes, edges };
}

/**
 * `graph` with 1–2 outbound actions (call-webhook or notify, to `destinationId`) hung off its
 * non-action nodes. `randomGraph` itself draws none, so the seeds of existing suites keep their
 * graphs; a suite adds these with a random source of its own.
 */
export function withOutboundActions(r: SeededRandom, graph: RuleGraph, destinationId: number): RuleGraph {
  const nodes = [...graph.nodes];
  const edges = [...graph.edges];
  const sources = graph.nodes.filter((n) => n.kind !== 'action');
  const count = r.int(1, 2);
  for (let i = 0; i < count; i++) {
    const id = `o${i}`;
    const from = r.pick(sources.length > 1 && r.chance(0.8) ? sources.slice(1) : sources);
    const handle = r.pick(outputHandles(from));
    edges.push({ id: `eo${i}`, source: from.id, target: id, ...(handle === undefined ? {} : { sourceHandle: handle }) });
    nodes.push(
      r.chance(0.5)
        ? { id, kind: 'action', action: { type: 'call_webhook', destinationId } }
        : { id, kind: 'action', action: { type: 'notify', destinationId, text: '{name}: {tags} ({rule})' } },
    );
  }
  return { ...graph, nodes, edges };
}

/**
 * `graph` with a band node hung off one of its non-action nodes: 2–3 contiguous bands (the lowest
 * from a random floor, so some contacts fall below every band) mapped in order onto `tags`
 * (distinct tags of one exclusive group). Like `withOutboundActions`, a suite adds it with a
 * random source of its own, so existing seeds keep their graphs.
 */
export function withBandNode(r: SeededRandom, graph: RuleGraph, tags: readonly number[]): RuleGraph {
  const sources = graph.nodes.filter((n) => n.kind !== 'action');
  const from = r.pick(sources.length > 1 && r.chance(0.7) ? sources.slice(1) : sources);
  const handle = r.pick(outputHandles(from));
  const metric = (): { field: string; params?: { eventType: EventType; days: number }; weight: number; cap: number } =>
    r.chance(0.5)
      ? {
          field: r.pick(['messageCount', 'inviteCount', 'violationCount', 'departmentId', 'lastActiveAt', 'createdAt']),
          weight: r.int(-15, 40),
          cap: r.int(1, 400),
        }
      : { field: 'event.count', params: { eventType: r.pick(AGG_TYPES), days: r.pick(DAYS) }, weight: r.int(-15, 40), cap: r.int(1, 10) };
  const count = Math.min(tags.length, r.int(2, 3));
  const chosen = r.sample(tags, count);
  // edges from the top down: [e_k, ∞), [e_{k-1}, e_k), …; the lowest starts at a floor
  const edges: number[] = [];
  let at = r.int(-5, 10);
  for (let i = 0; i < count; i++) {
    edges.push(at);
    at += r.int(5, 25);
  }
  const bands = chosen.map((tagId, i) => ({
    id: `k${i}`,
    min: edges[i] as number,
    max: i === count - 1 ? null : (edges[i + 1] as number),
    tagId,
  }));
  const band: RuleNode = { id: 'band', kind: 'band', metrics: Array.from({ length: r.int(1, 3) }, metric), bands };
  const edge: RuleEdge = { id: 'eband', source: from.id, target: 'band', ...(handle === undefined ? {} : { sourceHandle: handle }) };
  return { ...graph, nodes: [...graph.nodes, band], edges: [...graph.edges, edge] };
}
