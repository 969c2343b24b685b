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
      if (await hasUnmappedSyncedTag(db, c.id)) {
        const m = await mirrorConnection(env, c.id, at);
        if (m.status === 'limit')
          errors.push(`wecom ${c.corp_id}: ${m.wecomTags} corp tags + ${m.toCreate} to create pass WeCom's ${m.limit}`);
        else {
          out.createdTags += m.createdTags;
          out.queued += await queueHolders(env, c.id, m.mappedTagIds);
        }
      }
      for (let page = 0; page < DRAIN_PAGES; page++) {
        const d = await drainPushes(env, c.id, at);
        out.queued += d.queued;
        if (d.scanned === 0) break;
      }
    } catch (e) {
      errors.push(`wecom push ${c.corp_id}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return out;
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
     AND EXISTS (SELECT 1 FROM wecom_relations r WHERE r.connection_id = ?1 AND r.external_userid = c.external_id AND r.deleted_at IS NULL)`,
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
