import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, apiAs, seedSmallWorld, type TestUser } from './fixtures';
import { fieldHash, fieldKeys, sealField } from '../src/crypto/fields';
import { PHONE_SEARCH_LIMITS } from '@shared/api/contacts';

/**
 * Staff see 139****3000 on a contact's page. Without a limit they could find the full number by
 * searching the 10,000 candidates. Exact phone searches by anyone who sees masks are audited
 * (masked) and limited per user; enumeration is refused with 429.
 */
const db = env.DB;
const PHONE = '13912343000';
const STAFF: TestUser = { id: 9601, role: 'staff', departmentId: 2 };
const candidate = (i: number) => `139${String(i).padStart(4, '0')}3000`; // every one masks to 139****3000
const search = (user: TestUser | null, q: string) =>
  user ? apiAs(user, `/api/contacts?q=${encodeURIComponent(q)}`) : api(`/api/contacts?q=${encodeURIComponent(q)}`);
const idsOf = (body: { items: { externalId: string }[] }) => body.items.map((c) => c.externalId);
const entriesOf = async (userId: number) =>
  (
    await db
      .prepare(`SELECT * FROM audit_log WHERE action = 'contact.phone_search' AND actor_user_id = ? ORDER BY id`)
      .bind(userId)
      .all<Record<string, unknown>>()
  ).results;

beforeAll(async () => {
  await seedSmallWorld();
  const keys = await fieldKeys(env);
  // 李娜 (wxid_b) is in 华东大区, the staff member's department
  await db
    .prepare(`UPDATE contacts SET phone_hash = ?, phone_enc = ? WHERE external_id = 'wxid_b'`)
    .bind(await fieldHash(keys, PHONE), await sealField(keys, PHONE))
    .run();
});

describe('searching by phone number when phones are shown masked', () => {
  it('answers a few numbers sharing one masked form, then refuses the next with 429', async () => {
    const first = await search(STAFF, PHONE);
    expect(first.status).toBe(200);
    expect(idsOf(first.body)).toEqual(['wxid_b']);
    for (let i = 1; i < PHONE_SEARCH_LIMITS.perMaskPerDay; i++) {
      const res = await search(STAFF, candidate(i));
      expect(res.status).toBe(200);
      expect(res.body.total).toBe(0);
    }
    const refused = await search(STAFF, candidate(PHONE_SEARCH_LIMITS.perMaskPerDay));
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ code: 'rate_limited', details: [{ path: 'q', message: 'phone_search_limit' }] });
    // what the staff member found stays findable (paging, sorting repeat the search) and costs nothing
    const again = await search(STAFF, `+86 ${PHONE.slice(0, 3)}-${PHONE.slice(3, 7)}-${PHONE.slice(7)}`);
    expect(again.status).toBe(200);
    expect(idsOf(again.body)).toEqual(['wxid_b']);
    // searches that are not phone numbers are not limited
    expect((await search(STAFF, '李娜')).status).toBe(200);
  });

  it('audits each different number once, masked, never in clear', async () => {
    const rows = await entriesOf(STAFF.id);
    expect(rows).toHaveLength(PHONE_SEARCH_LIMITS.perMaskPerDay);
    expect(rows.map((r) => JSON.parse(r.params as string))).toEqual(
      Array.from({ length: PHONE_SEARCH_LIMITS.perMaskPerDay }, () => ({ masked: '139****3000' })),
    );
    expect(rows[0]).toMatchObject({ object_type: 'contact', object_id: '*', summary: 'Searched contacts by the phone number 139****3000' });
    const text = JSON.stringify(rows);
    for (let i = 0; i <= PHONE_SEARCH_LIMITS.perMaskPerDay; i++) expect(text).not.toContain(candidate(i));
    expect(text).not.toContain(PHONE);
  });

  it(`refuses more than ${PHONE_SEARCH_LIMITS.perHour} different numbers an hour, whatever their masks`, async () => {
    const user: TestUser = { id: 9602, role: 'dept_admin', departmentId: 2 };
    for (let i = 0; i < PHONE_SEARCH_LIMITS.perHour; i++)
      expect((await search(user, `1370000${String(i).padStart(4, '0')}`)).status).toBe(200);
    expect((await search(user, '13800009999')).status).toBe(429);
    expect(await entriesOf(user.id)).toHaveLength(PHONE_SEARCH_LIMITS.perHour);
  });

  it(`refuses more than ${PHONE_SEARCH_LIMITS.perDay} different numbers a day`, async () => {
    const user: TestUser = { id: 9603, role: 'staff', departmentId: 2 };
    await search(user, '李娜'); // creates the user
    const twoHoursAgo = Date.now() - 2 * 3_600_000;
    await db.batch(
      Array.from({ length: PHONE_SEARCH_LIMITS.perDay }, (_, i) =>
        db
          .prepare(
            `INSERT INTO audit_log (at, actor_user_id, action, object_type, object_id, summary, params, after) VALUES (?, ?, 'contact.phone_search', 'contact', '*', 's', ?, ?)`,
          )
          .bind(
            twoHoursAgo,
            user.id,
            JSON.stringify({ masked: `136****${String(i).padStart(4, '0')}` }),
            JSON.stringify({ phoneHash: `h${i}` }),
          ),
      ),
    );
    expect((await search(user, '13512345678')).status).toBe(429);
  });

  it('leaves super admins, who see phones in clear, unlimited and unaudited', async () => {
    for (let i = 0; i < PHONE_SEARCH_LIMITS.perMaskPerDay + 2; i++) expect((await search(null, candidate(100 + i))).status).toBe(200);
    expect(
      await db.prepare(`SELECT count(*) AS n FROM audit_log WHERE action = 'contact.phone_search' AND actor_user_id = 9001`).first('n'),
    ).toBe(0);
  });

  it('keeps a phone number typed into an export filter masked in the audit entry', async () => {
    const res = await api('/api/exports/contacts', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ filter: { q: PHONE } }),
    });
    expect(res.status).toBe(200);
    const row = await db
      .prepare(`SELECT summary, params, after FROM audit_log WHERE action = 'contact.export' ORDER BY id DESC LIMIT 1`)
      .first<Record<string, string>>();
    expect(JSON.stringify(row)).not.toContain(PHONE);
    expect(JSON.parse(row!.after!).filter).toEqual({ q: '139****3000' });
  });
});
