/**
 * Sign-in throttling that slows guessing without letting anyone lock an account.
 *
 * Failures are counted per (account, address) pair and per address, over 15 minutes
 * (`login_attempts`). A pair gets `FREE_FAILURES` tries; after that each further try must wait
 * a delay that doubles with every failure (1 s, 2 s, 4 s … capped at 15 minutes), answered with
 * 429 and a `Retry-After` of the time left. Nothing is counted per account alone: a stranger
 * hammering an account from elsewhere slows only their own pair, and the owner signing in from
 * their address gets in. An address with `MAX_FAILURES_PER_IP` failures (any accounts) is
 * refused until its oldest failure leaves the window, which bounds spraying one address over
 * many accounts.
 */
import { ApiError } from '../errors';

/** Failures a pair may make before the growing delay starts. */
export const FREE_FAILURES = 3;
/** The ceiling of a pair's delay, and the window failures are counted in. */
export const FAILURE_WINDOW_MS = 15 * 60_000;
export const MAX_FAILURES_PER_IP = 30;

/** The wait after a pair's `n`th failure in the window: 0 for the free ones, then 1 s, 2 s, 4 s … ≤ 15 min. */
export function pairDelayMs(failures: number): number {
  if (failures < FREE_FAILURES) return 0;
  return Math.min(FAILURE_WINDOW_MS, 1000 * 2 ** Math.min(30, failures - FREE_FAILURES));
}

/**
 * Records this attempt as a failure and checks the throttle, in one batch: the attempt's row is
 * written before the counts are read, so parallel guesses from one pair see each other (D1 runs
 * batches one at a time) and cannot all slip under the limit. Throws 429 (with `retryAfter`, in
 * seconds, for the `Retry-After` header) after deleting the row again (a refused try is not a
 * guess and does not lengthen the wait); otherwise returns the row's id, which the caller keeps
 * as a failure or turns into a success.
 */
export async function beginSignIn(db: D1Database, email: string, ip: string, now: number): Promise<number> {
  const since = now - FAILURE_WINDOW_MS;
  const [insert, pair, byIp] = await db.batch<{ n: number; first: number | null; last: number | null }>([
    db.prepare('INSERT INTO login_attempts (email, ip, ok, at) VALUES (?, ?, 0, ?)').bind(email, ip, now),
    db
      .prepare(
        'SELECT count(*) AS n, min(at) AS first, max(at) AS last FROM login_attempts WHERE email = ? AND ip = ? AND at > ? AND ok = 0 AND id < last_insert_rowid()',
      )
      .bind(email, ip, since),
    db
      .prepare(
        'SELECT count(*) AS n, min(at) AS first, max(at) AS last FROM login_attempts WHERE ip = ? AND at > ? AND ok = 0 AND id < last_insert_rowid()',
      )
      .bind(ip, since),
  ]);
  const id = Number(insert!.meta.last_row_id);
  const p = pair!.results[0]!;
  const a = byIp!.results[0]!;
  let waitMs = 0;
  let what = '';
  if (a.n >= MAX_FAILURES_PER_IP) {
    waitMs = (a.first ?? now) + FAILURE_WINDOW_MS - now;
    what = 'from this address';
  } else if (p.n >= FREE_FAILURES) {
    waitMs = (p.last ?? now) + pairDelayMs(p.n) - now;
    what = 'for this account from this address';
  }
  if (waitMs > 0) {
    await db.prepare('DELETE FROM login_attempts WHERE id = ?').bind(id).run();
    const seconds = Math.max(1, Math.ceil(waitMs / 1000));
    const err = new ApiError(429, 'rate_limited', `Too many failed sign-ins ${what}: try again in ${seconds} s`);
    err.retryAfter = seconds;
    throw err;
  }
  return id;
}

/**
 * A successful sign-in: its attempt row becomes a success, and the pair's failures are
 * forgiven (the owner who mistyped twice starts afresh; other pairs and the address count keep theirs).
 */
export function signInSucceeded(db: D1Database, attemptId: number, email: string, ip: string): D1PreparedStatement[] {
  return [
    db.prepare('UPDATE login_attempts SET ok = 1 WHERE id = ?').bind(attemptId),
    db.prepare('DELETE FROM login_attempts WHERE email = ? AND ip = ? AND ok = 0').bind(email, ip),
  ];
}
