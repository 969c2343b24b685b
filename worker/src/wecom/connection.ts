/**
 * Connected WeCom corps: create, change, test, delete, list. The secrets are sealed with the
 * field key (crypto/fields.ts) on the way in and opened only to call gettoken (here to test,
 * token-cache.ts to call); no answer, list or audit entry carries them: a secret is "set" or
 * "not set", with when it last changed and what its last test answered. Every change and its
 * audit entry are one D1 batch.
 */
import {
  connectionStateOf,
  WECOM_APPS,
  type CreateWecomConnectionBody,
  type UpdateWecomConnectionBody,
  type WecomApp,
  type WecomConnectionSummary,
  type WecomConnectionTestResult,
  type WecomSecretState,
  type WecomSecretTest,
} from '@shared/api/wecom';
import { auditStatementForNewRow, auditStatementIfChanged } from '../audit';
import type { Actor } from '../auth/access';
import { fieldKeys, openField, sealField } from '../crypto/fields';
import type { RawRow } from '../db/rows';
import type * as schema from '../db/schema';
import { ApiError } from '../errors';
import { WecomApiError, WecomUnreachableError } from './errors';
import { getToken } from './http';
import { forgetWecomTokens, offerTokenStatement } from './token-cache';
import { errcodeWords } from './words';
import { forgetSource } from '../ingest/source-cache';

type ConnectionRow = RawRow<typeof schema.wecomConnections>;
/** What the summary reads: never a secret column, only whether it is set. */
type SummaryRow = Omit<ConnectionRow, 'contact_secret_enc' | 'agent_secret_enc'> & {
  contact_set: number;
  agent_set: number;
  creator_name: string | null;
  source_name: string | null;
  source_kind: string | null;
  source_revoked_at: number | null;
  contact_refreshed_at: number | null;
  contact_expires_at: number | null;
  agent_refreshed_at: number | null;
  agent_expires_at: number | null;
};

const SELECT = `SELECT c.id, c.corp_id, c.agent_id, c.event_source_id, c.created_by, c.created_at, c.updated_at,
    c.contact_secret_enc IS NOT NULL AS contact_set, c.contact_secret_changed_at, c.contact_tested_at, c.contact_test_errcode, c.contact_test_errmsg,
    c.agent_secret_enc IS NOT NULL AS agent_set, c.agent_secret_changed_at, c.agent_tested_at, c.agent_test_errcode, c.agent_test_errmsg,
    u.name AS creator_name, s.name AS source_name, s.kind AS source_kind, s.revoked_at AS source_revoked_at,
    tc.refreshed_at AS contact_refreshed_at, tc.expires_at AS contact_expires_at,
    ta.refreshed_at AS agent_refreshed_at, ta.expires_at AS agent_expires_at
  FROM wecom_connections c
  LEFT JOIN users u ON u.id = c.created_by
  LEFT JOIN event_sources s ON s.id = c.event_source_id
  LEFT JOIN wecom_tokens tc ON tc.connection_id = c.id AND tc.app = 'contact' AND tc.token_enc IS NOT NULL
  LEFT JOIN wecom_tokens ta ON ta.connection_id = c.id AND ta.app = 'agent' AND ta.token_enc IS NOT NULL`;

function testOf(at: number | null, errcode: number | null, errmsg: string | null): WecomSecretTest | null {
  if (at === null) return null;
  return { at, errcode, errmsg: errmsg ?? '', ok: errcode === 0, words: errcodeWords(errcode, errmsg ?? '') };
}

function secretState(r: SummaryRow, app: WecomApp): WecomSecretState {
  const p = <K extends string>(k: K) => r[`${app}_${k}` as keyof SummaryRow] as number | string | null;
  const refreshedAt = p('refreshed_at') as number | null;
  const expiresAt = p('expires_at') as number | null;
  return {
    set: p('set') === 1,
    changedAt: p('secret_changed_at') as number | null,
    lastTest: testOf(p('tested_at') as number | null, p('test_errcode') as number | null, p('test_errmsg') as string | null),
    token: refreshedAt !== null && expiresAt !== null ? { refreshedAt, expiresAt } : null,
  };
}

