/**
 * Learned rule suggestions (issue 19, `/api/suggestions`): learn a draft rule from an outcome in a
 * queue job (`shared/src/learn/`), read its progress and result, and turn it into an ordinary
 * draft rule. Nothing is published by the model: a person reads, edits and publishes the draft.
 */
import { z } from 'zod';
import { EVENT_TYPES } from '../domain';
import type { RuleQuality } from '../learn/metrics';
import type { ConditionSpec, RuleGraph } from '../rules/types';
import { idParam } from './common';
import { nameSchema, type PreviewCountsBody } from './rules';
import type { RuleError } from '../rules/errors';

/** The bounds a request is held to (the tree's own safe bounds are wider). */
export const SUGGESTION_LIMITS = {
  depth: [1, 5],
  minLeaf: [10, 5_000],
  /** future behaviour: the label window in days */
  days: [7, 90],
} as const;

/** What to learn: a future behaviour (features as of D − days, label from the days after), a tag held, a segment matched. */
export const outcomeSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('future_event'),
      eventType: z.enum(EVENT_TYPES),
      days: z.number().int().min(SUGGESTION_LIMITS.days[0]).max(SUGGESTION_LIMITS.days[1]),
    })
    .strict(),
  z.object({ kind: z.literal('tag'), tagId: z.number().int().positive() }).strict(),
  z.object({ kind: z.literal('segment'), segmentId: z.number().int().positive() }).strict(),
]);
export type SuggestionOutcome = z.output<typeof outcomeSchema>;

/** `POST /api/suggestions` → 202 `SuggestionDetail` (status `queued`). dept_admin and up. */
export const createSuggestionBody = z
  .object({
    outcome: outcomeSchema,
    depth: z.number().int().min(SUGGESTION_LIMITS.depth[0]).max(SUGGESTION_LIMITS.depth[1]),
    minLeaf: z.number().int().min(SUGGESTION_LIMITS.minLeaf[0]).max(SUGGESTION_LIMITS.minLeaf[1]),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .optional(),
  })
  .strict();
export type CreateSuggestionBody = z.output<typeof createSuggestionBody>;

/**
 * The stored parameters of a suggestion (the request, the seed filled in). A refit (the same
 * request re-learned on fresh data for a rule made from suggestion `from`) names both.
 */
export type SuggestionParams = CreateSuggestionBody & { seed: number; refit?: { from: number; ruleId: number } };

/**
 * `POST /api/suggestions/:id/draft` → 201 `{ ruleId }`: an ordinary draft rule (as `POST
 * /api/rules` makes one) whose add-tag actions add `tagId`. `tagId` may be left out only when the
 * outcome is a tag (the draft then adds that tag).
 */
export const suggestionDraftBody = z
  .object({
    name: nameSchema,
    tagId: z.number().int().positive().optional(),
  })
  .strict();

/**
 * `POST /api/suggestions/:id/refit` → 202 `SuggestionDetail`: learn suggestion `:id` again on
 * today's data for rule `ruleId` (a draft made from it, or from one of its refits). The result is
 * a new suggestion; nothing changes on the rule until a person applies it (`/apply`).
 */
export const suggestionRefitBody = z.object({ ruleId: z.number().int().positive() }).strict();

/** `POST /api/suggestions/:id/apply` → 200 `{ ruleId }`: a finished refit's tree becomes its rule's draft (never published). */
export const suggestionApplyBody = z.object({}).strict();

/** `:ruleId` of `GET /api/suggestions/by-rule/:ruleId`. */
export const suggestionRulePath = z.object({ ruleId: idParam }).strict();

/** `:id` of a suggestion. */
export const suggestionPath = z.object({ id: idParam }).strict();

export const SUGGESTION_STATUSES = ['queued', 'running', 'done', 'failed'] as const;
export type SuggestionStatus = (typeof SUGGESTION_STATUSES)[number];

/**
 * Why a suggestion failed: no contacts in scope (or none old enough for the time split), all or
 * none with the outcome, no leaf reaching the threshold, or the job itself stopping.
 */
export const SUGGESTION_ERROR_CODES = ['no_contacts', 'one_class', 'no_positive_leaf', 'outcome_gone', 'job_failed'] as const;
export type SuggestionErrorCode = (typeof SUGGESTION_ERROR_CODES)[number];

