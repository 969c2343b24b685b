/**
 * WeCom customers and their follow-user relations → Segflow contacts, `wecom_relations`, and the
 * contact's corp tags. A contact lands through the webhook pipeline's own upsert
 * (`contactUpsertStatements`, search keys included); its tags are the union of the mapped corp
 * tags over its relations, diffed against what it holds of this connection's mapped tags and
 * applied by the tag writer with source `wecom` (ledger rows). Keyed by WeCom ids, so the same
 * page written twice changes nothing the second time.
 *
 * Tags of "Segflow owns" groups (wecom/push/) are not taken from WeCom: rules decide them. A
 * relation whose Segflow-owned corp tags changed in WeCom is a manual edit: counted
 * (`wecom_push_state.reverted`, same batch) and, when the caller passes a collector, its contact
 * is handed back for a push that reverts it once the batch has committed.
 */
import type { Gender } from '@shared/domain';
import { contactUpsertStatements, type AttributeKey, type ContactUpsert } from '../../ingest/pipeline';
import { tagChangeStatements, type TagChange, type TagWriteSource } from '../../tagging/tag-writer';
import { segflowOwnedTagsStatement } from '../push/push';

/** WeCom-side edits of Segflow-owned tags found by a write: the contacts to push back (revert), and how many (relation, tag) edits. */
export interface RevertCollector {
  contactIds: number[];
  edits: number;
}

/** The external_contact object of 获取客户详情 / 批量获取客户详情. */
export interface WecomCustomerIn {
  external_userid: string;
  name?: string;
  type?: number;
  gender?: number;
  corp_name?: string;
}

/** One follow user's relation with a customer (follow_info of batch/get_by_user, or a follow_user of get). */
export interface WecomRelationIn {
  userid: string;
  externalUserid: string;
  remark?: string;
  description?: string;
  addWay?: number;
  state?: string;
  createtime?: number;
  tagIds: string[];
}

const GENDER: Record<number, Gender> = { 1: 'male', 2: 'female' };
const json = (v: unknown) => JSON.stringify(v);
// `+connection_id` below: without it SQLite reads a customer's relations through the primary key's
// (connection_id, …) prefix, i.e. every relation of the corp, instead of `wecom_relations_ext_idx`
// (a page of a 100k-customer backfill read the whole table; bench/wecom.ts)
const jv = (p: string) => `json_extract(j.value, '$.${p}')`;

/**
 * Statements writing `customers` and `relations`. `replace`: the relations given are ALL the
 * customer's relations (a callback's `externalcontact/get`), so stored ones not among them are
 * marked deleted; a customer in `replace` with no relations lost every follow user.
 */
