/**
 * Retention, run by the Cron Trigger (worker/src/cron/scheduled.ts): audit entries older than
 * `AUDIT_RETENTION_DAYS` ([vars], default 180) and sign-in attempts older than a day (the
 * rate limit looks back 15 minutes) are deleted. The purge is not audited row by row; when it
 * deleted audit entries it writes one `audit.purge` entry with the counts, in the same batch.
 */
import { auditStatement } from '../audit';

export const DEFAULT_AUDIT_RETENTION_DAYS = 180;
const DAY_MS = 86_400_000;
/** Sign-in attempts are only read for the rate limit (15 minutes); a day is plenty. */
export const LOGIN_ATTEMPT_RETENTION_MS = DAY_MS;

/** `AUDIT_RETENTION_DAYS` as a whole number of days ≥ 1; anything else falls back (with a warning). */
export function auditRetentionDays(env: Env): number {
  const raw = (env as unknown as Record<string, string | undefined>).AUDIT_RETENTION_DAYS;
  if (raw === undefined || raw === '') return DEFAULT_AUDIT_RETENTION_DAYS;
  const n = Number(raw);
  if (/^\s*\d+\s*$/.test(raw) && Number.isSafeInteger(n) && n >= 1) return n;
  console.warn(`AUDIT_RETENTION_DAYS=${JSON.stringify(raw)} is not a whole number of days ≥ 1; keeping audit entries ${DEFAULT_AUDIT_RETENTION_DAYS} days`);
  return DEFAULT_AUDIT_RETENTION_DAYS;
}

export interface PurgeReport {
  auditEntries: number;
  loginAttempts: number;
}

/** Deletes what is past retention at `at`, atomically with its summary entry. */
export async function purgeExpired(env: Env, at: number): Promise<PurgeReport> {
  const db = env.DB;
  const days = auditRetentionDays(env);
  const auditCutoff = at - days * DAY_MS;
  const loginCutoff = at - LOGIN_ATTEMPT_RETENTION_MS;
  const counts = await db.batch<{ n: number }>([
    db.prepare('SELECT COUNT(*) AS n FROM audit_log WHERE at < ?').bind(auditCutoff),
    db.prepare('SELECT COUNT(*) AS n FROM login_attempts WHERE at < ?').bind(loginCutoff),
  ]);
  const auditEntries = counts[0]!.results[0]!.n;
  const loginAttempts = counts[1]!.results[0]!.n;
  if (auditEntries === 0 && loginAttempts === 0) return { auditEntries, loginAttempts };
  const statements: D1PreparedStatement[] = [];
  if (loginAttempts > 0) statements.push(db.prepare('DELETE FROM login_attempts WHERE at < ?').bind(loginCutoff));
  if (auditEntries > 0) {
    statements.push(db.prepare('DELETE FROM audit_log WHERE at < ?').bind(auditCutoff));
    statements.push(
      auditStatement(db, {
        actor: null,
        action: 'audit.purge',
        objectType: 'system',
        objectId: 'audit_log',
        summary: `Deleted ${auditEntries} audit entries older than ${days} days`,
        after: { auditEntries, loginAttempts, retentionDays: days, before: auditCutoff },
        at,
      }),
    );
  }
  const results = await db.batch(statements);
  // What was actually deleted (a concurrent purge may have taken some first).
  const deleted = (i: number) => results[i]?.meta.changes ?? 0;
  return {
    loginAttempts: loginAttempts > 0 ? deleted(0) : 0,
    auditEntries: auditEntries > 0 ? deleted(loginAttempts > 0 ? 1 : 0) : 0,
  };
}
