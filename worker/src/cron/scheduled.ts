/**
 * The Cron Trigger (wrangler.toml `[triggers] crons = ["* * * * *"]`): every minute,
 *
 * - each published schedule-triggered rule whose cron matches this minute (in TIMEZONE) runs
 *   set-based in SQL over all contacts — the same statements publishing uses
 *   (`applyStatements`: the rule's net change per tag, targets computed from one state, then the
 *   tag writer),
 *   within its gray-release share, in one batch per rule; ledger rows carry the rule version
 *   and a batch id naming the run; call-webhook / notify nodes stage a delivery per contact the run
 *   re-tags (outbound/rule-deliveries.ts), enqueued after the batch — with any left staged by an
 *   earlier run whose enqueue failed;
 * - every segment without a snapshot for today gets one (`segment_snapshots`, size counted
 *   with the segment's SQL predicate, also split by department for the home's scoped chart).
 *   Checking "missing today" rather than "it is midnight" means a missed tick is caught up by
 *   the next one; today's tag coverage per department is counted the same way (worker/src/home/);
 * - alert rules are evaluated against today's snapshots, the ledger and intake (worker/src/alerts/);
 * - names no write path keyed get their pinyin search keys, a bounded number per tick
 *   (worker/src/search/keys.ts);
 * - audit entries past `AUDIT_RETENTION_DAYS` and day-old sign-in attempts are deleted
 *   (worker/src/cron/purge.ts);
 * - raw events older than every published rule's raw-event window (and `ARCHIVE_MIN_DAYS`) move
 *   to R2, a few bounded chunks per tick (worker/src/archive/job.ts);
 * - publish plans: due steps of scheduled publishes and ramps publish through the publish path,
 *   as their requester, once each; ramps an alert names pause (worker/src/publishing/schedule.ts);
 * - once an hour, learned rules whose fit is over a week old are re-learned on fresh data, a few
 *   per pass (worker/src/learn/refit.ts): a new suggestion a person may apply, never published.
 */
import { bothScopes } from '../rules/rule-preview';
import { compileWhere } from '@shared/rules/sql';
import { dayNumber } from '@shared/time';
import { parseJsonOr } from '@shared/json';
import { rolloutSql } from '@shared/rollout';
import type { JsonLogic } from '@shared/rules/types';
import type { SqlContext } from '@shared/rules/operators';
import { applyStatements } from '../rules/apply';
import { outboundStatements, sendPendingDeliveries } from '../outbound/rule-deliveries';
import { tzOffsetMinutes } from '../rules/context';
import { publishedStatement, ruleSetFor, type PublishedRow, type PublishedRule } from '../execution/published';
import { cronProblem, isScheduledAt } from '@shared/schedule';
import { purgeExpired, type PurgeReport } from './purge';
import { keyQueued } from '../search/keys';
import { sealLegacySourceSecrets } from '../ingest/source-secrets';
import { archiveStep, type ArchiveReport } from '../archive/job';
import { archiveHorizon } from '../archive/horizon';
import { recordCoverage, segmentSnapshotStatements } from '../home/rollups';
import { evaluateAlerts, type AlertReport } from '../alerts/evaluate';
import { pushTick, type PushTickReport } from '../wecom/push/tick';
import { runDuePlans, type PlansReport } from '../publishing/schedule';
import { queueDueRefits } from '../learn/refit';

