/**
 * The cron's WeCom push step, every minute, per connection with a 客户联系 secret: the mirror
 * when a synced group has a tag not mapped yet (so a flag or a new tag reaches WeCom within a
 * minute, and the library is not read every minute for nothing), a first push for the holders
 * of the tags it mapped, then the ledger drained into push messages. A connection's failure is
 * reported and does not stop the others.
 */
import { mirrorConnection } from './mirror';
import { drainPushes, queuePushes } from './push';

/** Ledger pages drained per connection and tick (1,000 rows each); the rest waits a minute. */
const DRAIN_PAGES = 5;

export interface PushTickReport {
  createdTags: number;
  queued: number;
}

export async function pushTick(env: Env, at: number, errors: string[]): Promise<PushTickReport> {
  const db = env.DB;
  const out: PushTickReport = { createdTags: 0, queued: 0 };
  const { results: connections } = await db
    .prepare('SELECT id, corp_id FROM wecom_connections WHERE contact_secret_enc IS NOT NULL ORDER BY id')
    .all<{ id: number; corp_id: string }>();
  for (const c of connections) {
    try {
      const r = await pushConnection(env, c.id, at);
      if (r.status === 'limit')
        errors.push(`wecom ${c.corp_id}: ${r.wecomTags} corp tags + ${r.toCreate} to create pass WeCom's ${r.limit}`);
      out.createdTags += r.createdTags;
      out.queued += r.queued;
    } catch (e) {
      errors.push(`wecom push ${c.corp_id}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return out;
}

export type PushConnectionResult = PushTickReport &
  ({ status: 'ok' } | { status: 'limit'; wecomTags: number; toCreate: number; limit: number });

/**
 * One connection's push: the mirror when a synced group has a tag not mapped yet, a first push for
 * the holders of what it mapped, then the ledger drained. Over WeCom's tag limit the mirror creates
 * nothing, and the drain still runs (tags already mapped keep being pushed).
 */
export async function pushConnection(env: Env, connectionId: number, at: number): Promise<PushConnectionResult> {
  const out: PushConnectionResult = { status: 'ok', createdTags: 0, queued: 0 };
  let limited: PushConnectionResult | null = null;
  if (await hasUnmappedSyncedTag(env.DB, connectionId)) {
    const m = await mirrorConnection(env, connectionId, at);
    if (m.status === 'limit') limited = { ...m, createdTags: 0, queued: 0 };
    else {
      out.createdTags += m.createdTags;
      out.queued += await queueHolders(env, connectionId, m.mappedTagIds);
    }
  }
  for (let page = 0; page < DRAIN_PAGES; page++) {
    const d = await drainPushes(env, connectionId, at);
    out.queued += d.queued;
    if (d.scanned === 0) break;
  }
  return limited ? { ...limited, queued: out.queued } : out;
}

async function hasUnmappedSyncedTag(db: D1Database, connectionId: number): Promise<boolean> {
  const row = await db
    .prepare(
      `SELECT 1 FROM tags t JOIN tag_groups g ON g.id = t.group_id WHERE g.wecom_sync = 1 AND t.status = 'active'
       AND NOT EXISTS (SELECT 1 FROM wecom_tag_map m WHERE m.connection_id = ? AND m.kind = 'tag' AND m.segflow_id = t.id AND m.deleted_at IS NULL)
       LIMIT 1`,
    )
    .bind(connectionId)
    .first();
  return row !== null;
}

/** Push messages for the contacts holding `tagIds` that have a live relation in the corp. */
async function queueHolders(env: Env, connectionId: number, tagIds: number[]): Promise<number> {
  if (!tagIds.length) return 0;
  const { results } = await env.DB.prepare(
    `SELECT DISTINCT ct.contact_id FROM contact_tags ct JOIN contacts c ON c.id = ct.contact_id
     WHERE ct.tag_id IN (SELECT value FROM json_each(?2))
     AND EXISTS (SELECT 1 FROM wecom_relations r WHERE +r.connection_id = ?1 AND r.external_userid = c.external_id AND r.deleted_at IS NULL)`,
  )
    .bind(connectionId, JSON.stringify(tagIds))
    .all<{ contact_id: number }>();
  await queuePushes(
    env,
    connectionId,
    results.map((r) => r.contact_id),
  );
  return results.length;
}
