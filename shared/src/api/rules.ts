/**
 * The rules API: field catalog, rules (draft → versions → published), live preview, explain and
 * publish. Request bodies are zod schemas (strict: an unknown field is a 400 naming it); responses
 * are TypeScript types. Every error has the one shape of `errors.ts`.
 *
 * Status codes, for every route below:
 * - 400 `invalid_request`: the body, query or a path id fails its schema (`details[].path` names it);
 *   400 `unknown_reference`: the body names a contact / tag that does not exist.
 * - 404 `not_found`: no rule / version with that id.
 * - 409 `conflict`: an illegal state transition (pausing a draft, editing an archived rule…) or a
 *   publish whose confirmation no longer matches the draft or the data; the message names it.
 * - 422 `invalid_rule`: publishing a draft that does not compile; `details[].path` is the node id
 *   (or `graph` for a problem of the whole graph).
 *
 * A graph that does not compile is NOT an HTTP error for preview / explain / save draft: those
 * answer 200 with `ok: false` and the compiler's errors pinned to node ids, because the canvas
 * sends half-drawn graphs all the time (and a 4xx would be a console error in the browser).
 */
import { z } from 'zod';
import type { ConditionOp, FieldType } from '../rules/fields';
import type { RuleError } from '../rules/errors';
import type { RuleExplanation } from '../rules/explain';
import { MAX_GRAPH_EDGES, MAX_GRAPH_NODES, type JsonLogic, type RuleGraph, type TriggerSpec } from '../rules/types';
import type { ValueKind } from '../rules/operators';
import type { EventType, RuleStatus, TagStatus } from '../domain';
import { RULE_STATUSES } from '../domain';
import type { ContactSummary } from './contacts';
import { idParam, intParam, pagingQuery, type Page } from './common';

// ---------------------------------------------------------------------------------------------
// Graphs in request bodies
// ---------------------------------------------------------------------------------------------

/**
 * A graph as the canvas sends it. Only the envelope is checked here (a JSON object with
 * `schemaVersion`, `nodes` and `edges` arrays, bounded); the meaning — node shapes, fields,
 * reachability — is the compiler's job, which pins each problem to a node id. Drafts that do not
 * compile are stored as they are.
 */
export const graphInput = z
  .object({
    schemaVersion: z.number().int().min(0).max(1000),
    nodes: z.array(z.record(z.string(), z.unknown())).max(MAX_GRAPH_NODES, `at most ${MAX_GRAPH_NODES} nodes`),
    edges: z.array(z.record(z.string(), z.unknown())).max(MAX_GRAPH_EDGES, `at most ${MAX_GRAPH_EDGES} edges`),
  })
  .strict();

/** Gray-release share in whole percent of contacts (deterministic by contact). */
export const rolloutPercentSchema = z.number().int('must be a whole percent').min(1, 'must be at least 1').max(100, 'must be at most 100');

/** How many sample contacts a preview returns (default 20). */
const sampleSize = z.number().int().min(0).max(100);

/** A name of a rule or segment. */
export const nameSchema = z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters');
const descriptionSchema = z.string().trim().max(1000, 'must be at most 1000 characters').nullable();

// ---------------------------------------------------------------------------------------------
// Field catalog
// ---------------------------------------------------------------------------------------------

/** One operator a field allows, with the input the inspector must show for its value. */
export interface CatalogOperator {
  op: ConditionOp;
  /**
   * `none` no input; `scalar` one value of the field's type (text / number / epoch-ms date);
   * `range` `[low, high]`; `list` list entry; `days` a whole number of days; `tag` one tag id;
   * `tags` tag ids; `keywords` strings; `rollout` `{ percent, salt? }`.
   */
  value: ValueKind;
}

/** One field of the catalog. */
export interface CatalogField {
  /** What a condition's `field` holds: `totalSpend`, `tags`, `event.count`, `custom.vip_level`… */
  key: string;
  type: FieldType;
  label: { zh: string; en: string };
  /** `builtin` columns / tags / aggregates / trigger event; `custom` declared in custom_fields. */
  origin: 'builtin' | 'custom';
  /** Values are fen; the UI shows and takes yuan. */
  money: boolean;
  /** A closed vocabulary: offer a select. */
  enumValues: string[] | null;
  /** Only in event-triggered rules (reads the triggering event): hide it for schedules and segments. */
  eventScoped: boolean;
  /** `event.count` / `event.amount` need `params: { eventType, days, channel? }`. */
  needsParams: boolean;
  operators: CatalogOperator[];
}

