/**
 * WeCom access tokens, shared by every isolate through one D1 row per connection and secret
 * (`wecom_tokens`, the token sealed with the field key), with a short in-isolate memo on top.
 *
 * WeCom asks that gettoken is not called per request (it is rate limited) and that a token is
 * cached until `expires_in`, refetched when WeCom says it is no longer valid (40014 / 42001: it
 * may end a token early). So:
 * - a token is used until `stale_at`, its expiry minus a margin (5 minutes, or a quarter of a
 *   short lifetime), so a call never leaves with a token about to expire;
 * - a refresh is a lease taken by one conditional upsert (`lease_owner` / `lease_until`): the row
 *   is claimed only when its token is missing, stale or the very version a caller saw refused,
 *   and no live lease holds it. The isolate that wins calls gettoken and writes the token; the
 *   others poll the row until it does (or its lease runs out, and one of them takes over). Two
 *   isolates seeing 42001 at once cause one gettoken, not two;
 * - `version` counts refreshes: "version 7 was refused" cannot throw away version 8, fetched by
 *   another isolate meanwhile;
 * - replacing a secret deletes its row in the same batch (connection.ts): a refresh still in
 *   flight with the old secret then finds no lease to write under, and caches nothing.
 */
import type { WecomApp } from '@shared/api/wecom';
import { fieldKeys, openField, sealField } from '../crypto/fields';
import { WecomNotConfiguredError, WecomUnreachableError } from './errors';
import { DEFAULT_TIMEOUT_MS, getToken } from './http';
import { batch, typed } from '../db/rows';

/** A token is not used in its last 5 minutes (or last quarter, for a lifetime under 20 minutes). */
export const TOKEN_MARGIN_MS = 5 * 60_000;
/** How long a refresh may hold its lease before another isolate may take over. */
const LEASE_SLACK_MS = 5_000;
/** How long this isolate trusts its memo before reading the shared row again (a secret replaced elsewhere). */
const MEMO_MS = 30_000;
const POLL_MS = 100;

/** The D1 column of each app's sealed secret (never selected anywhere else but here and in tests). */
const SECRET_COLUMN: Record<WecomApp, string> = { contact: 'contact_secret_enc', agent: 'agent_secret_enc' };

export interface AccessToken {
  token: string;
  /** The row's version this token is; -1 when it could not be cached (its secret was replaced meanwhile). */
  version: number;
}

interface Memo extends AccessToken {
  staleAt: number;
  readAt: number;
}
const memo = new Map<string, Memo>();
const keyOf = (connectionId: number, app: WecomApp) => `${connectionId}:${app}`;

