/**
 * Destructive work (retiring a tag its contacts hold, merging tags, rollbacks…) needs an
 * explicit confirmation that names the object and the count, checked by the API, not only the
 * UI: without `confirm.count`, or with a count that is no longer true, the answer is a 409
 * `confirmation_required` whose details carry the object and the current count to show.
 */
import { ApiError } from '../errors';

export interface Confirmation {
  /** What the work acts on, as the user knows it ("标签 高价值客户"). */
  object: string;
  /** How many contacts / tags / rows it changes now. */
  count: number;
  /** The sentence for the error message: "Retiring 高价值客户 freezes it on 1,234 contacts". */
  what: string;
}

export function requireConfirmation(given: { count: number } | undefined, expected: Confirmation) {
  if (given && given.count === expected.count) return;
  throw new ApiError(
    409,
    'confirmation_required',
    `${expected.what}: ${given ? `you confirmed ${given.count}, but it is ${expected.count} now; ` : ''}resend with confirm.count = ${expected.count} to go ahead`,
    [
      { path: 'confirm.count', message: String(expected.count) },
      { path: 'confirm.object', message: expected.object },
    ],
  );
}
