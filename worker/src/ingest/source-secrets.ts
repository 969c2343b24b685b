/**
 * Event sources' signing secrets at rest: the generic source's secret (and the previous one
 * during a rotation), a WeCom source's Token and EncodingAESKey (and its previous pair) are
 * stored sealed with `FIELD_KEY` (AES-256-GCM, worker/src/crypto/fields.ts) behind a `sf1:`
 * prefix, so a copy of the database does not let anyone sign events as a sender.
 *
 * Rows written before sealing hold the clear value (no prefix): they are read as they are, and
 * sealed in place by the first webhook that reads them and by the cron (`sealLegacySourceSecrets`),
 * each write guarded by the values it read so a concurrent rotation is never overwritten.
 */
import { fieldKeys, openField, sealField, type FieldKeys } from '../crypto/fields';
import type { SourceRow } from './pipeline';
import { packCallbackKeys } from '../wecom/callback-keys';

const SEALED = 'sf1:';

/** The secret columns of `event_sources`, in one order for every statement here. */
const COLUMNS = ['secret', 'previous_secret', 'wecom_token', 'wecom_aes_key'] as const;
type SecretColumns = Pick<SourceRow, (typeof COLUMNS)[number]>;

export const isSealedSecret = (stored: string) => stored.startsWith(SEALED);

/** A clear secret as it is stored. */
export async function sealSecret(keys: FieldKeys, clear: string): Promise<string> {
  return SEALED + (await sealField(keys, clear));
}

/** A stored secret in clear (a legacy clear value is returned as it is). */
export async function openSecret(keys: FieldKeys, stored: string): Promise<string> {
  return isSealedSecret(stored) ? openField(keys, stored.slice(SEALED.length)) : stored;
}

async function mapColumns<R extends SecretColumns>(row: R, f: (v: string) => Promise<string>): Promise<R> {
  const out = { ...row };
  for (const c of COLUMNS) {
    const v = row[c];
    if (v !== null && v !== undefined) (out as SecretColumns)[c] = await f(v);
  }
  return out;
}

/** `row` with its secrets in clear, as the routes verify signatures with them. */
export async function openSourceRow<R extends SecretColumns>(env: Env, row: R): Promise<R> {
  const keys = await fieldKeys(env);
  return mapColumns(row, (v) => openSecret(keys, v));
}

const hasLegacy = (row: SecretColumns) => COLUMNS.some((c) => row[c] != null && !isSealedSecret(row[c]!));

/** The statement that seals a row's legacy clear secrets, unless another write changed any of them since `row` was read; null when none is clear. */
async function sealStatement(db: D1Database, keys: FieldKeys, row: SecretColumns & { id: string }): Promise<D1PreparedStatement | null> {
  if (!hasLegacy(row)) return null;
  const sealed = await mapColumns(row, async (v) => (isSealedSecret(v) ? v : sealSecret(keys, v)));
  return db
    .prepare(
      `UPDATE event_sources SET ${COLUMNS.map((c) => `${c} = ?`).join(', ')} WHERE id = ? AND ${COLUMNS.map((c) => `${c} IS ?`).join(' AND ')}`,
    )
    .bind(...COLUMNS.map((c) => sealed[c] ?? null), row.id, ...COLUMNS.map((c) => row[c] ?? null));
}

/** Seals the legacy clear secrets of a row just read by a webhook (one guarded write, once per source). */
export async function sealLegacyRow(env: Env, row: SourceRow): Promise<void> {
  const stmt = await sealStatement(env.DB, await fieldKeys(env), row);
  if (stmt) await stmt.run();
}

const LEGACY_SQL = `SELECT id, ${COLUMNS.join(', ')} FROM event_sources WHERE ${COLUMNS.map(
  (c) => `(${c} IS NOT NULL AND ${c} NOT LIKE '${SEALED}%')`,
).join(' OR ')} LIMIT ?`;

/** The cron's pass: seals up to `limit` sources still holding clear secrets; answers how many it sealed. */
export async function sealLegacySourceSecrets(env: Env, limit = 100): Promise<number> {
  const { results } = await env.DB.prepare(LEGACY_SQL).bind(limit).all<SecretColumns & { id: string }>();
  if (!results.length) return 0;
  const keys = await fieldKeys(env);
  const statements = (await Promise.all(results.map((r) => sealStatement(env.DB, keys, r)))).filter((s) => s !== null);
  const done = await env.DB.batch(statements);
  return done.reduce((n, r) => n + (r.meta.changes ?? 0), 0);
}

/**
 * The statement rotating a generic source to `secret`: the current one (as stored) stays valid
 * as the previous one until `expires`.
 */
export async function secretRotation(env: Env, id: string, secret: string, expires: number): Promise<D1PreparedStatement> {
  return env.DB.prepare(
    'UPDATE event_sources SET previous_secret = secret, previous_secret_expires_at = ?, secret = ? WHERE id = ? AND revoked_at IS NULL',
  ).bind(expires, await sealSecret(await fieldKeys(env), secret), id);
}

/**
 * The statement rotating a WeCom source to `keys`: the pair WeCom signs with until the new one is
 * saved in its console stays valid, sealed as one value, until `expires`. Guarded by the stored
 * pair, so a concurrent rotation makes it change nothing (the caller answers 409).
 */
export async function wecomKeysRotation(
  env: Env,
  id: string,
  keys: { token: string; encodingAesKey: string },
  expires: number,
): Promise<D1PreparedStatement> {
  const db = env.DB;
  const fk = await fieldKeys(env);
  const current = await db
    .prepare('SELECT wecom_token, wecom_aes_key FROM event_sources WHERE id = ?')
    .bind(id)
    .first<Pick<SourceRow, 'wecom_token' | 'wecom_aes_key'>>();
  const previous =
    current?.wecom_token && current.wecom_aes_key
      ? await sealSecret(
          fk,
          packCallbackKeys({ token: await openSecret(fk, current.wecom_token), aesKey: await openSecret(fk, current.wecom_aes_key) }),
        )
      : null;
  return db
    .prepare(
      `UPDATE event_sources SET previous_secret = ?, previous_secret_expires_at = ?, wecom_token = ?, wecom_aes_key = ?
       WHERE id = ? AND revoked_at IS NULL AND wecom_token IS ? AND wecom_aes_key IS ?`,
    )
    .bind(
      previous,
      previous ? expires : null,
      await sealSecret(fk, keys.token),
      await sealSecret(fk, keys.encodingAesKey),
      id,
      current?.wecom_token ?? null,
      current?.wecom_aes_key ?? null,
    );
}
