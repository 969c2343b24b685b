/**
 * Outbound destinations: create, rotate, revoke, list. The signing secret is sealed with the
 * field key (crypto/fields.ts) and appears only in the answers to create and rotate, never in a
 * list or an audit entry. Every write and its audit entry are one D1 batch.
 */
import type { CreateDestinationBody, CreatedDestination, DestinationSummary } from '@shared/api/destinations';
import { auditStatementForNewRow, auditStatementIfChanged } from '../audit';
import type { Actor } from '../auth/access';
import { fieldKeys, openField, sealField } from '../crypto/fields';
import type { DestinationRow } from '../db/rows';
import { ApiError } from '../errors';

const COLUMNS = 'id, name, kind, url, timeout_ms, concurrency, created_at, revoked_at';
type Row = Omit<DestinationRow, 'secret_enc' | 'created_by'>;

function toSummary(r: Row, withUrl: boolean): DestinationSummary {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    url: withUrl ? r.url : null,
    timeoutMs: r.timeout_ms,
    concurrency: r.concurrency,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
  };
}

/**
 * A URL as the audit log keeps it: without its query string, which for some receivers (a WeCom
 * group bot's `?key=`) is itself a credential.
 */
export function auditedUrl(url: string | null): string | null {
  if (url === null) return null;
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}

/** What audit entries record about a destination: never the secret. */
const audited = (d: DestinationSummary) => ({
  name: d.name,
  kind: d.kind,
  url: auditedUrl(d.url),
  timeoutMs: d.timeoutMs,
  concurrency: d.concurrency,
  revokedAt: d.revokedAt,
});

const randomHex = (bytes: number) =>
  [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, '0')).join('');

/** Active destinations first, newest first. `withUrl`: the caller may manage destinations (super admin). */
export async function listDestinations(db: D1Database, withUrl: boolean): Promise<DestinationSummary[]> {
  const { results } = await db
    .prepare(`SELECT ${COLUMNS} FROM destinations ORDER BY revoked_at IS NOT NULL, created_at DESC, id DESC`)
    .all<Row>();
  return results.map((r) => toSummary(r, withUrl));
}

export async function getDestination(db: D1Database, id: number): Promise<DestinationSummary> {
  const row = await db.prepare(`SELECT ${COLUMNS} FROM destinations WHERE id = ?`).bind(id).first<Row>();
  if (!row) throw new ApiError(404, 'not_found', `No destination with id ${id}`);
  return toSummary(row, true);
}

/** The clear signing secret of a sealed `secret_enc` (the consumer signs with it). */
export async function openSecret(env: Env, sealed: string): Promise<string> {
  return openField(await fieldKeys(env), sealed);
}

export async function createDestination(env: Env, b: CreateDestinationBody, actor: Actor, now: number): Promise<CreatedDestination> {
  const db = env.DB;
  const secret = randomHex(32);
  const sealed = await sealField(await fieldKeys(env), secret);
  const [inserted] = await db.batch([
    db
      .prepare(
        `INSERT INTO destinations (name, kind, url, secret_enc, timeout_ms, concurrency, created_by, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .bind(b.name, b.kind, b.url, sealed, b.timeoutMs, b.concurrency, actor.userId, now),
    auditStatementForNewRow(db, {
      actor,
      action: 'destination.create',
      objectType: 'destination',
      summary: `Created ${b.kind} destination ${b.name} (${auditedUrl(b.url)})`,
      params: { name: b.name, destinationKind: b.kind, url: auditedUrl(b.url) },
      after: { name: b.name, kind: b.kind, url: auditedUrl(b.url), timeoutMs: b.timeoutMs, concurrency: b.concurrency },
      at: now,
    }),
  ]);
  const id = Number(inserted!.meta.last_row_id);
  return { destination: await getDestination(db, id), secret };
}

const revokedError = (id: number, name: string) =>
  new ApiError(409, 'conflict', `Destination "${name}" (${id}) is revoked: create a new one`, [{ path: 'id', message: 'revoked' }]);

/** A new secret, effective at once (deliveries signed from now on use it; there is no grace period: we are the signer). */
export async function rotateDestination(env: Env, id: number, actor: Actor, now: number): Promise<CreatedDestination> {
  const db = env.DB;
  const before = await getDestination(db, id);
  if (before.revokedAt !== null) throw revokedError(id, before.name);
  const secret = randomHex(32);
  const sealed = await sealField(await fieldKeys(env), secret);
  const [rotated] = await db.batch([
    db.prepare('UPDATE destinations SET secret_enc = ? WHERE id = ? AND revoked_at IS NULL').bind(sealed, id),
    auditStatementIfChanged(db, {
      actor,
      action: 'destination.rotate',
      objectType: 'destination',
      objectId: id,
      summary: `Rotated the signing secret of destination ${before.name}`,
      params: { name: before.name },
      before: audited(before),
      after: audited(before),
      at: now,
    }),
  ]);
  // revoked between the check and the write: the secret shown would never sign anything
  if (!rotated!.meta.changes) throw revokedError(id, before.name);
  return { destination: before, secret };
}

export async function revokeDestination(db: D1Database, id: number, actor: Actor, now: number): Promise<DestinationSummary> {
  const before = await getDestination(db, id);
  const already = () =>
    new ApiError(409, 'conflict', `Destination "${before.name}" (${id}) is already revoked`, [{ path: 'id', message: 'revoked' }]);
  if (before.revokedAt !== null) throw already();
  const [revoked] = await db.batch([
    db.prepare('UPDATE destinations SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').bind(now, id),
    auditStatementIfChanged(db, {
      actor,
      action: 'destination.revoke',
      objectType: 'destination',
      objectId: id,
      summary: `Revoked destination ${before.name}: deliveries to it are dead from now on`,
      params: { name: before.name },
      before: audited(before),
      after: { ...audited(before), revokedAt: now },
      at: now,
    }),
  ]);
  if (!revoked!.meta.changes) throw already();
  return getDestination(db, id);
}