/** A tag as the pickers need it (the counts are on `GET /api/tag-groups`). */
export interface CatalogTag {
  id: number;
  name: string;
  /** The tag's colour, or its group's. */
  color: string;
  status: TagStatus;
  level: number;
  parentId: number | null;
  groupId: number;
  groupName: string;
  /** A contact holds at most one tag of an exclusive group. */
  groupExclusive: boolean;
}

/**
 * `GET /api/field-catalog`: everything the inspector's pickers need in one request: fields
 * (built-in + declared custom attributes) with their operators, event types, and tags
 * (retired ones included with their status, so an old rule still shows its tag's name; offer
 * only `active` ones for new conditions and actions).
 */
export interface FieldCatalogResponse {
  fields: CatalogField[];
  eventTypes: EventType[];
  tags: CatalogTag[];
  /** The zone days and schedules are counted in (`TIMEZONE`): the editor shows a schedule's next runs in it. */
  timezone: { name: string; offsetMinutes: number };
}

// ---------------------------------------------------------------------------------------------
// Rules: list, create, detail, draft, lifecycle
// ---------------------------------------------------------------------------------------------

/** `GET /api/rules` query: paging, optional status filter and name search. Unknown parameters → 400. */
export const ruleListQuery = z
  .object({
    ...pagingQuery,
    status: z.enum(RULE_STATUSES).optional(),
    q: z.string().trim().max(100, 'must be at most 100 characters').optional(),
    /** Archived rules are left out unless `status=archived` or this is `1`. */
    includeArchived: z.enum(['0', '1']).optional(),
  })
  .strict();
export type RuleListQuery = z.output<typeof ruleListQuery>;

/** Path parameter `:id` of a rule (or segment). */
export const idPath = z.object({ id: idParam }).strict();
/** Path parameters `:id/versions/:version`. */
export const versionPath = z.object({ id: idParam, version: intParam(1, 1_000_000) }).strict();

/** A user as shown next to a version or a publish ("who"); null until governance adds users. */
export interface UserRef {
  id: number;
  name: string;
}

/** One row of the rules list. */
export interface RuleListItem {
  id: number;
  name: string;
  description: string | null;
  status: RuleStatus;
  /** What starts the draft: event type, `schedule`, or null when the draft has no trigger yet. */
  trigger: EventType | 'schedule' | null;
  /** The version events and the cron run (null = never published). */
  publishedVersion: number | null;
  /** The newest version number (null = none yet). */
  latestVersion: number | null;
  /** Share released of the published version, 1–100 (null = never published). */
  rolloutPercent: number | null;
  lastPublishedAt: number | null;
  lastPublishedBy: UserRef | null;
  /**
   * Contacts matched (any action fires, within the share) when the current version was
   * published: stored with that publish, NOT recomputed per request (a full scan per rule would
   * make the list slow). null = never published.
   */
  matchesAtPublish: number | null;
  /** The draft differs from the published version's graph (unpublished edits). */
  draftChanged: boolean;
  /** Why the system paused the rule (only while `status` is 'paused' and the system paused it). */
  pausedReason: RulePausedReason | null;
  createdAt: number;
  updatedAt: number;
}

/**
 * Why an action node may not run on someone's rights:
 * - `apply_role`: their role is below the tag group's `apply_role`;
 * - `group_department`: the group belongs to a department outside theirs;
 * - `user_disabled`, `no_user`: the publisher is disabled or gone;
 * - `rule_department`: the publisher no longer holds the rule's department (moved, demoted).
 */
export type RuleRightsWhy = 'apply_role' | 'group_department' | 'user_disabled' | 'no_user' | 'rule_department';

/** One action node whose tag its rule may not apply (a 403's `details[]` carry the same as `graph.nodes.<id>`). */
export interface RuleRightsProblem {
  nodeId: string;
  tagId: number;
  tagName: string | null;
  groupId: number | null;
  groupName: string | null;
  why: RuleRightsWhy;
}

/** Stored on a rule the system paused because the rights its published version ran on were lost. */
export interface RulePausedReason {
  kind: 'rights_lost';
  at: number;
  version: number;
  /** Whose rights the version ran on: its publisher. */
  user: UserRef | null;
  problems: RuleRightsProblem[];
}

