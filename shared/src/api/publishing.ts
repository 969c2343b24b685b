/**
 * Safe publishing (worker/src/publishing/): a publish plan is one or more steps — a share and a
 * time — that the cron applies through the same publish path as `POST /api/rules/:id/publish`.
 * One step at a time is a scheduled publish; several are a ramp (gray release 10% → 50% → 100%).
 * In a department whose approval policy is on, a department admin's plan waits for a super
 * admin's approval first.
 */
import { z } from 'zod';
import { idParam, intParam } from './common';
import { publishBody, rolloutPercentSchema, type ActionCounts, type CompareResponse, type ConflictCounts, type TagCounts } from './rules';

/** Where a plan is: waiting for approval, waiting for its next step's time, paused by an alert, or finished one way or another. */
export const PLAN_STATES = ['awaiting_approval', 'scheduled', 'paused', 'done', 'failed', 'rejected', 'cancelled'] as const;
export type PlanState = (typeof PLAN_STATES)[number];
/** The states in which a plan still holds its rule (at most one per rule). */
export const LIVE_PLAN_STATES = ['awaiting_approval', 'scheduled', 'paused'] as const satisfies readonly PlanState[];

/** The most steps a ramp may have. */
export const MAX_PLAN_STEPS = 10;

/** A local wall-clock time in the server's `TIMEZONE`, to the minute: `2026-12-08T09:30`. */
export const localTimeSchema = z
  .string()
  .regex(/^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d$/, 'must be a local time like 2026-12-08T09:30');

/** `YYYY-MM-DDTHH:mm` in a zone `tzOffsetMinutes` east of UTC → epoch ms; null for a date that does not exist (Feb 30). */
export function localTimeToMs(local: string, tzOffsetMinutes: number): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(local);
  if (!m) return null;
  const [y, mo, d, h, mi] = m.slice(1).map(Number) as [number, number, number, number, number];
  const utc = Date.UTC(y, mo - 1, d, h, mi);
  const back = new Date(utc);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return null;
  return utc - tzOffsetMinutes * 60_000;
}

/** Epoch ms → `YYYY-MM-DDTHH:mm` in a zone `tzOffsetMinutes` east of UTC (the inverse of {@link localTimeToMs}). */
export function msToLocalTime(ms: number, tzOffsetMinutes: number): string {
  return new Date(ms + tzOffsetMinutes * 60_000).toISOString().slice(0, 16);
}

/** One step of a plan as sent: its share, and when (omitted: as soon as the plan may run — now, or when approved). */
export const planStepInput = z.object({ percent: rolloutPercentSchema, at: localTimeSchema.optional() }).strict();

/**
 * `POST /api/publishing/plans` → 201 `PlanItem`. What `POST /api/rules/:id/publish` takes, with the
 * steps instead of one share: `expected` / `expectedCalls` confirm the preview at the FIRST step's
 * share (checked now, as publish checks them; the cron publishes later steps with the counts of
 * their time). Steps' shares must rise and their times must be in the future and rise; only the
 * first may leave out its time. 409 when the rule already has a live plan.
 */
export const createPlanBody = z
  .object({
    ruleId: z.number().int().min(1),
    graphHash: publishBody.shape.graphHash,
    expected: publishBody.shape.expected,
    expectedCalls: publishBody.shape.expectedCalls,
    confirm: publishBody.shape.confirm,
    note: publishBody.shape.note,
    steps: z.array(planStepInput).min(1, 'must have at least one step').max(MAX_PLAN_STEPS, `must have at most ${MAX_PLAN_STEPS} steps`),
  })
  .strict()
  .superRefine((b, ctx) => {
    b.steps.forEach((s, i) => {
      if (i > 0 && s.at === undefined)
        ctx.addIssue({ code: 'custom', path: ['steps', i, 'at'], message: 'is required after the first step' });
      const prev = b.steps[i - 1];
      if (prev && s.percent <= prev.percent)
        ctx.addIssue({ code: 'custom', path: ['steps', i, 'percent'], message: `must be more than the step before (${prev.percent}%)` });
      if (prev?.at !== undefined && s.at !== undefined && s.at <= prev.at)
        ctx.addIssue({ code: 'custom', path: ['steps', i, 'at'], message: 'must be later than the step before' });
    });
  });