/** What one tick did. */
export interface ScheduledReport {
  rules: { id: number; version: number; ledgerRows: number }[];
  /** Published rules not run because their publisher's rights no longer cover them (now paused). */
  paused: { id: number; version: number }[];
  snapshots: number;
  /** Whether today's tag coverage per department was counted this tick (the home's chart; once a day). */
  coverage: boolean;
  /** Names given their pinyin search keys (rows no write path keyed; worker/src/search/keys.ts). */
  keyed: number;
  /** Event sources whose clear secrets (from before sealing) were sealed (worker/src/ingest/source-secrets.ts). */
  sealedSources: number;
  /** Call-webhook / notify deliveries enqueued (this tick's runs and any left staged before). */
  deliveries: number;
  purged: PurgeReport;
  archived: ArchiveReport | null;
  /** Alerts raised and episodes ended this tick, after the snapshots they read (worker/src/alerts/). */
  alerts: AlertReport | null;
  /** Corp tags the WeCom mirror created and contacts queued for a push (worker/src/wecom/push/). */
  wecomPush: PushTickReport | null;
  /** Publish plans' steps published, refused, and ramps paused by an alert (worker/src/publishing/). */
  publishing: PlansReport | null;
  /** Refit suggestions queued this tick (learned rules over a week old; the pass runs at minute 23 of each hour). */
  refits?: number[];
  errors: string[];
}

/** The minute of each hour the weekly refit pass looks for due rules (one query; cheap, but not every minute). */
export const REFIT_MINUTE = 23;

/** Runs one tick at `at` (the controller's scheduledTime, epoch ms). */
export async function runScheduled(env: Env, at: number): Promise<ScheduledReport> {
  const db = env.DB;
  const tz = tzOffsetMinutes(env);
  const report: ScheduledReport = {
    rules: [],
    paused: [],
    snapshots: 0,
    coverage: false,
    keyed: 0,
    sealedSources: 0,
    deliveries: 0,
    archived: null,
    alerts: null,
    wecomPush: null,
    publishing: null,
    purged: { auditEntries: 0, securityEvents: 0, loginAttempts: 0, importRows: 0, abandonedImports: 0, deliveries: 0 },
    errors: [],
  };
  const ctx = { now: at, tzOffsetMinutes: tz };

  const rows = (await publishedStatement(db).all<PublishedRow>()).results;
  const set = await ruleSetFor(db, rows, at);
  report.paused = set.paused.map(({ id, version }) => ({ id, version }));
  for (const rule of set.rules) await runScheduledRule(db, rule, ctx, at, report);

  // Deliveries of this tick's runs, and any an earlier run could not enqueue (staged until sent).
  const outbound = await sendPendingDeliveries(env);
  report.deliveries = outbound.sent;
  for (const runId of outbound.failed) report.errors.push(`deliveries of ${runId} not enqueued; retried next minute`);

  report.snapshots = await snapshotSegments(db, ctx, report.errors);
  report.coverage = (await attempt(report, 'tag coverage', () => recordCoverage(db, dayNumber(at, tz), at))) ?? false;
  report.alerts = await attempt(report, 'alerts', () => evaluateAlerts(env, at, { errors: report.errors }));
  report.keyed = await keyQueued(db);
  report.sealedSources = (await attempt(report, 'sealing source secrets', () => sealLegacySourceSecrets(env))) ?? 0;
  report.wecomPush = await attempt(report, 'wecom push', () => pushTick(env, at, report.errors));

  report.purged = await purgeExpired(env, at);
  report.archived = await attempt(report, 'archive', async () => archiveStep(env, at, await archiveHorizon(env)));
  // after the alerts of this tick: a ramp step is not published in the tick that raised an alert on its rule
  report.publishing = await attempt(report, 'publishing', () => runDuePlans(env, at));
  for (const e of report.publishing?.errors ?? []) report.errors.push(`publishing: ${e}`);
  if (new Date(at).getUTCMinutes() === REFIT_MINUTE) report.refits = (await attempt(report, 'refits', () => queueDueRefits(env, at))) ?? [];
  if (report.errors.length) console.error('scheduled run problems', report.errors);
  return report;
}

/** A step whose failure is reported (`label: message`) without stopping the rest of the tick; null when it failed. */
async function attempt<T>(report: ScheduledReport, label: string, step: () => Promise<T>): Promise<T | null> {
  try {
    return await step();
  } catch (e) {
    report.errors.push(`${label}: ${e instanceof Error ? e.message : String(e)}`);
    return null;
  }
}