/** One condition on the way from the trigger to a leaf, and the side taken. */
export interface LeafStep {
  nodeId: string;
  condition: ConditionSpec;
  handle: 'yes' | 'no';
}

/** A leaf of the draft with its numbers. */
export interface SuggestionLeaf {
  /** The node whose handle leads to it, and the handle. */
  from: string;
  handle?: 'yes' | 'no';
  /** Its add-tag action node, or null when its rate is below the threshold (its contacts are not tagged). */
  actionNodeId: string | null;
  /** The conditions that lead to it, trigger first. */
  path: LeafStep[];
  /** Training sample contacts. */
  train: { n: number; positives: number; rate: number };
  /** Held-out contacts: size, positive rate, lift over the held-out base rate. */
  heldOut: { n: number; positives: number; rate: number; lift: number };
}

/** What a finished suggestion holds. */
export interface SuggestionResult {
  /** The draft graph; its add-tag actions name the outcome's tag, or tag 0 until a draft picks one. */
  graph: RuleGraph;
  leaves: SuggestionLeaf[];
  /** The whole rule (tagged leaves together) on held-out contacts. */
  learned: RuleQuality;
  /** The best single condition by training F1, on the same held-out contacts. */
  baseline: { condition: ConditionSpec; quality: RuleQuality } | null;
  /** Contacts learned from (training sample pool) and held out for the numbers. */
  trainRows: number;
  heldOutRows: number;
  /** Contacts with the outcome among all loaded. */
  positives: number;
  features: number;
  /** Features as of this time (end of day D − N for a future behaviour, else when it ran). */
  asOf: number;
  /** The leaf positive rate that earns the tag. */
  threshold: number;
}

/** `GET /api/suggestions/:id` (and each item of the list, without `result`). */
export interface SuggestionDetail {
  id: number;
  status: SuggestionStatus;
  /** 0–100: contacts loaded (to 90), then training. */
  progress: number;
  /** Contacts loaded so far, of `total` in scope. */
  loaded: number;
  total: number;
  params: SuggestionParams;
  /** The outcome's name when it is a tag or a segment. */
  outcomeName: string | null;
  departmentId: number | null;
  createdBy: number | null;
  createdAt: number;
  updatedAt: number;
  finishedAt: number | null;
  /** Why it failed: a code the screen words, and the reason in (English) words. */
  errorCode: SuggestionErrorCode | null;
  error: string | null;
  /** Draft rules made from it. */
  ruleIds: number[];
  result: SuggestionResult | null;
}

/** `GET /api/suggestions` → the 20 most recent the caller may see, newest first, without results. */
export interface SuggestionListResponse {
  items: Omit<SuggestionDetail, 'result'>[];
}

/** `POST /api/suggestions/:id/draft` → 201. */
export interface SuggestionDraftResponse {
  ruleId: number;
}

/** `POST /api/suggestions/:id/apply` → 200. */
export interface SuggestionApplyResponse {
  ruleId: number;
}

/**
 * `GET /api/suggestions/by-rule/:ruleId`: what a rule was learned from. `fit` is the newest
 * finished suggestion whose tree the rule holds (the one its draft was made from, or the last
 * refit applied to it); `refit` the newest refit for it not applied yet (any status), else null.
 * Both null for a rule not made by learning.
 */
export interface SuggestionForRuleResponse {
  fit: SuggestionDetail | null;
  refit: SuggestionDetail | null;
}

/** Contacts that would move: how many, their share of all contacts in the rule's scope, a few of them. */
export interface SuggestionMove {
  count: number;
  share: number;
  sample: { id: number; name: string }[];
}

/**
 * `GET /api/suggestions/:id/diff`: a finished refit against its rule's published version, on the
 * contacts the rule covers now. `gain` are matched by the refit and not by the published version
 * (they would gain the tag), `lose` the other way round (the published version tags them, the
 * refit would not). `net` is what publishing the refit would write now, as the publish dialog
 * counts it (the preview's counts). No published version: `published` is null and every match is
 * a gain.
 */
export type SuggestionDiffResponse =
  | {
      ok: true;
      ruleId: number;
      published: { version: number } | null;
      tagId: number;
      total: number;
      gain: SuggestionMove;
      lose: SuggestionMove;
      net: PreviewCountsBody;
    }
  | { ok: false; errors: RuleError[] };