export type CreatePlanBody = z.output<typeof createPlanBody>;

export const planPath = z.object({ id: idParam }).strict();
export const planListQuery = z
  .object({
    /** `live`: awaiting approval, scheduled or paused; `all`: every state. */
    state: z.enum([...PLAN_STATES, 'live', 'all']).default('live'),
    ruleId: idParam.optional(),
    limit: intParam(1, 200).default(50),
  })
  .strict();

/** `POST /api/publishing/plans/:id/reject`: why (the requester reads it). */
export const rejectPlanBody = z.object({ reason: z.string().trim().min(1, 'must not be empty').max(500) }).strict();

/** `PUT /api/publishing/policies/:departmentId` (super admins): whether its department admins' publishes wait for approval. */
export const policyPath = z.object({ departmentId: idParam }).strict();
export const policyBody = z.object({ requireApproval: z.boolean() }).strict();

/** A step as stored and shown. `at` null: as soon as the plan may run. */
export interface PlanStep {
  percent: number;
  at: number | null;
  /** When the cron (or the approval) applied it, and the version it published. */
  appliedAt: number | null;
  version: number | null;
}

/** Why a plan stopped: a refusal of the publish path (`code`: its error code), a rejection, or an alert. */
export interface PlanReason {
  code: string;
  message: string;
  /** The step it concerns (0-based). */
  step?: number;
  alertId?: number;
}

/** The counts the requester confirmed, at the first step's share, at request time. */
export interface PlanPreview {
  rolloutPercent: number;
  total: number;
  matched: number;
  tags: TagCounts[];
  /** Per action node: which tag it names (so a tag it only displaces reads as such), calls of outbound nodes. */
  actions: Record<string, ActionCounts>;
  conflicts: ConflictCounts[];
  countedAt: number;
}

export interface PlanItem {
  id: number;
  ruleId: number;
  ruleName: string;
  state: PlanState;
  steps: PlanStep[];
  /** Index of the next step to apply (= steps.length when done). */
  nextStep: number;
  graphHash: string;
  preview: PlanPreview;
  note: string | null;
  reason: PlanReason | null;
  requestedBy: { id: number; name: string };
  requestedAt: number;
  decidedBy: { id: number; name: string } | null;
  decidedAt: number | null;
  /** The rule's published version when the plan was requested (null: never published). */
  baseVersion: number | null;
  /** May the viewer approve or reject it (a super admin, while it awaits approval)? */
  canDecide: boolean;
  /** May the viewer cancel it (live, and theirs or within their department as an admin)? */
  canCancel: boolean;
}

/** `GET /api/publishing/plans/:id`: the plan with what is to be published and what is published now. */
export interface PlanDetail extends PlanItem {
  /** The rule's version published now (null: never published; the diff's `a` side is then empty). */
  currentVersion: number | null;
  /** a: the rule's current published version (draft side empty when never published); b: the graph the plan publishes. */
  compare: CompareResponse;
}

/** `GET /api/publishing/plans`: the plans, and the zone their local times are in (`TIMEZONE`). */
export interface PlanList {
  items: PlanItem[];
  zone: { name: string; offsetMinutes: number };
  /** With `ruleId`: whether the viewer's publish of that rule waits for a super admin's approval. */
  approvalRequired?: boolean;
}

export interface PolicyItem {
  departmentId: number;
  departmentName: string;
  path: string;
  requireApproval: boolean;
}

/** Does a department admin's publish of a rule of this department (path) wait for approval? Any department on its path with the policy on decides. */
export function approvalRequired(policies: Pick<PolicyItem, 'path' | 'requireApproval'>[], rulePath: string | null): boolean {
  if (rulePath === null) return false;
  return policies.some((p) => p.requireApproval && rulePath.startsWith(p.path));
}
