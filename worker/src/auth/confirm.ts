/**
 * Explicit confirmation for destructive work (rollbacks, bulk deletes…): the client resends the
 * request with `confirm.count` equal to the count the server computes now. The API refuses
 * without it, not only the UI, and a stale preview (the count changed since) is caught too.
 */
import { ApiError } from '../errors';

/** `1234` → `1,234` for messages. */
export const formatCount = (n: number) => n.toLocaleString('en-US');

/**
 * Throws 409 `confirmation_required` unless `given.count === count`. `message` names the object
 * and the count (e.g. `Undoing version 3 of rule "高价值客户" changes 1,234 tags`); the
 * instruction to resend is appended, and `details` carries the count to send.
 */
export function requireConfirmation(given: { count?: unknown } | null | undefined, expected: { count: number; message: string }): void {
  if (given && given.count === expected.count) return;
  const why = given?.count === undefined ? '' : ` (confirm.count was ${String(given.count)}: the count changed since, or was mistyped)`;
  throw new ApiError(409, 'confirmation_required', `${expected.message}: resend with confirm.count = ${expected.count}${why}`, [
    { path: 'confirm.count', message: String(expected.count) },
  ]);
}