/** Drops this isolate's memo of a connection's tokens (all connections when none is named). */
export function forgetWecomTokens(connectionId?: number): void {
  if (connectionId === undefined) memo.clear();
  else for (const app of ['contact', 'agent'] as const) memo.delete(keyOf(connectionId, app));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const randomOwner = () => [...crypto.getRandomValues(new Uint8Array(12))].map((b) => b.toString(16).padStart(2, '0')).join('');

/** When to stop using a token fetched at `at` that lives `lifetimeMs`. */
export function staleAtOf(at: number, lifetimeMs: number): number {
  return at + lifetimeMs - Math.min(TOKEN_MARGIN_MS, Math.floor(lifetimeMs / 4));
}

interface TokenRow {
  token_enc: string | null;
  stale_at: number | null;
  version: number;
  lease_until: number | null;
}
interface ClaimRow {
  corp_id: string;
  secret_enc: string | null;
  owner: string | null;
}

export interface TokenOptions {
  /** The version of a token WeCom just refused (40014 / 42001): any other valid one will do. */
  refused?: number;
  /** Timeout of the gettoken call. */
  timeoutMs?: number;
}

/**
 * A valid access token of a connection's secret: the memo's, the shared row's, or a fresh one
 * from gettoken when neither is usable (one isolate fetches, the others wait for its row).
 */
export async function accessToken(env: Env, connectionId: number, app: WecomApp, opts: TokenOptions = {}): Promise<AccessToken> {
  const key = keyOf(connectionId, app);
  const refused = opts.refused ?? -2;
  const m = memo.get(key);
  const start = Date.now();
  if (m && m.version !== refused && start < m.staleAt && start - m.readAt < MEMO_MS) return { token: m.token, version: m.version };
  memo.delete(key);

  const db = env.DB;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const leaseMs = timeoutMs + LEASE_SLACK_MS;
  const giveUpAt = start + leaseMs * 2;
  for (;;) {
    const now = Date.now();
    const row = await db
      .prepare('SELECT token_enc, stale_at, version, lease_until FROM wecom_tokens WHERE connection_id = ? AND app = ?')
      .bind(connectionId, app)
      .first<TokenRow>();
    if (row?.token_enc && row.stale_at !== null && row.stale_at > now && row.version !== refused) {
      const token = await openField(await fieldKeys(env), row.token_enc);
      memo.set(key, { token, version: row.version, staleAt: row.stale_at, readAt: now });
      return { token, version: row.version };
    }
    if (!row || row.lease_until === null || row.lease_until <= now) {
      const fresh = await refreshIfClaimed(env, connectionId, app, refused, leaseMs, timeoutMs);
      if (fresh) return fresh;
    }
    if (Date.now() > giveUpAt) {
      throw new WecomUnreachableError('/cgi-bin/gettoken', 'timeout', 'another refresh of this access token did not finish in time');
    }
    await sleep(POLL_MS);
  }
}

/** Claims the refresh lease (when the row still needs one and nobody holds it); the new token if this call refreshed, else null. */
async function refreshIfClaimed(
  env: Env,
  connectionId: number,
  app: WecomApp,
  refused: number,
  leaseMs: number,
  timeoutMs: number,
): Promise<AccessToken | null> {
  const db = env.DB;
  const owner = randomOwner();
  const now = Date.now();
  let claim: ClaimRow | undefined;
  try {
    const [, read] = await batch(db, [
      db
        .prepare(
          `INSERT INTO wecom_tokens (connection_id, app, lease_owner, lease_until) VALUES (?1, ?2, ?3, ?4)
           ON CONFLICT (connection_id, app) DO UPDATE SET lease_owner = excluded.lease_owner, lease_until = excluded.lease_until
           WHERE (wecom_tokens.lease_until IS NULL OR wecom_tokens.lease_until <= ?5)
             AND (wecom_tokens.token_enc IS NULL OR wecom_tokens.stale_at <= ?5 OR wecom_tokens.version = ?6)`,
        )
        .bind(connectionId, app, owner, now + leaseMs, now, refused),
      // in the same transaction: the secret the lease was taken for, and whether we hold it
      typed<ClaimRow>(
        db
          .prepare(
            `SELECT c.corp_id, c.${SECRET_COLUMN[app]} AS secret_enc,
               (SELECT lease_owner FROM wecom_tokens WHERE connection_id = c.id AND app = ?) AS owner
             FROM wecom_connections c WHERE c.id = ?`,
          )
          .bind(app, connectionId),
      ),
    ]);
    claim = read.results[0];
  } catch (e) {
    // the connection was deleted: the token row's foreign key refuses it
    if (e instanceof Error && /FOREIGN KEY/i.test(e.message)) throw new WecomNotConfiguredError(connectionId, app);
    throw e;
  }
  if (!claim) throw new WecomNotConfiguredError(connectionId, app);
  if (claim.owner !== owner) return null;

  const release = () =>
    db
      .prepare('UPDATE wecom_tokens SET lease_owner = NULL, lease_until = NULL WHERE connection_id = ? AND app = ? AND lease_owner = ?')
      .bind(connectionId, app, owner)
      .run();
  if (!claim.secret_enc) {
    await release();
    throw new WecomNotConfiguredError(connectionId, app);
  }
  const keys = await fieldKeys(env);
  let fetched: { token: string; expiresIn: number };
  try {
    fetched = await getToken(env.WECOM_API_BASE, claim.corp_id, await openField(keys, claim.secret_enc), timeoutMs);
  } catch (e) {
    await release();
    throw e;
  }
  const lifetimeMs = fetched.expiresIn * 1000;
  const staleAt = staleAtOf(now, lifetimeMs);
  const written = await db
    .prepare(
      `UPDATE wecom_tokens SET token_enc = ?, expires_at = ?, stale_at = ?, refreshed_at = ?, version = version + 1,
         lease_owner = NULL, lease_until = NULL
       WHERE connection_id = ? AND app = ? AND lease_owner = ? RETURNING version`,
    )
    .bind(await sealField(keys, fetched.token), now + lifetimeMs, staleAt, Date.now(), connectionId, app, owner)
    .first<{ version: number }>();
  // no row: the secret was replaced (its row deleted) while we fetched; use the token once, cache nothing
  if (!written) return { token: fetched.token, version: -1 };
  memo.set(keyOf(connectionId, app), { token: fetched.token, version: written.version, staleAt, readAt: Date.now() });
  return { token: fetched.token, version: written.version };
}

/**
 * The statement that keeps a token "test connection" just got from gettoken, for the test's
 * batch: WeCom answers the same token while it is valid, so it is as good as one a refresh gets,
 * and the next call needs no gettoken. Written only while the secret it was fetched with is still
 * the connection's (`secretChangedAt`), no refresh holds the lease, and the row has no token that
 * stays usable longer.
 */
export async function offerTokenStatement(
  env: Env,
  connectionId: number,
  app: WecomApp,
  secretChangedAt: number | null,
  fetched: { token: string; expiresIn: number; at: number },
): Promise<D1PreparedStatement> {
  const lifetimeMs = fetched.expiresIn * 1000;
  return env.DB.prepare(
    `INSERT INTO wecom_tokens (connection_id, app, token_enc, expires_at, stale_at, refreshed_at, version)
     SELECT ?1, ?2, ?3, ?4, ?5, ?6, 1 FROM wecom_connections c WHERE c.id = ?1 AND c.${app}_secret_changed_at IS ?7
     ON CONFLICT (connection_id, app) DO UPDATE SET token_enc = excluded.token_enc, expires_at = excluded.expires_at,
       stale_at = excluded.stale_at, refreshed_at = excluded.refreshed_at, version = wecom_tokens.version + 1
     WHERE (wecom_tokens.lease_until IS NULL OR wecom_tokens.lease_until <= ?6)
       AND (wecom_tokens.token_enc IS NULL OR wecom_tokens.stale_at < excluded.stale_at)`,
  ).bind(
    connectionId,
    app,
    await sealField(await fieldKeys(env), fetched.token),
    fetched.at + lifetimeMs,
    staleAtOf(fetched.at, lifetimeMs),
    fetched.at,
    secretChangedAt,
  );
}