/** When the cron runs a published schedule rule next, in the zone its days are counted in. */
export interface RuleNextRun {
  /** Epoch ms. */
  at: number;
  /** The configured TIMEZONE, and its offset (what the cron runs in). */
  zone: { name: string; offsetMinutes: number };
}

/**
 * `GET /api/rules` → a page of rules, most recently updated first. `nextRun`: when the cron
 * runs the published version next — null unless the rule is published (not paused) with a
 * schedule trigger whose cron still comes.
 */
export type RuleListResponse = Page<RuleListItem & { nextRun: RuleNextRun | null }>;

/** One published version, without its graph. */
export interface RuleVersionSummary {
  version: number;
  trigger: EventType | 'schedule';
  rolloutPercent: number;
  note: string | null;
  createdAt: number;
  createdBy: UserRef | null;
  publishedAt: number | null;
  /** What publishing it applied to the contacts then (null for versions from before this was stored). */
  applied: PublishApplied | null;
  /** This is `rules.published_version`. */
  current: boolean;
}

/** `GET /api/rules/:id/versions/:version`: one version in full. */
export interface RuleVersionDetail extends RuleVersionSummary {
  ruleId: number;
  graph: RuleGraph;
  /** The compiled JSON Logic stored with the version. */
  logic: JsonLogic;
  triggerSpec: TriggerSpec;
}

/**
 * `GET /api/rules/:id`, and the answer of every route that changes a rule: the list fields, the
 * draft graph with its hash and the compiler's errors for it (empty = publishable), and the
 * versions, newest first.
 */
export interface RuleDetail extends RuleListItem {
  draftGraph: RuleGraph;
  /** `graphHash` of the draft: what a preview of this draft returns and publish checks. */
  draftHash: string;
  /** The draft's compile errors, pinned to node ids; empty when it compiles. */
  errors: RuleError[];
  versions: RuleVersionSummary[];
}

/**
 * `POST /api/rules` → 201 `RuleDetail` (status `draft`). Without a graph the draft starts
 * empty (`{ schemaVersion: 1, nodes: [], edges: [] }`).
 */
export const createRuleBody = z
  .object({
    name: nameSchema,
    description: descriptionSchema.optional(),
    graph: graphInput.optional(),
    /** owning department: the rule acts on its contacts only; default the creator's (super admins: company-wide) */
    departmentId: z.number().int().positive().nullable().optional(),
  })
  .strict();
export type CreateRuleBody = z.output<typeof createRuleBody>;

/**
 * `PUT /api/rules/:id/draft` → 200 `RuleDetail`: saves the draft graph (and name / description
 * when given). Invalid drafts are saved too; `errors` says what to fix. Editing a published or
 * paused rule leaves its published version running until the next publish. 409 on an archived rule.
 */
export const saveDraftBody = z
  .object({
    graph: graphInput,
    name: nameSchema.optional(),
    description: descriptionSchema.optional(),
  })
  .strict();
export type SaveDraftBody = z.output<typeof saveDraftBody>;

/** `POST /api/rules/:id/duplicate` → 201 `RuleDetail`: a new draft with the same draft graph, named `name` or "<name>（副本）". */
export const duplicateRuleBody = z.object({ name: nameSchema.optional() }).strict();
export type DuplicateRuleBody = z.output<typeof duplicateRuleBody>;

/**
 * Lifecycle, each → 200 `RuleDetail`, body `{}` or none; 409 when the rule is not in the state named:
 * - `POST /api/rules/:id/pause`   published → paused (events and the cron stop applying it; tags stay).
 * - `POST /api/rules/:id/resume`  paused → published (applies again from the next event / run; no catch-up now).
 * - `POST /api/rules/:id/archive` draft / published / paused → archived (read-only, stops applying; tags stay).
 */
export const emptyBody = z.object({}).strict();

/**
 * `POST /api/rules/:id/versions/:version/restore` → 200 `RuleDetail`: the version's graph becomes
 * the draft (overwriting unpublished edits; the published version keeps running). 409 on an archived rule.
 */
export type RestoreVersionResponse = RuleDetail;

/** `GET /api/rules/:id/versions` → `RuleVersionSummary[]`, newest first. */
export type RuleVersionsResponse = RuleVersionSummary[];

