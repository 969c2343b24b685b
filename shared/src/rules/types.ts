/**
 * The rule graph as the canvas draws it and the database stores it (`rules.draft_graph`,
 * `rule_versions.graph`). Control flows from the one Trigger along edges; each node lets some
 * contacts through on each of its output handles; an Action fires for a contact when the flow
 * reaches it. See docs/rules.md for the exact semantics.
 */
import type { EventType } from '../domain';

/** The version of the stored graph format; `upgrade.ts` lifts older graphs to it. */
export const RULE_SCHEMA_VERSION = 1;

/** Size limits of one graph, shared by the API (drafts) and the compiler, so a draft that saves also compiles. */
export const MAX_GRAPH_NODES = 500;
export const MAX_GRAPH_EDGES = 1000;

/** One field comparison: the unit of every Condition, Branch case and Trigger filter. */
export interface ConditionSpec {
  /** A key of the field catalog (`fields.ts`), e.g. `totalSpend`, `tags`, `custom.vip_level`. */
  field: string;
  /** An operator the field's type allows (`FIELD_TYPE_OPERATORS`). */
  op: string;
  /** The operand; its shape depends on the operator (none for `is_empty`, a list for `in`…). */
  value?: unknown;
  /** Parameters of event-aggregate fields: which events, over how many days. */
  params?: AggregateParams;
}

/** Which events an aggregate counts or sums: type, window, and an optional property filter. */
export interface AggregateParams {
  eventType: EventType;
  /** Window length in calendar days, today included (see docs/rules.md). */
  days: number;
  /** Only events with this channel: answered from raw `events`, not the daily rollup. */
  channel?: string;
}

/** What starts the rule: an incoming event of one type (with filters) or a schedule. */
export type TriggerSpec = { type: 'event'; eventType: EventType; filters: ConditionSpec[] } | { type: 'schedule'; cron: string };

/** Fields every node has. */
export interface NodeBase {
  id: string;
  label?: string;
  /** Canvas position; ignored by the compiler. */
  position?: { x: number; y: number };
}

/** The start of the flow. Exactly one per graph. */
export interface TriggerNode extends NodeBase {
  kind: 'trigger';
  trigger: TriggerSpec;
}

/** Lets contacts through `yes` when the comparison holds, through `no` otherwise. */
export interface ConditionNode extends NodeBase {
  kind: 'condition';
  condition: ConditionSpec;
}

/**
 * Combines flows: `and` passes contacts that arrive on every input, `or` on any input,
 * `not` passes triggered contacts that do NOT arrive on its single input.
 */
export interface LogicNode extends NodeBase {
  kind: 'logic';
  op: 'and' | 'or' | 'not';
}

/** One weighted input of a score: a numeric field (or aggregate), capped and scaled. */
export interface ScoreMetric {
  field: string;
  params?: AggregateParams;
  /**
   * Points this metric gives at or above `cap` (e.g. 30 for "speaking frequency 30%"); negative
   * for a penalty (−10: violations take away up to 10 points), −1000…1000.
   */
  weight: number;
  /** The value that earns the full weight; the metric scales linearly from 0 up to it. */
  cap: number;
}

/** A score range with its own output handle: `min <= score < max` (`max` null = no upper bound). */
export interface ScoreBand {
  id: string;
  label?: string;
  min: number;
  max: number | null;
}

/** Weighted sum of metrics; each band is an output handle. */
export interface ScoreNode extends NodeBase {
  kind: 'score';
  metrics: ScoreMetric[];
  bands: ScoreBand[];
}

/** A band of a Band node: a score range and the tag a contact in it gets. */
export interface BandTier extends ScoreBand {
  /** A tag of the node's exclusive group (0 in the editor until a group is picked). */
  tagId: number;
}

/**
 * A score whose bands map onto the tags of ONE exclusive tag group in one step (seed 003: > 80
 * 核心成员, 60–80 活跃成员, …): each band adds its tag, and the group's exclusivity takes the
 * contact's other tags of the group away. Bands must be contiguous and must not overlap, so a
 * contact is in exactly one band (or none, below the lowest). Each band is also an output
 * handle, as on a score node, for whatever else should happen to that band.
 *
 * The compiler lowers it to a score node (same id) plus one add-tag action per band with the id
 * `<node id>:<band id>` (`bandActionId`), so every evaluator, the SQL preview, the net change and
 * publishing treat it exactly as that hand-drawn graph: preview = publish by construction.
 */
