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
  const mine = `FROM audit_log WHERE actor_user_id = ?1 AND action = '${ACTION}'`;
  const repeat = `SELECT 1 ${mine} AND at > ?3 AND json_extract(after, '$.phoneHash') = ?5`;
  const [seen, inserted] = await db.batch([
    db.prepare(`${repeat}`).bind(actor.userId, null, now - DAY, null, hash),
    // one statement, so two requests at once cannot both take the last slot
    db
      .prepare(
        `INSERT INTO audit_log (at, actor_user_id, actor_ip, action, object_type, object_id, summary, params, after)
         SELECT ?4, ?1, ?6, 'contact.phone_search', 'contact', '*', 'Searched contacts by the phone number ' || ?7, ?8, json_object('phoneHash', ?5)
         WHERE NOT EXISTS (${repeat})
           AND (SELECT count(*) ${mine} AND at > ?2) < ${PHONE_SEARCH_LIMITS.perHour}
           AND (SELECT count(*) ${mine} AND at > ?3) < ${PHONE_SEARCH_LIMITS.perDay}
           AND (SELECT count(*) ${mine} AND at > ?3 AND params ->> 'masked' = ?7) < ${PHONE_SEARCH_LIMITS.perMaskPerDay}`,
      )
      .bind(actor.userId, now - HOUR, now - DAY, now, hash, actor.ip, masked, JSON.stringify(params)),
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