export async function customerStatements(
  db: D1Database,
  connectionId: number,
  customers: WecomCustomerIn[],
  relations: WecomRelationIn[],
  src: TagWriteSource,
  replace: string[] = [],
  reverts?: RevertCollector,
  /** `since` given: `unseen` is set to how many of `customers` had no live relation synced at or after it (a backfill's customer count) */
  seen?: { since: number; unseen?: number },
): Promise<D1PreparedStatement[]> {
  const exts = [...new Set([...customers.map((c) => c.external_userid), ...relations.map((r) => r.externalUserid), ...replace])];
  if (!exts.length) return [];
  const extsJson = json(exts);
  const incomingTagIds = json([...new Set(relations.flatMap((r) => r.tagIds))]);
  // one round trip for every read (bench/wecom.ts: a backfill page is mostly D1 round trips)
  const [contactsRead, relsRead, heldRead, ownedRead, tagMapRead] = await db.batch([
    db.prepare('SELECT id, external_id, name, remark FROM contacts WHERE external_id IN (SELECT value FROM json_each(?))').bind(extsJson),
    db
      .prepare(
        `SELECT userid, external_userid, tag_ids, synced_at FROM wecom_relations
         WHERE +connection_id = ? AND deleted_at IS NULL AND external_userid IN (SELECT value FROM json_each(?))`,
      )
      .bind(connectionId, extsJson),
    db
      .prepare(
        // CROSS JOIN keeps this page's contacts outermost: otherwise SQLite walks every holder of every mapped tag
        `SELECT c.external_id, ct.tag_id FROM contacts c CROSS JOIN contact_tags ct CROSS JOIN wecom_tag_map m
         WHERE c.external_id IN (SELECT value FROM json_each(?2)) AND ct.contact_id = c.id
           AND m.connection_id = ?1 AND m.kind = 'tag' AND m.segflow_id = ct.tag_id AND m.deleted_at IS NULL`,
      )
      .bind(connectionId, extsJson),
    segflowOwnedTagsStatement(db, connectionId),
    // the mapped tags of this page's relations, new (the page's) or stored, with whether their group is exclusive
    db
      .prepare(
        `SELECT m.wecom_id, m.segflow_id, coalesce(g.exclusive, 0) AS exclusive FROM wecom_tag_map m
         LEFT JOIN tags t ON t.id = m.segflow_id LEFT JOIN tag_groups g ON g.id = t.group_id
         WHERE m.connection_id = ?1 AND m.kind = 'tag' AND m.deleted_at IS NULL
           AND (m.wecom_id IN (SELECT value FROM json_each(?2))
             OR m.wecom_id IN (SELECT j.value FROM wecom_relations r, json_each(r.tag_ids) j
               WHERE +r.connection_id = ?1 AND r.deleted_at IS NULL AND r.external_userid IN (SELECT value FROM json_each(?3))))`,
      )
      .bind(connectionId, incomingTagIds, extsJson),
  ]);
  const existing = new Map(
    (contactsRead!.results as { id: number; external_id: string; name: string; remark: string | null }[]).map((r) => [r.external_id, r]),
  );
  const replaced = new Set(replace);
  const owned = new Map((ownedRead!.results as { wecom_id: string; segflow_id: number }[]).map((r) => [r.wecom_id, r.segflow_id]));
  const ownedSids = new Set(owned.values());
  // the relations before this write, for the manual edits of Segflow-owned tags
  const oldOwned = new Map<string, Set<string>>();
  for (const r of relsRead!.results as { userid: string; external_userid: string; tag_ids: string }[]) {
    oldOwned.set(`${r.userid}|${r.external_userid}`, new Set((JSON.parse(r.tag_ids) as string[]).filter((id) => owned.has(id))));
  }
  if (seen) {
    const synced = new Set<string>();
    for (const r of relsRead!.results as { external_userid: string; synced_at: number }[])
      if (r.synced_at >= seen.since) synced.add(r.external_userid);
    seen.unseen = customers.filter((c) => !synced.has(c.external_userid)).length;
  }
  // the relations after this write, per customer
  const rels = new Map<string, Map<string, string[]>>();
  const relsOf = (ext: string) => rels.get(ext) ?? rels.set(ext, new Map()).get(ext)!;
  for (const r of relsRead!.results as { userid: string; external_userid: string; tag_ids: string }[]) {
    if (!replaced.has(r.external_userid)) relsOf(r.external_userid).set(r.userid, JSON.parse(r.tag_ids) as string[]);
  }
  for (const r of relations) relsOf(r.externalUserid).set(r.userid, r.tagIds);

  const tagMap = tagMapRead!.results as { wecom_id: string; segflow_id: number; exclusive: number }[];
  const sidOf = new Map(tagMap.map((t) => [t.wecom_id, t.segflow_id]));
  const held = new Map<string, Set<number>>();
  for (const h of heldRead!.results as { external_id: string; tag_id: number }[]) {
    (held.get(h.external_id) ?? held.set(h.external_id, new Set()).get(h.external_id)!).add(h.tag_id);
  }

  // contacts: through the webhook pipeline's upsert (each customer's relations by a map: a page has ~1,000 of each)
  const relationsOf = new Map<string, WecomRelationIn[]>();
  for (const r of relations) (relationsOf.get(r.externalUserid) ?? relationsOf.set(r.externalUserid, []).get(r.externalUserid)!).push(r);
  const upserts: ContactUpsert[] = customers.map((c) => {
    const before = existing.get(c.external_userid);
    const own = relationsOf.get(c.external_userid) ?? [];
    const attrs: Partial<Record<AttributeKey, string>> = {};
    if (!before) attrs.kind = 'wecom_customer';
    if (c.name) attrs.name = c.name.slice(0, 200);
    attrs.gender = GENDER[c.gender ?? 0] ?? 'unknown';
    if (c.type === 2 && c.corp_name) attrs.company = c.corp_name.slice(0, 200);
    const remark = own.find((r) => r.remark)?.remark;
    if (remark) attrs.remark = remark.slice(0, 200);
    // `state` of the 联系我 QR code scanned: the source channel
    const state = own.find((r) => r.state)?.state;
    if (state) attrs.sourceChannel = state.slice(0, 100);
    const name = attrs.name ?? before?.name ?? c.external_userid;
    const rem = attrs.remark ?? before?.remark ?? null;
    const rekey = !before || name !== before.name || rem !== before.remark;
    return { externalId: c.external_userid, isNew: !before, attrs, ...(rekey ? { keys: { name, remark: rem } } : {}) };
  });
  const out: D1PreparedStatement[] = contactUpsertStatements(db, upserts, 'wecom_customer', src.at);

  if (replace.length) {
    out.push(
      db
        .prepare(
          `UPDATE wecom_relations SET deleted_at = ?1 WHERE +connection_id = ?2 AND deleted_at IS NULL
           AND external_userid IN (SELECT value FROM json_each(?3))`,
        )
        .bind(src.at, connectionId, json(replace)),
    );
  }
  if (relations.length) {
    out.push(
      db
        .prepare(
          `INSERT INTO wecom_relations (connection_id, userid, external_userid, remark, description, add_way, state, createtime, tag_ids, synced_at)
           SELECT ?1, ${jv('u')}, ${jv('x')}, ${jv('remark')}, ${jv('description')}, ${jv('addWay')}, ${jv('state')}, ${jv('createtime')}, ${jv('tags')}, ?2
           FROM json_each(?3) j WHERE true
           ON CONFLICT(connection_id, userid, external_userid) DO UPDATE SET remark = excluded.remark, description = excluded.description,
             add_way = excluded.add_way, state = excluded.state, createtime = excluded.createtime, tag_ids = excluded.tag_ids,
             synced_at = excluded.synced_at, deleted_at = NULL`,
        )
        .bind(
          connectionId,
          src.at,
          json(
            relations.map((r) => ({
              u: r.userid,
              x: r.externalUserid,
              remark: r.remark ?? null,
              description: r.description ?? null,
              addWay: r.addWay ?? null,
              state: r.state ?? null,
              createtime: r.createtime ?? null,
              tags: json(r.tagIds),
            })),
          ),
        ),
    );
  }

  // tags: the union over the relations, against what the contact holds of this corp's mapped tags
  const changes: TagChange[] = [];
  const given = new Set(customers.map((c) => c.external_userid));
  for (const ext of exts) {
    const before = existing.get(ext);
    if (!before && !given.has(ext)) continue;
    const want = new Set<number>();
    for (const ids of rels.get(ext)?.values() ?? []) for (const id of ids) if (sidOf.has(id)) want.add(sidOf.get(id)!);
    const have = held.get(ext) ?? new Set<number>();
    const contactId = before ? before.id : { externalId: ext };
    for (const t of have) if (!want.has(t) && !ownedSids.has(t)) changes.push({ contactId, tagId: t, op: 'remove' });
    for (const t of want) if (!have.has(t) && !ownedSids.has(t)) changes.push({ contactId, tagId: t, op: 'add' });
  }
  // no exclusive group among the tags added: the writer's displacement statements have nothing to do
  const exclusive = new Set(tagMap.filter((t) => t.exclusive).map((t) => t.segflow_id));
  const noExclusive = !changes.some((c) => c.op === 'add' && exclusive.has(c.tagId));
  if (changes.length) out.push(...tagChangeStatements(db, changes, src, { noExclusive }));

  // manual WeCom edits of Segflow-owned tags on relations Segflow knew: counted, their contacts handed back for a revert
  let edits = 0;
  const editedContacts = new Set<number>();
  // each edit listed too (wecom_push_overrides), for the sync screen's list of reverted edits
  const listed: { c: number; u: string; x: string; w: string; t: number; o: 'added' | 'removed' }[] = [];
  for (const r of relations) {
    const before = oldOwned.get(`${r.userid}|${r.externalUserid}`);
    const contact = existing.get(r.externalUserid);
    if (!before || !contact) continue;
    const now = new Set(r.tagIds.filter((id) => owned.has(id)));
    const added = [...now].filter((id) => !before.has(id));
    const removed = [...before].filter((id) => !now.has(id));
    const n = added.length + removed.length;
    if (n) {
      edits += n;
      editedContacts.add(contact.id);
      for (const [ids, o] of [
        [added, 'added'],
        [removed, 'removed'],
      ] as const)
        for (const w of ids) listed.push({ c: contact.id, u: r.userid, x: r.externalUserid, w, t: owned.get(w)!, o });
    }
  }
  if (edits && reverts) {
    reverts.edits += edits;
    reverts.contactIds.push(...editedContacts);
    out.push(
      db
        .prepare(
          `INSERT INTO wecom_push_overrides (connection_id, contact_id, userid, external_userid, wecom_tag_id, tag_id, op, at)
           SELECT ?1, ${jv('c')}, ${jv('u')}, ${jv('x')}, ${jv('w')}, ${jv('t')}, ${jv('o')}, ?2 FROM json_each(?3) j`,
        )
        .bind(connectionId, src.at, json(listed)),
    );
    out.push(
      db
        .prepare(
          `INSERT INTO wecom_push_state (connection_id, reverted, updated_at) VALUES (?1, ?2, ?3)
           ON CONFLICT(connection_id) DO UPDATE SET reverted = reverted + excluded.reverted, updated_at = excluded.updated_at`,
        )
        .bind(connectionId, edits, src.at),
    );
  }
  return out;
}
