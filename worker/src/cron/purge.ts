/**
 * Retention, run by the Cron Trigger (worker/src/cron/scheduled.ts): audit entries and security
 * log rows older than `AUDIT_RETENTION_DAYS` ([vars], default 180) and sign-in attempts older than a day (the
 * rate limit looks back 15 minutes) are deleted, and so are the staged rows of imports nobody
 * will use again: imports left unapplied (staging or checked) for a week go with their rows,
 * and a rolled-back import keeps its summary but loses its rows a week after the rollback. An
 * applied import keeps its rows: rolling it back reads them. Delivered rows of the outbound
 * deliveries log go once the queue can no longer bring their message again (its retention is at
 * most 14 days); failed, queued and dead ones stay, they are still in play or on the dead-letter
 * list. The purge is not audited row by row; when it deleted audit entries or import rows it
 * writes one `audit.purge` entry with the counts, in the same batch.
 */
import { auditStatement } from '../audit';
import { DAY_MS } from '@shared/time';
import type { CountRow } from '../db/rows';

export const DEFAULT_AUDIT_RETENTION_DAYS = 180;
/** Sign-in attempts are only read for the rate limit (15 minutes); a day is plenty. */
export const LOGIN_ATTEMPT_RETENTION_MS = DAY_MS;
/** How long an unapplied import, or the rows of a rolled-back one, are kept. */
export const IMPORT_STAGING_RETENTION_MS = 7 * DAY_MS;
/**
 * How long a delivered row is kept: its id dedupes a redelivery of the same message, and a queue
 * keeps a message at most 14 days (Cloudflare Queues' longest retention), so a day more is safe.
 */
export const DELIVERY_LOG_RETENTION_MS = 15 * DAY_MS;
/** Delivered rows deleted per tick at most, so one tick stays short after a busy fortnight. */
export const DELIVERY_PURGE_LIMIT = 5_000;

/** Imports whose staged rows are no longer needed at a cutoff: unapplied since before it, or rolled back before it. */
const STALE_IMPORTS = `SELECT id FROM imports WHERE (status IN ('staging', 'checked') AND created_at < ?1) OR (status = 'rolled_back' AND rolled_back_at < ?1)`;

/** `AUDIT_RETENTION_DAYS` as a whole number of days ≥ 1; anything else falls back (with a warning). */
export function auditRetentionDays(env: Env): number {
  const raw = (env as unknown as Record<string, string | undefined>).AUDIT_RETENTION_DAYS;
  if (raw === undefined || raw === '') return DEFAULT_AUDIT_RETENTION_DAYS;
  const n = Number(raw);
  if (/^\s*\d+\s*$/.test(raw) && Number.isSafeInteger(n) && n >= 1) return n;
  console.warn(
    `AUDIT_RETENTION_DAYS=${JSON.stringify(raw)} is not a whole number of days ≥ 1; keeping audit entries ${DEFAULT_AUDIT_RETENTION_DAYS} days`,
  );
  return DEFAULT_AUDIT_RETENTION_DAYS;
}

export interface PurgeReport {
  auditEntries: number;
  /** Rows of the security log (refusals, worker/src/security/log.ts). */
  securityEvents: number;
  loginAttempts: number;
  /** Staged rows of unapplied or rolled-back imports. */
  importRows: number;
  /** Imports left unapplied past retention (deleted with their rows). */
  abandonedImports: number;
  /** Delivered rows of the outbound deliveries log past {@link DELIVERY_LOG_RETENTION_MS}. */
  deliveries: number;
}

