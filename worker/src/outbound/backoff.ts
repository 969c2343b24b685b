/**
 * When a failed delivery is tried again. Exponential: base × 2^(attempt−1) seconds, with "equal
 * jitter" (half fixed, half random) so a receiver that fell over is not hit by every delivery at
 * the same second when it comes back. With the default base of 30 s and the queue's 5 attempts
 * (wrangler.toml max_retries = 4) the waits are about 15–30 s, 30–60 s, 1–2 min and 2–4 min.
 * A receiver's `Retry-After` (seconds or an HTTP date) is honoured up to `MAX_DELAY_SECONDS`.
 */

/** The default `DELIVERY_BACKOFF_BASE_SECONDS`. */
export const DEFAULT_BACKOFF_BASE_SECONDS = 30;
/** No wait longer than this, whatever the receiver asks (the queue allows up to 12 hours). */
export const MAX_DELAY_SECONDS = 15 * 60;

/** The configured base (a var, so the bench can shorten it); anything unreadable falls back to the default. */
export function backoffBase(env: { DELIVERY_BACKOFF_BASE_SECONDS?: string }): number {
  const raw = env.DELIVERY_BACKOFF_BASE_SECONDS;
  const n = raw === undefined || raw.trim() === '' ? NaN : Number(raw);
  return Number.isFinite(n) && n >= 0 && n <= MAX_DELAY_SECONDS ? n : DEFAULT_BACKOFF_BASE_SECONDS;
}

/** Seconds a `Retry-After` header asks for (delta seconds or an HTTP date), or null when absent or unreadable. */
export function retryAfterSeconds(header: string | null, nowMs: number): number | null {
  if (header === null) return null;
  const v = header.trim();
  if (/^\d{1,10}$/.test(v)) return Number(v);
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - nowMs) / 1000));
}

/** The wait before the next attempt, after `attempt` (1-based) failed. */
export function backoffSeconds(attempt: number, base: number, retryAfter: number | null, random: () => number = Math.random): number {
  if (retryAfter !== null) return Math.min(MAX_DELAY_SECONDS, retryAfter);
  const full = Math.min(MAX_DELAY_SECONDS, base * 2 ** Math.max(0, attempt - 1));
  return Math.round(full / 2 + (full / 2) * random());
}
