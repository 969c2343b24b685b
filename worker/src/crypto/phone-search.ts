/**
 * Exact search on the sealed phone by someone who sees phones masked. Staff shown `139****3000`
 * could otherwise complete it by trying the 10,000 candidates, each search telling them whether
 * that contact comes up. So each different number such a user searches is one audit entry
 * (`contact.phone_search`, with the masked number only), and the entries are the counter: over
 * any of {@link PHONE_SEARCH_LIMITS} the search is refused with 429 before it runs. Searching
 * the same number again within a day (paging, sorting) writes nothing and is always answered.
 */
import type { Actor } from '../auth/access';
import { ApiError } from '../errors';
import { maskSensitive } from './fields';
import { PHONE_SEARCH_LIMITS } from '@shared/api/contacts';
import type { AuditParamsByAction } from '@shared/api/audit';
import { auditInsert } from '../audit';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ACTION = 'contact.phone_search';

/**
 * Records one phone search by `actor` (a user who sees masks), or throws 429 when it would go
 * over a limit. `phone` is the normalized number, `hash` its keyed hash (kept in the entry's
 * `after` to tell a repeat from a new number without keeping the number).
 */
export async function recordPhoneSearch(
  db: D1Database,
  actor: Actor & { userId: number },
  phone: string,
  hash: string,
  now = Date.now(),
): Promise<void> {
  const masked = maskSensitive(phone);
  const params: AuditParamsByAction[typeof ACTION] = { masked };
  const mine = `FROM audit_log WHERE actor_user_id = ? AND action = '${ACTION}'`;
  const repeat = `SELECT 1 ${mine} AND at > ? AND json_extract(after, '$.phoneHash') = ?`;
  const repeatArgs = [actor.userId, now - DAY, hash];
  const [seen, inserted] = await db.batch([
    db.prepare(repeat).bind(...repeatArgs),
    // one statement, so two requests at once cannot both take the last slot
    auditInsert(
      db,
      {
        at: now,
        actor,
        action: 'contact.phone_search',
        objectType: 'contact',
        objectId: '*',
        summary: `Searched contacts by the phone number ${masked}`,
        params,
        after: { phoneHash: hash },
      },
      {
        where: `NOT EXISTS (${repeat})
          AND (SELECT count(*) ${mine} AND at > ?) < ${PHONE_SEARCH_LIMITS.perHour}
          AND (SELECT count(*) ${mine} AND at > ?) < ${PHONE_SEARCH_LIMITS.perDay}
          AND (SELECT count(*) ${mine} AND at > ? AND params ->> 'masked' = ?) < ${PHONE_SEARCH_LIMITS.perMaskPerDay}`,
        args: [...repeatArgs, actor.userId, now - HOUR, actor.userId, now - DAY, actor.userId, now - DAY, masked],
      },
    ),
  ]);
  if (seen!.results.length > 0 || inserted!.meta.changes === 1) return;
  const { perHour, perDay, perMaskPerDay } = PHONE_SEARCH_LIMITS;
  throw new ApiError(
    429,
    'rate_limited',
    `Too many different phone numbers searched: at most ${perHour} an hour, ${perDay} a day and ${perMaskPerDay} a day sharing one masked form (${masked}); try again later`,
    [{ path: 'q', message: 'phone_search_limit' }],
  );
}