/** Deletes what is past retention at `at`, atomically with its summary entry. */
export async function purgeExpired(env: Env, at: number): Promise<PurgeReport> {
  const db = env.DB;
  const days = auditRetentionDays(env);
  const auditCutoff = at - days * DAY_MS;
  const loginCutoff = at - LOGIN_ATTEMPT_RETENTION_MS;
  const importCutoff = at - IMPORT_STAGING_RETENTION_MS;
  const deliveryCutoff = at - DELIVERY_LOG_RETENTION_MS;
  const counts = await db.batch<CountRow>([
    db.prepare('SELECT COUNT(*) AS n FROM audit_log WHERE at < ?').bind(auditCutoff),
    db.prepare('SELECT COUNT(*) AS n FROM security_events WHERE last_at < ?').bind(auditCutoff),
    db.prepare('SELECT COUNT(*) AS n FROM login_attempts WHERE at < ?').bind(loginCutoff),
    db.prepare(`SELECT COUNT(*) AS n FROM import_rows WHERE import_id IN (${STALE_IMPORTS})`).bind(importCutoff),
    db.prepare(`SELECT COUNT(*) AS n FROM imports WHERE status IN ('staging', 'checked') AND created_at < ?`).bind(importCutoff),
    db
      .prepare(`SELECT COUNT(*) AS n FROM (SELECT 1 FROM deliveries WHERE status = 'delivered' AND delivered_at < ? LIMIT ?)`)
      .bind(deliveryCutoff, DELIVERY_PURGE_LIMIT),
  ]);
  const [auditEntries = 0, securityEvents = 0, loginAttempts = 0, importRows = 0, abandonedImports = 0, deliveries = 0] = counts.map(
    (r) => r.results[0]!.n,
  );
  const report: PurgeReport = { auditEntries, securityEvents, loginAttempts, importRows, abandonedImports, deliveries };
  if (auditEntries + securityEvents + loginAttempts + importRows + abandonedImports + deliveries === 0) return report;
  // Each delete's position, to read what it actually deleted (a concurrent purge may have taken some first).
  const statements: D1PreparedStatement[] = [];
  const slot: Partial<Record<keyof PurgeReport, number>> = {};
  const add = (key: keyof PurgeReport, stmt: D1PreparedStatement) => {
    slot[key] = statements.length;
    statements.push(stmt);
  };
  if (securityEvents > 0) add('securityEvents', db.prepare('DELETE FROM security_events WHERE last_at < ?').bind(auditCutoff));
  if (loginAttempts > 0) add('loginAttempts', db.prepare('DELETE FROM login_attempts WHERE at < ?').bind(loginCutoff));
  if (importRows > 0) add('importRows', db.prepare(`DELETE FROM import_rows WHERE import_id IN (${STALE_IMPORTS})`).bind(importCutoff));
  if (abandonedImports > 0)
    add('abandonedImports', db.prepare(`DELETE FROM imports WHERE status IN ('staging', 'checked') AND created_at < ?`).bind(importCutoff));
  if (deliveries > 0)
    add(
      'deliveries',
      db
        .prepare(`DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE status = 'delivered' AND delivered_at < ? LIMIT ?)`)
        .bind(deliveryCutoff, DELIVERY_PURGE_LIMIT),
    );
  if (auditEntries > 0) add('auditEntries', db.prepare('DELETE FROM audit_log WHERE at < ?').bind(auditCutoff));
  if (auditEntries + securityEvents + importRows + abandonedImports > 0) {
    statements.push(
      auditStatement(db, {
        actor: null,
        action: 'audit.purge',
        objectType: 'system',
        objectId: 'audit_log',
        summary: `Deleted ${auditEntries} audit entries and ${securityEvents} security log rows older than ${days} days, ${importRows} staged import rows and ${abandonedImports} abandoned imports`,
        params: { entries: auditEntries, days, importRows, abandonedImports },
        after: {
          auditEntries,
          securityEvents,
          loginAttempts,
          importRows,
          abandonedImports,
          deliveries,
          retentionDays: days,
          before: auditCutoff,
        },
        at,
      }),
    );
  }
  const results = await db.batch(statements);
  for (const key of Object.keys(report) as (keyof PurgeReport)[]) {
    const i = slot[key];
    report[key] = i === undefined ? 0 : (results[i]?.meta.changes ?? 0);
  }
  return report;
}
