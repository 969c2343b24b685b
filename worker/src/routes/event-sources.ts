/**
 * Webhook sources (`/api/event-sources`, super admins only): list with per-source stats,
 * create, rotate and revoke. Credentials (the generic HMAC secret, WeCom's Token and
 * EncodingAESKey) appear only in the answers to create and rotate — never in a list, a detail
 * or an audit entry. WeCom's pair is generated or entered as WeCom's console shows it. After a
 * rotation the previous secret (WeCom: the previous pair, ../wecom/callback-keys.ts) keeps
 * verifying for `SECRET_GRACE_MS`, so senders can switch without losing events; a revoked
 * source refuses every further event.
 */
import { Hono } from 'hono';
import type { AppEnv } from '../app-env';
import { ApiError } from '../errors';
import { validate } from '../validate';
import { auditStatement, auditStatementIfChanged } from '../audit';
import { actorOf, requireRole } from '../auth/access';
import { emptyBody } from '@shared/api/taxonomy';
import {
  createEventSourceBody,
  rotateEventSourceBody,
  SECRET_GRACE_MS,
  type EventSourceCredentials,
  type EventSourceSummary,
} from '@shared/api/event-sources';
import { z } from 'zod';
import { DAY_MS } from '@shared/time';
import type { EventSourceRow, UserRow } from '../db/rows';
import { forgetSource } from '../ingest/source-cache';
import { sealSecret, secretRotation, wecomKeysRotation } from '../ingest/source-secrets';
import { fieldKeys } from '../crypto/fields';

const sourcePath = z.strictObject({ id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be a source id') });

type Row = Pick<
  EventSourceRow,
  | 'id'
  | 'name'
  | 'kind'
  | 'wecom_corp_id'
  | 'created_at'
  | 'created_by'
  | 'revoked_at'
  | 'previous_secret_expires_at'
  | 'event_count'
  | 'last_event_at'
> & { creator_name: UserRow['name'] | null; last24h: number };

// Credentials are not even selected here.
const SELECT = `SELECT s.id, s.name, s.kind, s.wecom_corp_id, s.created_at, s.created_by, u.name AS creator_name, s.revoked_at,
    s.previous_secret_expires_at, s.event_count, s.last_event_at,
    (SELECT COUNT(*) FROM events e WHERE e.source_id = s.id AND e.received_at > ?) AS last24h
  FROM event_sources s LEFT JOIN users u ON u.id = s.created_by`;

function toSummary(r: Row, now: number): EventSourceSummary {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    corpId: r.wecom_corp_id,
    webhookPath: r.kind === 'wecom' ? `/api/webhooks/wecom/${r.id}` : `/api/webhooks/${r.id}`,
    createdAt: r.created_at,
    createdBy: r.created_by !== null && r.creator_name !== null ? { id: r.created_by, name: r.creator_name } : null,
    revokedAt: r.revoked_at,
    previousSecretExpiresAt:
      r.previous_secret_expires_at !== null && r.previous_secret_expires_at > now ? r.previous_secret_expires_at : null,
    stats: { total: r.event_count, last24h: r.last24h, lastEventAt: r.last_event_at },
  };
}

async function getSource(db: D1Database, id: string, now: number): Promise<EventSourceSummary> {
  const row = await db
    .prepare(`${SELECT} WHERE s.id = ?`)
    .bind(now - DAY_MS, id)
    .first<Row>();
  if (!row) throw new ApiError(404, 'not_found', `No event source "${id}"`);
  return toSummary(row, now);
}

/** What audit entries record about a source: never a credential. */
const audited = (s: EventSourceSummary) => ({
  name: s.name,
  kind: s.kind,
  corpId: s.corpId,
  revokedAt: s.revokedAt,
  previousSecretExpiresAt: s.previousSecretExpiresAt,
});

const randomHex = (bytes: number) =>
  [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, '0')).join('');
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** `n` random letters and digits (rejection sampling: 248 = 4 × 62, so each character is equally likely). */
function randomAlnum(n: number): string {
  let out = '';
  while (out.length < n) {
    for (const b of crypto.getRandomValues(new Uint8Array(n * 2))) if (b < 248 && out.length < n) out += ALNUM[b % 62];
  }
  return out;
}
/**
 * A pair as WeCom's console would accept it: Token 32 letters and digits, EncodingAESKey 43
 * letters and digits (WeCom refuses "+" and "/", so not plain base64 of random bytes; any 43
 * such characters decode to a 32-byte key).
 */