/** One published schedule rule at `at`: runs it if its cron matches, in one batch with its staged deliveries. */
async function runScheduledRule(db: D1Database, rule: PublishedRule, ctx: SqlContext, at: number, report: ScheduledReport): Promise<void> {
  const tz = ctx.tzOffsetMinutes;
  if (rule.trigger !== 'schedule' || !rule.compiled || rule.compiled.trigger.type !== 'schedule') return;
  // a version published before schedules were checked may carry one the cron cannot read
  const problem = cronProblem(rule.compiled.trigger.cron);
  if (problem !== null) {
    report.errors.push(`rule ${rule.id} v${rule.version}: ${problem}`);
    return;
  }
  if (!isScheduledAt(rule.compiled.trigger.cron, at, tz)) return;
  const batchId = `schedule:${rule.id}:${rule.version}:${at}`;
  // the same contacts the webhook path and the preview consider: the share, within the rule's departments
  const scope = bothScopes(
    rule.rolloutPercent >= 100 ? undefined : rolloutSql(rule.id, rule.rolloutPercent),
    rule.departmentIds
      ? { sql: 'c.department_id IN (SELECT value FROM json_each(?))', params: [JSON.stringify([...rule.departmentIds])] }
      : undefined,
  );
  const apply = applyStatements(db, rule.compiled, rule.net, ctx, scope, {
    source: 'rule',
    ruleId: rule.id,
    ruleVersion: rule.version,
    batchId,
    at,
  });
  if (!apply.ok) {
    report.errors.push(`rule ${rule.id} v${rule.version}: ${apply.errors.map((e) => e.message).join('; ')}`);
    return;
  }
  const outbound = outboundStatements(db, rule.compiled, ctx, scope, {
    ruleId: rule.id,
    ruleVersion: rule.version,
    batchId,
    cause: { kind: 'schedule', ref: batchId },
    at,
  });
  if (!outbound.ok) {
    report.errors.push(`rule ${rule.id} v${rule.version}: ${outbound.errors.map((e) => e.message).join('; ')}`);
    return;
  }
  await db.batch([...outbound.value.before, ...apply.value, ...outbound.value.after]);
  const n = await db.prepare('SELECT COUNT(*) AS n FROM tag_ledger WHERE batch_id = ?').bind(batchId).first<{ n: number }>();
  report.rules.push({ id: rule.id, version: rule.version, ledgerRows: n?.n ?? 0 });
}

/** The Workers `scheduled` handler. */
export const scheduled: ExportedHandlerScheduledHandler<Env> = (controller, env, ctx) => {
  ctx.waitUntil(runScheduled(env, controller.scheduledTime));
};

/** Today's size of every segment that has none yet (one INSERT each, one batch); answers how many. */
async function snapshotSegments(db: D1Database, ctx: SqlContext, errors: string[]): Promise<number> {
  const today = dayNumber(ctx.now, ctx.tzOffsetMinutes);
  const due = await db
    .prepare('SELECT id, logic FROM segments WHERE id NOT IN (SELECT segment_id FROM segment_snapshots WHERE day = ?)')
    .bind(today)
    .all<{ id: number; logic: string }>();
  const snapshots: D1PreparedStatement[][] = [];
  for (const s of due.results) {
    const logic = parseJsonOr<JsonLogic | null>(s.logic, null);
    if (logic === null) continue; // a segment whose graph does not compile has no size
    const where = compileWhere(logic, ctx);
    if (!where.ok) {
      errors.push(`segment ${s.id}: ${where.errors.map((e) => e.message).join('; ')}`);
      continue;
    }
    // by department too, from the same count: the home scopes a department admin's chart with it
    snapshots.push(segmentSnapshotStatements(db, s.id, today, where.value));
  }
  if (snapshots.length) await db.batch(snapshots.flat());
  return snapshots.length;
}
