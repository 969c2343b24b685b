/**
 * Raising alerts, every cron tick. Cheap by construction: one read statement over the alert rules
 * (each row's measure is an indexed lookup: two segment snapshots, a rule's latest ledger row by
 * `tag_ledger_rule_at_idx`, a source's `last_event_at`, dead letters by time), never a scan of
 * contacts or of the ledger; then one write batch.
 *
 * Episodes: a rule's condition holding raises one alert (`open`) and keeps it as the episode's
 * alert (`cleared_at` null) for as long as it holds, acknowledged or not, so the next ticks raise
 * nothing (the partial unique index `alerts_episode_idx` makes a second raise impossible, even
 * from two ticks at once). When the condition stops holding the episode ends (`cleared_at` set);
 * the next time it holds is a new episode and a new alert. A muted rule raises nothing; its
 * episodes still end, so unmuting while the condition holds raises at the next tick. A measure
 * that cannot be taken (no snapshot yet, yesterday empty) changes nothing.
 */
import type { AlertKind, AlertMeasured } from '@shared/api/alerts';
import { dayNumber } from '@shared/time';
import { parseJsonOr } from '@shared/json';
import { tzOffsetMinutes } from '../rules/context';
import { alertDeliveryId, sendAlertDeliveries } from './deliveries';

const HOUR = 3_600_000;

/** What the cron saw this tick that the database does not keep: its per-rule errors. */
export interface AlertInputs {
  /** the tick's problems, as `ScheduledReport.errors` words them (`rule <id> v<version>: …`) */
  errors: readonly string[];
}

/** What one evaluation did. */
export interface AlertReport {
  raised: number;
  cleared: number;
  /** alert deliveries put on the deliveries queue (this tick's and any an earlier tick could not enqueue) */
  deliveries: number;
}

/** One alert rule with its measures, as the evaluation's read statement returns it. */
interface Measured {
  id: number;
  kind: AlertKind;
  threshold: number | null;
  destination_id: number | null;
  muted_at: number | null;
  muted_until: number | null;
  checked_at: number;
  episode_id: number | null;
  seg_today: number | null;
  seg_yesterday: number | null;
  rule_id: number | null;
  rule_status: string | null;
  rule_paused_reason: string | null;
  rule_published_at: number | null;
  rule_last_at: number | null;
  source_last_at: number | null;
  source_created_at: number | null;
  source_revoked_at: number | null;
  dl_intake: number | null;
  dl_deliveries: number | null;
}

/** The measures of every alert rule; each subquery runs only for the kinds that read it. */
const READ = `
SELECT ar.id, ar.kind, ar.threshold, ar.destination_id, ar.muted_at, ar.muted_until, ar.checked_at, ar.rule_id,
  (SELECT id FROM alerts WHERE alert_rule_id = ar.id AND cleared_at IS NULL) AS episode_id,
  CASE WHEN ar.kind LIKE 'segment_%' THEN (SELECT size FROM segment_snapshots WHERE segment_id = ar.segment_id AND day = ?1) END AS seg_today,
  CASE WHEN ar.kind LIKE 'segment_%' THEN (SELECT size FROM segment_snapshots WHERE segment_id = ar.segment_id AND day = ?1 - 1) END AS seg_yesterday,
  r.status AS rule_status, r.paused_reason AS rule_paused_reason,
  CASE WHEN ar.kind = 'rule_silent' THEN (SELECT published_at FROM rule_versions WHERE rule_id = r.id AND version = r.published_version) END AS rule_published_at,
  CASE WHEN ar.kind = 'rule_silent' THEN (SELECT at FROM tag_ledger WHERE rule_id = ar.rule_id ORDER BY at DESC LIMIT 1) END AS rule_last_at,
  s.last_event_at AS source_last_at, s.created_at AS source_created_at, s.revoked_at AS source_revoked_at,
  CASE WHEN ar.kind = 'dead_letters' THEN (SELECT COUNT(*) FROM intake_dead_letters WHERE dead_at > ar.checked_at AND dead_at <= ?2) END AS dl_intake,
  -- an alert's own delivery going dead is not a new alert (it would feed itself)
  CASE WHEN ar.kind = 'dead_letters' THEN (SELECT COUNT(*) FROM deliveries WHERE status = 'dead'
    AND COALESCE(last_attempt_at, created_at) > ar.checked_at AND COALESCE(last_attempt_at, created_at) <= ?2
    AND node_id NOT LIKE 'alert:%') END AS dl_deliveries
FROM alert_rules ar
LEFT JOIN rules r ON r.id = ar.rule_id
LEFT JOIN event_sources s ON s.id = ar.source_id`;