const generatedKeys = () => ({ token: randomAlnum(32), encodingAesKey: randomAlnum(43) });

const isUniqueViolation = (e: unknown) => e instanceof Error && /UNIQUE constraint failed/i.test(e.message);

export const eventSources = new Hono<AppEnv>()
  .use(requireRole('super_admin'))
  .get('/', async (c) => {
    const now = Date.now();
    const { results } = await c.env.DB.prepare(`${SELECT} ORDER BY s.revoked_at IS NOT NULL, s.created_at DESC, s.id`)
      .bind(now - DAY_MS)
      .all<Row>();
    return c.json(results.map((r) => toSummary(r, now)));
  })
  .get('/:id', validate('param', sourcePath), async (c) => {
    return c.json(await getSource(c.env.DB, c.req.valid('param').id, Date.now()));
  })
  .post('/', validate('json', createEventSourceBody), async (c) => {
    const b = c.req.valid('json');
    const db = c.env.DB;
    const taken = () =>
      new ApiError(409, 'conflict', `An event source with id "${b.id}" exists (also a revoked one keeps its id)`, [
        { path: 'id', message: 'is taken' },
      ]);
    if (await db.prepare('SELECT 1 FROM event_sources WHERE id = ?').bind(b.id).first()) throw taken();
    const now = Date.now();
    const secret = randomHex(32);
    const wecom =
      b.kind === 'wecom'
        ? b.token !== undefined && b.encodingAesKey !== undefined
          ? { token: b.token, encodingAesKey: b.encodingAesKey, corpId: b.corpId, entered: true }
          : { ...generatedKeys(), corpId: b.corpId, entered: false }
        : null;
    const actor = actorOf(c);
    const keys = await fieldKeys(c.env);
    const seal = (v: string | undefined) => (v === undefined ? null : sealSecret(keys, v));
    const [sealedSecret, sealedToken, sealedAesKey] = await Promise.all([seal(secret), seal(wecom?.token), seal(wecom?.encodingAesKey)]);
    try {
      await db.batch([
        db
          .prepare(
            `INSERT INTO event_sources (id, name, kind, secret, wecom_token, wecom_aes_key, wecom_corp_id, created_by, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .bind(b.id, b.name, b.kind, sealedSecret, sealedToken, sealedAesKey, wecom?.corpId ?? null, actor.userId, now),
        auditStatement(db, {
          actor,
          action: 'event_source.create',
          objectType: 'event_source',
          objectId: b.id,
          summary: `Created ${b.kind} event source ${b.name} (${b.id})`,
          params: { name: b.name, id: b.id, sourceKind: b.kind },
          // whether the WeCom pair was entered or generated, never the pair
          after: { name: b.name, kind: b.kind, corpId: wecom?.corpId ?? null, ...(wecom ? { keysEntered: wecom.entered } : {}) },
          at: now,
        }),
      ]);
    } catch (e) {
      // Created by someone else between the check and the write.
      if (isUniqueViolation(e)) throw taken();
      throw e;
    }
    const res: EventSourceCredentials = { source: await getSource(db, b.id, now), ...(wecom ? { wecom } : { secret }) };
    return c.json(res, 201);
  })
  .post('/:id/rotate', validate('param', sourcePath), validate('json', rotateEventSourceBody), async (c) => {
    const { id } = c.req.valid('param');
    const b = c.req.valid('json');
    const db = c.env.DB;
    const now = Date.now();
    const before = await getSource(db, id, now);
    if (before.revokedAt !== null)
      throw new ApiError(409, 'conflict', `Event source "${id}" is revoked: create a new one`, [{ path: 'id', message: 'revoked' }]);
    if (before.kind === 'generic' && (b.token !== undefined || b.encodingAesKey !== undefined)) {
      throw new ApiError(
        400,
        'invalid_request',
        `Event source "${id}" is a generic source: only WeCom sources take a Token and EncodingAESKey`,
        [{ path: b.token !== undefined ? 'token' : 'encodingAesKey', message: 'only for WeCom sources' }],
      );
    }
    const expires = now + SECRET_GRACE_MS;
    let update: D1PreparedStatement;
    let res: Omit<EventSourceCredentials, 'source'>;
    if (before.kind === 'wecom') {
      const entered = b.token !== undefined && b.encodingAesKey !== undefined;
      const keys = entered ? { token: b.token!, encodingAesKey: b.encodingAesKey! } : generatedKeys();
      update = await wecomKeysRotation(c.env, id, keys, expires);
      res = { wecom: { ...keys, corpId: before.corpId ?? '', entered } };
    } else {
      const secret = randomHex(32);
      update = await secretRotation(c.env, id, secret, expires);
      res = { secret };
    }
    const what = before.kind === 'wecom' ? 'Token and EncodingAESKey' : 'secret';
    const [rotated] = await db.batch([
      update,
      auditStatementIfChanged(db, {
        actor: actorOf(c),
        action: 'event_source.rotate',
        objectType: 'event_source',
        objectId: id,
        summary: `Rotated the ${what} of ${before.name} (${id}); the previous one works until ${new Date(expires).toISOString()}`,
        params: { name: before.name, id, graceEndsAt: expires },
        before: audited(before),
        after: { ...audited(before), previousSecretExpiresAt: expires, ...(res.wecom ? { keysEntered: res.wecom.entered } : {}) },
        at: now,
      }),
    ]);
    // this isolate's webhooks verify against the new row at once (others within SOURCE_CACHE_MS)
    forgetSource(id);
    // revoked (or rotated by someone else) between the read and the write: what we would show would never verify
    if (!rotated!.meta.changes)
      throw new ApiError(409, 'conflict', `Event source "${id}" was revoked or rotated meanwhile: reload and try again`, [
        { path: 'id', message: 'changed meanwhile' },
      ]);
    const body: EventSourceCredentials = { source: await getSource(db, id, now), ...res };
    return c.json(body);
  })
  .post('/:id/revoke', validate('param', sourcePath), validate('json', emptyBody), async (c) => {
    const { id } = c.req.valid('param');
    const db = c.env.DB;
    const now = Date.now();
    const before = await getSource(db, id, now);
    if (before.revokedAt !== null)
      throw new ApiError(409, 'conflict', `Event source "${id}" is already revoked`, [{ path: 'id', message: 'revoked' }]);
    const [revoked] = await db.batch([
      db
        .prepare(
          'UPDATE event_sources SET revoked_at = ?, previous_secret = NULL, previous_secret_expires_at = NULL WHERE id = ? AND revoked_at IS NULL',
        )
        .bind(now, id),
      auditStatementIfChanged(db, {
        actor: actorOf(c),
        action: 'event_source.revoke',
        objectType: 'event_source',
        objectId: id,
        summary: `Revoked event source ${before.name} (${id}): its events are refused from now on`,
        params: { name: before.name, id },
        before: audited(before),
        after: { ...audited(before), revokedAt: now, previousSecretExpiresAt: null },
        at: now,
      }),
    ]);
    // refused at once by this isolate's webhooks (others within SOURCE_CACHE_MS; the intake consumer stores nothing received after now)
    forgetSource(id);
    // a concurrent revoke got there first: one revocation, one entry
    if (!revoked!.meta.changes)
      throw new ApiError(409, 'conflict', `Event source "${id}" is already revoked`, [{ path: 'id', message: 'revoked' }]);
    return c.json(await getSource(db, id, now));
  });