/**
 * `GET /api/rules/:id/compare?a=3&b=draft`: two versions (a number, or `draft` for the current
 * draft) side by side with a node-level diff from `a` to `b`.
 */
export const compareQuery = z
  .object({
    a: z.union([z.literal('draft'), intParam(1, 1_000_000)]),
    b: z.union([z.literal('draft'), intParam(1, 1_000_000)]),
  })
  .strict();
export type CompareQuery = z.output<typeof compareQuery>;

/** One side of a comparison. */
export interface CompareSide {
  version: number | 'draft';
  graph: RuleGraph;
}

/** `GET /api/rules/:id/compare` response. */
export interface CompareResponse {
  a: CompareSide;
  b: CompareSide;
  diff: {
    /** Node ids in b, not in a. */
    added: string[];
    /** Node ids in a, not in b. */
    removed: string[];
    /** Node ids in both whose content differs (position ignored: moving a node is not a change). */
    changed: string[];
    /** Node ids in both whose only difference is the canvas position. */
    moved: string[];
    edgesAdded: string[];
    edgesRemoved: string[];
    /** Edge ids in both with a different source, target or handle. */
    edgesChanged: string[];
  };
}

// ---------------------------------------------------------------------------------------------
// Preview, explain, publish
// ---------------------------------------------------------------------------------------------

/**
 * `POST /api/rules/preview` → 200 `RulePreviewResponse`. Counts are exact, from one SQL statement
 * over the current contacts. With `rolloutPercent` < 100 every count (total included) is for that
 * share of contacts; the share depends on the rule (`ruleId`: the same contacts publishing at that
 * percent will touch), so pass `ruleId` for a saved rule. Without `ruleId` the share is that of a
 * new rule (salt 0) and may differ from the one the saved rule will get.
 * In a preview the triggering event is assumed to come: event-scoped tests count as satisfied.
 */
export const previewBody = z
  .object({
    graph: graphInput,
    rolloutPercent: rolloutPercentSchema.optional(),
    ruleId: z.number().int().positive().optional(),
    /** Sample contacts to return, default 20, 0 for none (counts only). */
    sampleSize: sampleSize.optional(),
  })
  .strict();
export type PreviewBody = z.output<typeof previewBody>;

/**
 * One action node: what it does. A tag action's net change is in `PreviewCountsBody.tags`; a
 * call-webhook / notify node carries `calls`, the deliveries publishing makes through it (the
 * contacts it reaches whose tags publishing changes).
 */
export type ActionCounts =
  { type: 'add_tag' | 'remove_tag'; tagId: number } | { type: 'call_webhook' | 'notify'; destinationId: number; calls: number };

/**
 * The net change of one tag (docs/rules.md "What a rule does to a contact"): every action that
 * fires for a contact is combined into one change, so these are exactly the contact_tags rows
 * publishing inserts (`gain`) and deletes (`lose`, displacement from an exclusive group included).
 */
export interface TagCounts {
  tagId: number;
  /** Contacts that get the tag. */
  gain: number;
  /** Holders that lose it: a remove action fires, or another tag of its exclusive group wins. */
  lose: number;
  /** Tags the rule adds: holders the rule neither adds it to nor takes it from (they keep it). */
  kept?: number;
}

/** Two actions that fire together for some contacts with opposite or exclusive effects. */
export interface ConflictCounts {
  /** `add_remove`: adds and removes one tag; `exclusive`: adds two tags of one exclusive group. */
  kind: 'add_remove' | 'exclusive';
  /** The two action node ids, in node order. */
  nodeIds: [string, string];
  /** The action whose effect stands where both fire. */
  winner: string;
  /** Contacts for which both fire. */
  contacts: number;
}

/** The calls a publish confirms (`PublishBody.expectedCalls`), per outbound node, from a preview's counts. */
export function expectedCallsOf(counts: Pick<PreviewCountsBody, 'actions'>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts.actions).flatMap(([nodeId, a]) => ('calls' in a ? [[nodeId, a.calls]] : [])));
}

/** The per-tag counts a publish confirms (`PublishBody.expected`), from a preview's counts. */
export function expectedOf(counts: Pick<PreviewCountsBody, 'tags'>): Record<string, { gain: number; lose: number }> {
  return Object.fromEntries(counts.tags.map((t) => [String(t.tagId), { gain: t.gain, lose: t.lose }]));
}