export interface BandNode extends NodeBase {
  kind: 'band';
  metrics: ScoreMetric[];
  /** Every band's tag belongs to one exclusive group (the group is the tags', so templates need no group id). */
  bands: BandTier[];
}

/** The id of the add-tag action a band node's band lowers to (`:` never occurs in a user's id). */
export function bandActionId(nodeId: string, bandId: string): string {
  return `${nodeId}:${bandId}`;
}

/** One arm of a Branch: its handle id is the case id. */
export interface BranchCase {
  id: string;
  label?: string;
  condition: ConditionSpec;
}

/** if / else-if / else: the first case that holds takes the contact; otherwise `else`. */
export interface BranchNode extends NodeBase {
  kind: 'branch';
  cases: BranchCase[];
}

/** An action that changes the contact's tags. */
export type TagActionSpec = { type: 'add_tag'; tagId: number } | { type: 'remove_tag'; tagId: number };

/**
 * An outbound action: tells someone outside Segflow (a webhook destination, the contact's owner).
 * It changes no tags. It fires for a contact it is reached by only when the same run changes the
 * contact's tags; an event-triggered rule fires it once per triggering event that reaches it
 * (docs/rules.md, "Outbound actions").
 */
export type OutboundActionSpec =
  | { type: 'call_webhook'; destinationId: number }
  /** `text` (≤ 500 characters) may hold the placeholders {name}, {rule} and {tags}. */
  | { type: 'notify'; destinationId: number; text: string };

/** What a rule does to a contact the flow reaches. */
export type ActionSpec = TagActionSpec | OutboundActionSpec;

/** The longest notify text. */
export const MAX_NOTIFY_TEXT = 500;

/** Whether an action changes tags (add / remove), as opposed to an outbound one. */
export function isTagAction(a: ActionSpec): a is TagActionSpec {
  return a.type === 'add_tag' || a.type === 'remove_tag';
}

/** A leaf of the flow: fires when reached. */
export interface ActionNode extends NodeBase {
  kind: 'action';
  action: ActionSpec;
}

/** Every node kind of the canvas. */
export type RuleNode = TriggerNode | ConditionNode | LogicNode | ScoreNode | BranchNode | ActionNode | BandNode;

/** Node kinds, for registries that must cover every kind. */
export type RuleNodeKind = RuleNode['kind'];

/** A connection from an output handle of `source` to `target`. */
export interface RuleEdge {
  id: string;
  source: string;
  target: string;
  /** `yes`/`no` on conditions, a case id or `else` on branches, a band id on scores and band nodes; else omitted. */
  sourceHandle?: string;
}

/** The stored document. */
export interface RuleGraph {
  schemaVersion: typeof RULE_SCHEMA_VERSION;
  nodes: RuleNode[];
  edges: RuleEdge[];
}

/**
 * A JSON Logic expression as produced by the compiler: a literal, an array, or a one-key
 * object `{ op: args }`.
 */
export type JsonLogic = null | boolean | number | string | JsonLogic[] | { [op: string]: JsonLogic };

/** One day of one event type for one contact: a `contact_daily_stats` row. */
export interface DailyStatRow {
  type: EventType;
  /** days since 1970-01-01 in the configured time zone */
  day: number;
  count: number;
  /** fen */
  amount: number;
}

/** A raw event as aggregates with a property filter see it: the `events` columns rules read. */
export interface EventRow {
  type: EventType;
  occurredAt: number;
  amount?: number | null;
  channel?: string | null;
  text?: string | null;
}

/** The event that triggered an evaluation (webhook hot path). */
export interface TriggerEvent {
  type: EventType;
  text?: string | null;
  channel?: string | null;
  /** fen */
  amount?: number | null;
}

/**
 * What the JS evaluators read for one contact. It maps 1:1 onto database rows: `contact` holds
 * `contacts` columns by their drizzle (camelCase) names with `custom` parsed, `tags` the tag ids
 * of `contact_tags`, `stats` the `contact_daily_stats` rows, `events` the `events` rows.
 */
export interface EvalData {
  contact: Record<string, unknown>;
  tags?: number[];
  stats?: DailyStatRow[];
  events?: EventRow[];
  event?: TriggerEvent | null;
  /** Evaluation time, epoch ms: windows ("last 30 days") are relative to it. */
  now: number;
  /** Offset of the configured time zone from UTC in minutes; default 480 (Asia/Shanghai). */
  tzOffsetMinutes?: number;
}