function toSummary(r: SummaryRow): WecomConnectionSummary {
  const secrets = { contact: secretState(r, 'contact'), agent: secretState(r, 'agent') };
  return {
    id: r.id,
    corpId: r.corp_id,
    agentId: r.agent_id,
    secrets,
    eventSource:
      r.event_source_id !== null && r.source_name !== null
        ? {
            id: r.event_source_id,
            name: r.source_name,
            webhookPath: `/api/webhooks/wecom/${r.event_source_id}`,
            revokedAt: r.source_revoked_at,
          }
        : null,
    state: connectionStateOf(secrets),
    createdAt: r.created_at,
    createdBy: r.created_by !== null && r.creator_name !== null ? { id: r.created_by, name: r.creator_name } : null,
    updatedAt: r.updated_at,
  };
}

export async function listConnections(db: D1Database): Promise<WecomConnectionSummary[]> {
  const { results } = await db.prepare(`${SELECT} ORDER BY c.created_at, c.id`).all<SummaryRow>();
  return results.map(toSummary);
}

export async function getConnection(db: D1Database, id: number): Promise<WecomConnectionSummary> {
  const row = await db.prepare(`${SELECT} WHERE c.id = ?`).bind(id).first<SummaryRow>();
  if (!row) throw new ApiError(404, 'not_found', `No WeCom connection with id ${id}`);
  return toSummary(row);
}

/** What audit entries record about a connection: whether each secret is set and when it changed, never its value. */
const audited = (c: WecomConnectionSummary) => ({
  corpId: c.corpId,
  agentId: c.agentId,
  contactSecret: c.secrets.contact.set ? 'set' : 'not set',
  contactSecretChangedAt: c.secrets.contact.changedAt,
  agentSecret: c.secrets.agent.set ? 'set' : 'not set',
  agentSecretChangedAt: c.secrets.agent.changedAt,
  eventSourceId: c.eventSource?.id ?? null,
});

/** The event source a connection may link: an existing, unrevoked `wecom` source of the same CorpID. 400 naming the field otherwise. */
async function checkEventSource(db: D1Database, id: string, corpId: string): Promise<void> {
  const s = await db
    .prepare('SELECT kind, revoked_at, wecom_corp_id FROM event_sources WHERE id = ?')
    .bind(id)
    .first<{ kind: string; revoked_at: number | null; wecom_corp_id: string | null }>();
  const refuse = (message: string) =>
    new ApiError(400, 'invalid_request', `eventSourceId: ${message}`, [{ path: 'eventSourceId', message }]);
  if (!s) {
    const message = `no event source "${id}"`;
    throw new ApiError(400, 'unknown_reference', `eventSourceId: ${message}`, [{ path: 'eventSourceId', message }]);
  }
  if (s.kind !== 'wecom') throw refuse(`"${id}" is not a WeCom event source`);
  if (s.revoked_at !== null) throw refuse(`"${id}" is revoked`);
  if (s.wecom_corp_id !== null && s.wecom_corp_id !== corpId)
    throw refuse(`"${id}" receives the callbacks of corp ${s.wecom_corp_id}, not ${corpId}`);
}

const isUniqueViolation = (e: unknown) => e instanceof Error && /UNIQUE constraint failed/i.test(e.message);
const corpTaken = (corpId: string) =>
  new ApiError(409, 'conflict', `Corp ${corpId} is already connected: change that connection instead`, [
    { path: 'corpId', message: 'is already connected' },
  ]);