/** The counts of a preview (and what a publish applied). */
export interface PreviewCountsBody {
  /** Contacts in scope (the share). */
  total: number;
  /** Contacts for which at least one action fires. */
  matched: number;
  /** Contacts the flow reaches, per node id (every reachable node). */
  nodes: Record<string, number>;
  /**
   * Contacts flowing along each edge, per edge id (a condition's yes / no, each branch arm, each
   * band). Always sent by the server; optional so that clients can build counts from elsewhere.
   */
  edges?: Record<string, number>;
  /** Per action node id. */
  actions: Record<string, ActionCounts>;
  /** The net change per tag the rule touches (and per tag it would displace), in priority order. */
  tags: TagCounts[];
  /** Pairs of actions with opposite or exclusive effects, with how many contacts both reach. */
  conflicts: ConflictCounts[];
  /**
   * Present when the counts are an estimate (a rule that reads its triggering event, so nothing
   * applies at publish): every count is of contacts for whom at least one of their own events of
   * the trigger's type in the last `days` days would have fired it; `withEvents` is how many
   * contacts in scope had such an event at all.
   */
  estimate?: PreviewEstimate;
}

/** How an event rule's preview was estimated from past events. */
export interface PreviewEstimate {
  days: number;
  eventType: EventType;
  withEvents: number;
}

/** The window an event rule's preview looks back over (its next events are estimated from these). */
export const ESTIMATE_DAYS = 30;

/** A preview of a graph that compiles. */
export interface RulePreviewOk {
  ok: true;
  /** Hash of the graph previewed: send it back as `graphHash` to publish exactly this. */
  graphHash: string;
  rolloutPercent: number;
  counts: PreviewCountsBody;
  /** Matching contacts (lowest ids first), as `GET /api/contacts` shows them, tag chips included. */
  sample: ContactSummary[];
  /** The compiled JSON Logic (evaluates to the list of action node ids that fire). */
  logic: JsonLogic;
  /** Milliseconds the count statement took on D1. */
  tookMs: number;
  /**
   * False for an event-triggered rule that reads its triggering event (trigger filters, message
   * keywords): nobody has sent that event yet, so publishing changes no tags now and the counts
   * are who would be tagged at their next such event. True: publishing applies the counts now.
   */
  appliesNow: boolean;
}

/** A graph that does not compile: the errors, pinned to node ids (`nodeId` null = the whole graph). */
export interface RulePreviewInvalid {
  ok: false;
  graphHash: string;
  errors: RuleError[];
}

/** `POST /api/rules/preview` response (always 200 once the body passes its schema). */
export type RulePreviewResponse = RulePreviewOk | RulePreviewInvalid;

/**
 * `POST /api/rules/explain` → 200 `RuleExplainResponse`: why the graph does (not) fire for one
 * contact, evaluated now with the closure evaluator (event-scoped tests assumed to hold, as in
 * the preview). 400 `unknown_reference` when the contact does not exist.
 */
export const explainBody = z
  .object({
    graph: graphInput,
    contactId: z.number().int().positive(),
  })
  .strict();
export type ExplainBody = z.output<typeof explainBody>;

/** `POST /api/rules/explain` response. */
export type RuleExplainResponse =
  | {
      ok: true;
      contact: ContactSummary;
      explanation: RuleExplanation;
      /**
       * Nodes whose event-scoped tests (the trigger's event type and filters, `trigger.*`
       * conditions) were assumed to hold, as in the preview; their conditions are not listed.
       */
      assumedNodeIds: string[];
      /**
       * What the fired actions would write for this contact now (the net change, as publishing
       * writes it): tags gained, tags lost (removed, or displaced from an exclusive group).
       */
      change: { gain: number[]; lose: number[] };
    }
  | { ok: false; errors: RuleError[] };

/**
 * `POST /api/rules/:id/publish` → 200 `PublishResponse`. Compiles the saved draft, stores it as
 * the next version, makes it the published one, and applies it to the current contacts within
 * the share — tags added / removed with source `rule`, the rule id and version, in the ledger —
 * all in one D1 batch (a failure writes nothing). A schedule-triggered rule is also stored for
 * the cron runner; it is applied now as well.
 *
 * The user must see what they publish, so publish refuses with 409 when:
 * - `graphHash` differs from the saved draft's (the draft changed after the preview: preview again);
 * - the per-tag `expected` counts differ from what publishing at `rolloutPercent` would write
 *   now (the data changed since the preview, or the share is not the one previewed): the 409's
 *   `details` name each tag (`expected.<tagId>.gain`) with the count it would write now.
 * 422 `invalid_rule` when the draft does not compile; 409 for an archived rule.
 * Publishing a paused rule publishes and resumes it.
 */
