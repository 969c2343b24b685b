import { z } from 'zod';
import { intParam, pagingQuery, type Page } from './common';

/**
 * Alerts: rules that watch a segment's daily size, a published rule's firing and errors, and
 * intake (a source's silence, dead letters). The cron evaluates them every minute from
 * snapshots and per-row timestamps (never a scan of contacts) and raises at most one alert per
 * episode (worker/src/alerts/).
 *
 * - `GET /api/alerts?state=open|acknowledged|all` → `AlertList` (newest first, scoped like rules
 *   and segments; `open` is the bell's count);
 * - `POST /api/alerts/:id/ack` → `AlertItem`;
 * - `GET /api/alerts/rules` → `{ items: AlertRuleItem[] }`;
 * - `POST /api/alerts/rules` (`alertRuleBody`) → 201 `AlertRuleItem`; `PATCH /api/alerts/rules/:id` → `AlertRuleItem`;
 * - `POST /api/alerts/rules/:id/mute` (`muteBody`) and `…/unmute` → `AlertRuleItem`.
 */
export const ALERT_KINDS = [
  'segment_drop',
  'segment_rise',
  'segment_below',
  'rule_silent',
  'rule_errors',
  'source_silent',
  'dead_letters',
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

/** What each kind watches: the field of the body that names it, and whether `threshold` is used (and what it means). */
export const ALERT_KIND_SPEC: Record<
  AlertKind,
  { target: 'segment' | 'rule' | 'source' | null; threshold: 'percent' | 'count' | 'hours' | null }
> = {
  segment_drop: { target: 'segment', threshold: 'percent' },
  segment_rise: { target: 'segment', threshold: 'percent' },
  segment_below: { target: 'segment', threshold: 'count' },
  rule_silent: { target: 'rule', threshold: 'hours' },
  rule_errors: { target: 'rule', threshold: null },
  source_silent: { target: 'source', threshold: 'hours' },
  dead_letters: { target: null, threshold: null },
};

/** Kinds about intake: event sources and dead letters are super admins' only, so are these alerts. */
export const SUPER_ADMIN_ALERT_KINDS: readonly AlertKind[] = ['source_silent', 'dead_letters'];

const THRESHOLD_LIMITS = { percent: [1, 100], count: [0, 100_000_000], hours: [1, 24 * 90] } as const;

const alertRuleFields = {
  name: z.string().trim().min(1, 'is required').max(60, 'must be at most 60 characters'),
  kind: z.enum(ALERT_KINDS),
  segmentId: z.number().int().positive().nullable().optional(),
  ruleId: z.number().int().positive().nullable().optional(),
  sourceId: z.string().trim().min(1).max(100).nullable().optional(),
  /** percent for drop / rise (1–100), a contact count for below, hours for silent kinds */
  threshold: z.number().int('must be a whole number').nullable().optional(),
  /** an outbound destination (worker/src/outbound/): each alert raised is sent there once */
  destinationId: z.number().int().positive().nullable().optional(),
};

type AlertRuleFields = z.output<z.ZodObject<typeof alertRuleFields>>;

/** The target and threshold a kind needs, each missing one named by its field. */
function checkKind(b: AlertRuleFields, ctx: z.RefinementCtx) {
  const spec = ALERT_KIND_SPEC[b.kind];
  const need = (path: keyof AlertRuleFields, ok: boolean, message: string) => {
    if (!ok) ctx.addIssue({ code: 'custom', path: [path], message });
  };
  if (spec.target === 'segment') need('segmentId', b.segmentId != null, `is required for ${b.kind}`);
  if (spec.target === 'rule') need('ruleId', b.ruleId != null, `is required for ${b.kind}`);
  if (spec.target === 'source') need('sourceId', b.sourceId != null, `is required for ${b.kind}`);
  if (spec.threshold === null) return;
  const [min, max] = THRESHOLD_LIMITS[spec.threshold];
  if (b.threshold == null) need('threshold', false, `is required for ${b.kind}`);
  else need('threshold', b.threshold >= min && b.threshold <= max, `must be between ${min} and ${max} for ${b.kind}`);
}

/** `POST /api/alerts/rules` and `PATCH /api/alerts/rules/:id` (the whole rule: the form sends every field). */
export const alertRuleBody = z.strictObject(alertRuleFields).superRefine(checkKind);
export type AlertRuleBody = z.output<typeof alertRuleBody>;

/** `POST /api/alerts/rules/:id/mute`: until a time (epoch ms, in the future), or indefinitely (`until` null or left out). */
export const muteBody = z.strictObject({ until: z.number().int().positive().nullable().optional() });
export type MuteBody = z.output<typeof muteBody>;

export const ALERT_STATES = ['open', 'acknowledged', 'all'] as const;
export const alertListQuery = z.strictObject({
  ...pagingQuery,
  state: z.enum(ALERT_STATES).default('open'),
  alertRuleId: intParam(1, Number.MAX_SAFE_INTEGER).optional(),
});
export type AlertListQuery = z.output<typeof alertListQuery>;

/** What the alert measured when it was raised: the numbers its sentence states. */
export type AlertMeasured =
  | { kind: 'segment_drop' | 'segment_rise'; previous: number; current: number; changePct: number; threshold: number; day: number }
  | { kind: 'segment_below'; current: number; threshold: number; day: number }
  | { kind: 'rule_silent'; lastAt: number | null; since: number; hours: number; threshold: number }
  | { kind: 'rule_errors'; reason: string; paused: boolean }
  | { kind: 'source_silent'; lastAt: number | null; since: number; hours: number; threshold: number }
  | { kind: 'dead_letters'; intake: number; deliveries: number; since: number };

/** What an alert is about, with the screen it links to. */
export interface AlertTarget {
  type: 'segment' | 'rule' | 'source' | 'dead_letters';
  /** segment or rule id, source id; null for dead letters */
  id: number | string | null;
  /** null when the object was since deleted */
  name: string | null;
}

export interface AlertItem {
  id: number;
  alertRuleId: number;
  ruleName: string;
  kind: AlertKind;
  state: 'open' | 'acknowledged';
  target: AlertTarget;
  measured: AlertMeasured;
  raisedAt: number;
  /** when the condition stopped holding (the episode ended); null while it still holds */
  clearedAt: number | null;
  acknowledgedAt: number | null;
  acknowledgedBy: { id: number; name: string } | null;
  /** the outbound delivery's stable id, when the rule names a destination */
  deliveryId: string | null;
}

/** `open`: how many open alerts the viewer may see, whatever the page shows (the bell's number). */
export type AlertList = Page<AlertItem> & { open: number };

export interface AlertRuleItem {
  id: number;
  name: string;
  kind: AlertKind;
  target: AlertTarget | null;
  threshold: number | null;
  destination: { id: number; name: string } | null;
  departmentId: number | null;
  /** muted now: `mutedUntil` null means indefinitely */
  muted: boolean;
  mutedUntil: number | null;
  /** the alert of the current episode, if one is open or acknowledged and its condition still holds */
  current: { id: number; state: 'open' | 'acknowledged'; raisedAt: number } | null;
  lastRaisedAt: number | null;
  createdAt: number;
  updatedAt: number;
}