export async function createConnection(env: Env, b: CreateWecomConnectionBody, actor: Actor, now: number): Promise<WecomConnectionSummary> {
  const db = env.DB;
  if (await db.prepare('SELECT 1 FROM wecom_connections WHERE corp_id = ?').bind(b.corpId).first()) throw corpTaken(b.corpId);
  if (b.eventSourceId) await checkEventSource(db, b.eventSourceId, b.corpId);
  const keys = await fieldKeys(env);
  const contact = b.contactSecret ? await sealField(keys, b.contactSecret) : null;
  const agent = b.agentSecret ? await sealField(keys, b.agentSecret) : null;
  const after = {
    corpId: b.corpId,
    agentId: b.agentId ?? null,
    contactSecret: contact ? 'set' : 'not set',
    contactSecretChangedAt: contact ? now : null,
    agentSecret: agent ? 'set' : 'not set',
    agentSecretChangedAt: agent ? now : null,
    eventSourceId: b.eventSourceId ?? null,
  };
  let inserted: D1Result | undefined;
  try {
    [inserted] = await db.batch([
      db
        .prepare(
          `INSERT INTO wecom_connections (corp_id, contact_secret_enc, contact_secret_changed_at, agent_id, agent_secret_enc,
             agent_secret_changed_at, event_source_id, created_by, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .bind(
          b.corpId,
          contact,
          contact ? now : null,
          b.agentId ?? null,
          agent,
          agent ? now : null,
          b.eventSourceId ?? null,
          actor.userId,
          now,
          now,
        ),
      auditStatementForNewRow(db, {
        actor,
        action: 'wecom_connection.create',
        objectType: 'wecom_connection',
        summary: `Connected WeCom corp ${b.corpId}`,
        params: { corpId: b.corpId },
        after,
        at: now,
      }),
    ]);
  } catch (e) {
    // connected by someone else between the check and the write
    if (isUniqueViolation(e)) throw corpTaken(b.corpId);
    throw e;
  }
  // the webhook routes cache which connection a source belongs to with the source row
  if (b.eventSourceId) forgetSource(b.eventSourceId);
  return getConnection(db, Number(inserted!.meta.last_row_id));
}

const SECRET_FIELD: Record<WecomApp, 'contactSecret' | 'agentSecret'> = { contact: 'contactSecret', agent: 'agentSecret' };

export async function updateConnection(
  env: Env,
  id: number,
  b: UpdateWecomConnectionBody,
  actor: Actor,
  now: number,
): Promise<WecomConnectionSummary> {
  const db = env.DB;
  const before = await getConnection(db, id);
  if (b.eventSourceId) await checkEventSource(db, b.eventSourceId, before.corpId);
  const agentId = b.agentId === undefined ? before.agentId : b.agentId;
  const agentSecretSet = b.agentSecret === undefined ? before.secrets.agent.set : b.agentSecret !== null;
  if (agentSecretSet && agentId === null) {
    throw new ApiError(400, 'invalid_request', 'agentId: is required while an agent secret is set', [
      { path: 'agentId', message: 'is required while an agent secret is set' },
    ]);
  }

  const keys = await fieldKeys(env);
  const sets: string[] = ['updated_at = ?'];
  const args: unknown[] = [now];
  const replaced: WecomApp[] = [];
  for (const app of WECOM_APPS) {
    const value = b[SECRET_FIELD[app]];
    if (value === undefined) continue;
    replaced.push(app);
    sets.push(
      `${app}_secret_enc = ?`,
      `${app}_secret_changed_at = ?`,
      `${app}_tested_at = NULL`,
      `${app}_test_errcode = NULL`,
      `${app}_test_errmsg = NULL`,
    );
    args.push(value === null ? null : await sealField(keys, value), now);
  }
  if (b.agentId !== undefined) {
    sets.push('agent_id = ?');
    args.push(b.agentId);
  }
  if (b.eventSourceId !== undefined) {
    sets.push('event_source_id = ?');
    args.push(b.eventSourceId);
  }
  const changed = Object.keys(b).filter((k) => b[k as keyof UpdateWecomConnectionBody] !== undefined);
  const secretAfter = (app: WecomApp) => {
    const v = b[SECRET_FIELD[app]];
    return v === undefined ? (before.secrets[app].set ? 'set' : 'not set') : v === null ? 'not set' : 'set';
  };
  const after = {
    ...audited(before),
    agentId,
    contactSecret: secretAfter('contact'),
    contactSecretChangedAt: replaced.includes('contact') ? now : before.secrets.contact.changedAt,
    agentSecret: secretAfter('agent'),
    agentSecretChangedAt: replaced.includes('agent') ? now : before.secrets.agent.changedAt,
    eventSourceId: b.eventSourceId === undefined ? (before.eventSource?.id ?? null) : b.eventSourceId,
  };
  const [updated] = await db.batch([
    db.prepare(`UPDATE wecom_connections SET ${sets.join(', ')} WHERE id = ?`).bind(...args, id),
    auditStatementIfChanged(db, {
      actor,
      action: 'wecom_connection.update',
      objectType: 'wecom_connection',
      objectId: id,
      summary: `Changed WeCom connection ${before.corpId}: ${changed.join(', ')}`,
      params: { corpId: before.corpId, changed: changed.join(', ') },
      before: audited(before),
      after,
      at: now,
    }),
    // a replaced secret's token is not used again, by any isolate (a refresh in flight finds no row to write)
    ...replaced.map((app) => db.prepare('DELETE FROM wecom_tokens WHERE connection_id = ? AND app = ?').bind(id, app)),
  ]);
  forgetWecomTokens(id);
  for (const source of [before.eventSource?.id, b.eventSourceId]) if (source) forgetSource(source);
  if (!updated!.meta.changes) throw new ApiError(404, 'not_found', `No WeCom connection with id ${id}`);
  return getConnection(db, id);
}

export async function deleteConnection(db: D1Database, id: number, actor: Actor, now: number): Promise<void> {
  const before = await getConnection(db, id);
  const [, deleted] = await db.batch([
    db.prepare('DELETE FROM wecom_tokens WHERE connection_id = ?').bind(id),
    db.prepare('DELETE FROM wecom_connections WHERE id = ?').bind(id),
    auditStatementIfChanged(db, {
      actor,
      action: 'wecom_connection.delete',
      objectType: 'wecom_connection',
      objectId: id,
      summary: `Disconnected WeCom corp ${before.corpId}: its secrets and tokens are deleted`,
      params: { corpId: before.corpId },
      before: audited(before),
      at: now,
    }),
  ]);
  forgetWecomTokens(id);
  if (before.eventSource) forgetSource(before.eventSource.id);
  if (!deleted!.meta.changes) throw new ApiError(404, 'not_found', `No WeCom connection with id ${id}`);
}

/** gettoken with one secret, its answer kept as a test result (never thrown), and the token when there is one. */
async function testSecret(
  env: Env,
  corpId: string,
  secret: string,
  now: number,
): Promise<{ test: WecomSecretTest; token?: { token: string; expiresIn: number } }> {
  let errcode: number | null = 0;
  let errmsg = 'ok';
  let token: { token: string; expiresIn: number } | undefined;
  try {
    token = await getToken(env.WECOM_API_BASE, corpId, secret);
  } catch (e) {
    if (e instanceof WecomApiError) {
      errcode = e.errcode;
      errmsg = e.errmsg;
    } else if (e instanceof WecomUnreachableError) {
      errcode = null;
      errmsg = e.message;
    } else throw e;
  }
  return { test: { at: now, errcode, errmsg, ok: errcode === 0, words: errcodeWords(errcode, errmsg) }, token };
}

/**
 * "Test connection": gettoken with each secret set, now, and the answers kept on the connection
 * (shown beside each secret). A token it gets goes into the shared cache (token-cache.ts
 * `offerTokenStatement`), so the first call after connecting needs no gettoken of its own.
 */
export async function testConnection(env: Env, id: number, actor: Actor, now: number): Promise<WecomConnectionTestResult> {
  const db = env.DB;
  const row = await db
    .prepare(
      'SELECT corp_id, contact_secret_enc, contact_secret_changed_at, agent_secret_enc, agent_secret_changed_at FROM wecom_connections WHERE id = ?',
    )
    .bind(id)
    .first<
      Pick<ConnectionRow, 'corp_id' | 'contact_secret_enc' | 'contact_secret_changed_at' | 'agent_secret_enc' | 'agent_secret_changed_at'>
    >();
  if (!row) throw new ApiError(404, 'not_found', `No WeCom connection with id ${id}`);
  const keys = await fieldKeys(env);
  const results: Record<WecomApp, WecomSecretTest | null> = { contact: null, agent: null };
  const offers: D1PreparedStatement[] = [];
  await Promise.all(
    WECOM_APPS.map(async (app) => {
      const sealed = app === 'contact' ? row.contact_secret_enc : row.agent_secret_enc;
      if (!sealed) return;
      const { test, token } = await testSecret(env, row.corp_id, await openField(keys, sealed), now);
      results[app] = test;
      const changedAt = app === 'contact' ? row.contact_secret_changed_at : row.agent_secret_changed_at;
      if (token) offers.push(await offerTokenStatement(env, id, app, changedAt, { ...token, at: now }));
    }),
  );
  const tested = WECOM_APPS.filter((app) => results[app] !== null);
  if (!tested.length) {
    throw new ApiError(409, 'conflict', `WeCom connection ${row.corp_id} has no secret to test: set one first`, [
      { path: 'contactSecret', message: 'is not set' },
    ]);
  }
  // each result is kept only for the secret it tested (one replaced meanwhile stays "not tested")
  const sets: string[] = [];
  const args: unknown[] = [];
  const where: string[] = [];
  const whereArgs: unknown[] = [];
  for (const app of tested) {
    const r = results[app]!;
    sets.push(
      `${app}_tested_at = CASE WHEN ${app}_secret_changed_at IS ? THEN ? ELSE ${app}_tested_at END`,
      `${app}_test_errcode = CASE WHEN ${app}_secret_changed_at IS ? THEN ? ELSE ${app}_test_errcode END`,
      `${app}_test_errmsg = CASE WHEN ${app}_secret_changed_at IS ? THEN ? ELSE ${app}_test_errmsg END`,
    );
    const changedAt = app === 'contact' ? row.contact_secret_changed_at : row.agent_secret_changed_at;
    args.push(changedAt, r.at, changedAt, r.errcode, changedAt, r.errmsg.slice(0, 500));
    where.push(`${app}_secret_changed_at IS ?`);
    whereArgs.push(changedAt);
  }
  const failed = tested.filter((app) => !results[app]!.ok);
  await db.batch([
    db.prepare(`UPDATE wecom_connections SET ${sets.join(', ')} WHERE id = ? AND (${where.join(' OR ')})`).bind(...args, id, ...whereArgs),
    auditStatementIfChanged(db, {
      actor,
      action: 'wecom_connection.test',
      objectType: 'wecom_connection',
      objectId: id,
      summary: failed.length
        ? `Tested WeCom connection ${row.corp_id}: ${failed.map((a) => `${a} secret errcode ${results[a]!.errcode ?? 'unreachable'}`).join(', ')}`
        : `Tested WeCom connection ${row.corp_id}: every secret works`,
      params: failed.length
        ? {
            variant: 'failed',
            corpId: row.corp_id,
            errcodes: failed.map((a) => `${a}: ${results[a]!.errcode ?? 'unreachable'}`).join(', '),
          }
        : { variant: 'ok', corpId: row.corp_id },
      after: Object.fromEntries(tested.map((a) => [a, { errcode: results[a]!.errcode, errmsg: results[a]!.errmsg }])),
      at: now,
    }),
    ...offers,
  ]);
  forgetWecomTokens(id);
  return { results, connection: await getConnection(db, id) };
}