/** Does the rule's condition hold at `at`? The measure when it does, false when it does not, null when it cannot be told. */
export function conditionOf(m: Measured, at: number, today: number, inputs: AlertInputs): AlertMeasured | false | null {
  const threshold = m.threshold ?? 0;
  switch (m.kind) {
    case 'segment_drop':
    case 'segment_rise': {
      if (m.seg_today === null || m.seg_yesterday === null || m.seg_yesterday === 0) return null;
      const changePct = Math.round(((m.seg_today - m.seg_yesterday) / m.seg_yesterday) * 1000) / 10;
      const holds = m.kind === 'segment_drop' ? changePct <= -threshold : changePct >= threshold;
      return holds ? { kind: m.kind, previous: m.seg_yesterday, current: m.seg_today, changePct, threshold, day: today } : false;
    }
    case 'segment_below':
      if (m.seg_today === null) return null;
      return m.seg_today < threshold ? { kind: 'segment_below', current: m.seg_today, threshold, day: today } : false;
    case 'rule_silent': {
      if (m.rule_status !== 'published') return false;
      const since = Math.max(m.rule_last_at ?? 0, m.rule_published_at ?? 0);
      const hours = Math.floor((at - since) / HOUR);
      return at - since >= threshold * HOUR ? { kind: 'rule_silent', lastAt: m.rule_last_at, since, hours, threshold } : false;
    }
    case 'rule_errors': {
      if (m.rule_status === 'paused' && m.rule_paused_reason) {
        // RulePausedReason (shared/src/api/rules.ts): the rights its published version ran on were lost
        const reason = parseJsonOr<{ kind?: string } | null>(m.rule_paused_reason, null);
        return { kind: 'rule_errors', reason: reason?.kind ?? 'paused', paused: true };
      }
      const error = inputs.errors.find((e) => e.startsWith(`rule ${m.rule_id} v`));
      return error ? { kind: 'rule_errors', reason: error, paused: false } : false;
    }
    case 'source_silent': {
      if (m.source_revoked_at !== null || m.source_created_at === null) return false;
      const since = m.source_last_at ?? m.source_created_at;
      const hours = Math.floor((at - since) / HOUR);
      return at - since >= threshold * HOUR ? { kind: 'source_silent', lastAt: m.source_last_at, since, hours, threshold } : false;
    }
    case 'dead_letters': {
      const intake = m.dl_intake ?? 0;
      const deliveries = m.dl_deliveries ?? 0;
      return intake + deliveries > 0 ? { kind: 'dead_letters', intake, deliveries, since: m.checked_at } : false;
    }
  }
}

const mutedAt = (m: Pick<Measured, 'muted_at' | 'muted_until'>, at: number) =>
  m.muted_at !== null && (m.muted_until === null || m.muted_until > at);

/** Evaluates every alert rule at `at` (epoch ms): raises, ends episodes, and sends what raised alerts owe their destination. */
export async function evaluateAlerts(env: Env, at: number, inputs: AlertInputs = { errors: [] }): Promise<AlertReport> {
  const db = env.DB;
  const today = dayNumber(at, tzOffsetMinutes(env));
  const rows = (await db.prepare(READ).bind(today, at).all<Measured>()).results;
  const writes: D1PreparedStatement[] = [];
  let raised = 0;
  let cleared = 0;
  for (const m of rows) {
    const holds = conditionOf(m, at, today, inputs);
    if (m.kind === 'dead_letters') writes.push(db.prepare('UPDATE alert_rules SET checked_at = ? WHERE id = ?').bind(at, m.id));
    if (holds === null) continue;
    if (holds === false) {
      if (m.episode_id === null) continue;
      writes.push(db.prepare('UPDATE alerts SET cleared_at = ? WHERE id = ? AND cleared_at IS NULL').bind(at, m.episode_id));
      cleared++;
      continue;
    }
    if (m.episode_id !== null || mutedAt(m, at)) continue;
    const deliveryId = m.destination_id === null ? null : await alertDeliveryId(m.id, at);
    // OR IGNORE: the episode index refuses a second open episode (a concurrent tick raised it first)
    writes.push(
      db
        .prepare(
          `INSERT OR IGNORE INTO alerts (alert_rule_id, kind, state, measured, raised_at, delivery_id) VALUES (?, ?, 'open', ?, ?, ?)`,
        )
        .bind(m.id, m.kind, JSON.stringify(holds), at, deliveryId),
    );
    raised++;
  }
  if (writes.length) await db.batch(writes);
  const deliveries = await sendAlertDeliveries(env, at);
  return { raised, cleared, deliveries };
}