export const publishBody = z
  .object({
    rolloutPercent: rolloutPercentSchema,
    /** `graphHash` from the preview the user confirmed (or `draftHash` of the rule detail). */
    graphHash: z.string().regex(/^[0-9a-f]{64}$/, 'must be a graph hash from a preview'),
    /** The net change the confirmation showed, per tag id (every tag of the preview's `tags`): `{ gain, lose }`. */
    expected: z.record(
      z.string().regex(/^[1-9][0-9]{0,9}$/, 'must be a tag id'),
      z.object({ gain: z.number().int().min(0), lose: z.number().int().min(0) }).strict(),
    ),
    /**
     * The calls the confirmation showed, per call-webhook / notify node id (`ActionCounts.calls`):
     * when sent, publishing refuses (409, `expectedCalls.<nodeId>`) if it would now call a
     * different number of times. Optional: clients from before outbound actions send none.
     */
    expectedCalls: z.record(z.string().min(1).max(64), z.number().int().min(0)).optional(),
    confirm: z.literal(true, 'must be true: the user confirmed the changes'),
    /** A note stored with the version ("raised threshold to ¥1,000"). */
    note: z.string().trim().max(500).optional(),
  })
  .strict();
export type PublishBody = z.output<typeof publishBody>;

/** What one publish applied to the contacts. */
export interface PublishApplied {
  rolloutPercent: number;
  /** Contacts in the share. */
  total: number;
  /** Contacts for which at least one action fired. */
  matched: number;
  /** Per tag: `gain` = contact_tags rows inserted, `lose` = rows deleted (from the ledger). */
  tags: TagCounts[];
}

/** `POST /api/rules/:id/publish` response. */
export interface PublishResponse {
  rule: RuleDetail;
  version: number;
  applied: PublishApplied;
}

// ---------------------------------------------------------------------------------------------
// Run history
// ---------------------------------------------------------------------------------------------

/** `GET /api/rules/:id/runs` query: paging (newest first). Unknown parameters → 400. */
export const ruleRunsQuery = z.object({ ...pagingQuery }).strict();
export type RuleRunsQuery = z.output<typeof ruleRunsQuery>;

/** What started a run: a publish applying the rule, a scheduled (cron) run, or webhook events (grouped per hour). */
export type RuleRunKind = 'publish' | 'schedule' | 'event';

/** One run's change of one tag. */
export interface RuleRunTag {
  tagId: number;
  added: number;
  removed: number;
}

/**
 * One run of a rule, read from its `tag_ledger` rows (source `rule`): a publish or a scheduled run
 * is one batch; event runs are single-event batches, grouped per hour (`from`..`to` the hour's
 * first and last change, `events` the batches in it). A run that changed no tag wrote no rows
 * and is not listed.
 */
export interface RuleRun {
  /** The ledger batch id (`publish:<rule>:<version>`, `schedule:<rule>:<version>:<at>`…) or `event:<hour start ms>`. */
  key: string;
  kind: RuleRunKind;
  /** First and last change of the run (epoch ms). */
  from: number;
  to: number;
  /** The published versions that wrote it (one, except an event hour across a publish). */
  versions: number[];
  /** Event runs: how many events (ledger batches) changed tags in the hour; 1 otherwise. */
  events: number;
  /** Distinct contacts whose tags changed. */
  contacts: number;
  added: number;
  removed: number;
  /** Per tag, added and removed. */
  tags: RuleRunTag[];
}

/**
 * A problem recorded for the rule: a `rule_errors` alert's episode (the cron's error for this
 * rule, when such an alert watches it) or the system's pause (its published rights were lost).
 * The cron's per-run errors are not stored elsewhere.
 */
export interface RuleRunError {
  at: number;
  /** null while the episode is still open. */
  clearedAt: number | null;
  kind: 'alert' | 'paused';
  reason: string;
}

/** `GET /api/rules/:id/runs` → 200 (404 for a rule the viewer may not see). */
export interface RuleRunsResponse extends Page<RuleRun> {
  errors: RuleRunError[];
}
