/**
 * The corp tag library (get_corp_tag_list) → Segflow tag groups and tags, mapped by WeCom ids in
 * `wecom_tag_map`. One WeCom group is one Segflow group, its tags level-1 tags. A group or tag
 * first seen is created, or adopted when Segflow already has one of that name (the names are
 * unique here); a rename in WeCom renames it here; one WeCom no longer answers is retired here
 * (never deleted: the ledger keeps its history), its holders losing it through the tag writer with
 * source `wecom`. Reading the whole library each time makes create, update, delete and shuffle
 * one code path.
 */
import { keyCreated } from '../../search/keys';
import { tagSetStatements, type TagWriteSource } from '../../tagging/tag-writer';
import { rulesWritingGroup } from '../push/policy';

/** A group of get_corp_tag_list's answer. */
export interface WecomTagGroupIn {
  group_id: string;
  group_name: string;
  order?: number;
  tag?: { id: string; name: string; order?: number }[];
}

interface MapRow {
  kind: 'group' | 'tag';
  wecom_id: string;
  segflow_id: number;
  name: string;
  deleted_at: number | null;
}

const jv = (p: string) => `json_extract(j.value, '$.${p}')`;

/** Statements reconciling Segflow with the library as WeCom answered it; counts of what WeCom holds. */
export async function libraryStatements(
  db: D1Database,
  connectionId: number,
  corpId: string,
  groups: WecomTagGroupIn[],
  src: TagWriteSource,
): Promise<{ statements: D1PreparedStatement[]; counts: { tagGroups: number; tags: number } }> {
  const { results: mapped } = await db
    .prepare('SELECT kind, wecom_id, segflow_id, name, deleted_at FROM wecom_tag_map WHERE connection_id = ?')
    .bind(connectionId)
    .all<MapRow>();
  const active = new Map(mapped.filter((m) => m.deleted_at === null).map((m) => [`${m.kind}:${m.wecom_id}`, m]));
  const now = src.at;
  const groupRows = groups.map((g) => ({ id: g.group_id, name: g.group_name.slice(0, 100), order: g.order ?? 0 }));
  const tagRows = groups.flatMap((g) =>
    (g.tag ?? []).map((t) => ({ id: t.id, gid: g.group_id, name: t.name.slice(0, 100), order: t.order ?? 0 })),
  );
  const sidOf = (kind: 'group' | 'tag', id: string) => active.get(`${kind}:${id}`)?.segflow_id ?? null;
  const groupsJson = JSON.stringify(await placeNewGroups(db, corpId, groupRows, sidOf));
  const tagsJson = JSON.stringify(tagRows.map((t) => ({ ...t, sid: sidOf('tag', t.id) })));
  const renamed = (kind: 'group' | 'tag', rows: { id: string; name: string }[]) =>
    JSON.stringify(
      rows.flatMap((r) =>
        active.has(`${kind}:${r.id}`) && active.get(`${kind}:${r.id}`)!.name !== r.name ? [{ sid: sidOf(kind, r.id), name: r.name }] : [],
      ),
    );
  const groupOfTag = `(SELECT segflow_id FROM wecom_tag_map WHERE connection_id = ?1 AND kind = 'group' AND wecom_id = ${jv('gid')})`;

  const out: D1PreparedStatement[] = [
    // groups: new ones created (or adopted by name), renamed ones renamed, all mapped
    db
      .prepare(
        `INSERT INTO tag_groups (name, sort_order, created_at) SELECT ${jv('sname')}, ${jv('order')}, ?2 FROM json_each(?1) j
         WHERE ${jv('sid')} IS NULL ON CONFLICT(name) DO NOTHING`,
      )
      .bind(groupsJson, now),
    db
      .prepare(`UPDATE OR IGNORE tag_groups SET name = ${jv('name')} FROM json_each(?) j WHERE tag_groups.id = ${jv('sid')}`)
      .bind(renamed('group', groupRows)),
    db
      .prepare(
        `INSERT INTO wecom_tag_map (connection_id, kind, wecom_id, segflow_id, name, wecom_order, synced_at)
         SELECT ?1, 'group', ${jv('id')}, COALESCE(${jv('sid')}, (SELECT id FROM tag_groups WHERE name = ${jv('sname')})), ${jv('name')}, ${jv('order')}, ?3
         FROM json_each(?2) j WHERE true
         ON CONFLICT(connection_id, kind, wecom_id) DO UPDATE SET name = excluded.name, wecom_order = excluded.wecom_order,
           synced_at = excluded.synced_at, deleted_at = NULL`,
      )
      .bind(connectionId, groupsJson, now),
    // tags: the same, inside their group
    db
      .prepare(
        `INSERT INTO tags (group_id, name, level, status, created_at) SELECT ${groupOfTag}, ${jv('name')}, 1, 'active', ?3
         FROM json_each(?2) j WHERE ${jv('sid')} IS NULL ON CONFLICT(group_id, name) DO NOTHING`,
      )
      .bind(connectionId, tagsJson, now),
    db
      .prepare(`UPDATE OR IGNORE tags SET name = ${jv('name')} FROM json_each(?) j WHERE tags.id = ${jv('sid')}`)
      .bind(renamed('tag', tagRows)),
    db
      .prepare(
        `INSERT INTO wecom_tag_map (connection_id, kind, wecom_id, segflow_id, wecom_group_id, name, wecom_order, synced_at)
         SELECT ?1, 'tag', ${jv('id')}, COALESCE(${jv('sid')}, (SELECT id FROM tags WHERE group_id = ${groupOfTag} AND name = ${jv('name')})),
           ${jv('gid')}, ${jv('name')}, ${jv('order')}, ?3
         FROM json_each(?2) j WHERE true
         ON CONFLICT(connection_id, kind, wecom_id) DO UPDATE SET name = excluded.name, wecom_order = excluded.wecom_order,
           wecom_group_id = excluded.wecom_group_id, synced_at = excluded.synced_at, deleted_at = NULL`,
      )
      .bind(connectionId, tagsJson, now),
  ];

  // deleted in WeCom: holders lose the tag (ledger rows, source wecom), the tag retires, the mapping remembers
  const answered = new Set([...groupRows.map((g) => `group:${g.id}`), ...tagRows.map((t) => `tag:${t.id}`)]);
  const gone = [...active.values()].filter((m) => !answered.has(`${m.kind}:${m.wecom_id}`));
  for (const m of gone.filter((g) => g.kind === 'tag')) {
    out.push(
      ...tagSetStatements(
        db,
        { sql: 'SELECT contact_id FROM contact_tags WHERE tag_id = ?', params: [m.segflow_id] },
        m.segflow_id,
        'remove',
        src,
      ),
    );
  }
  if (gone.length) {
    const goneTags = JSON.stringify(gone.filter((g) => g.kind === 'tag').map((g) => g.segflow_id));
    out.push(
      db
        .prepare(`UPDATE tags SET status = 'retired', retired_at = ? WHERE status = 'active' AND id IN (SELECT value FROM json_each(?))`)
        .bind(now, goneTags),
      db
        .prepare(
          `UPDATE wecom_tag_map SET deleted_at = ?1 WHERE connection_id = ?2 AND deleted_at IS NULL
           AND kind || ':' || wecom_id IN (SELECT value FROM json_each(?3))`,
        )
        .bind(now, connectionId, JSON.stringify(gone.map((g) => `${g.kind}:${g.wecom_id}`))),
    );
  }
  return { statements: out, counts: { tagGroups: groupRows.length, tags: tagRows.length } };
}

/** Search keys of tags the library created (their ids come from the batch): right after it; the cron keys whatever this misses. */
export async function keyNewTags(db: D1Database, connectionId: number, since: number): Promise<void> {
  const { results } = await db
    .prepare(
      `SELECT t.id, t.name FROM wecom_tag_map m JOIN tags t ON t.id = m.segflow_id
       WHERE m.connection_id = ? AND m.kind = 'tag' AND m.synced_at >= ? AND t.created_at >= ?
       AND t.id IN (SELECT ref_id FROM search_key_queue WHERE kind = 'tag')`,
    )
    .bind(connectionId, since, since)
    .all<{ id: number; name: string }>();
  await keyCreated(db, 'tag', results);
}

/**
 * Where each WeCom group lands: a mapped one where it is (`sid`); a new one adopts a Segflow group
 * of the same name only when that group is neither exclusive (WeCom lets a customer hold several
 * tags of a group), nor mirrored from another WeCom group, nor written by a published rule (an
 * adopted group is WeCom-owned, and the rule would fight the pull); otherwise it is created as
 * "name（企业微信）", or "name（企业微信 corp）" if that is taken too.
 */
async function placeNewGroups(
  db: D1Database,
  corpId: string,
  rows: { id: string; name: string; order: number }[],
  sidOf: (kind: 'group', id: string) => number | null,
): Promise<{ id: string; name: string; order: number; sid: number | null; sname: string }[]> {
  const fresh = rows.filter((r) => sidOf('group', r.id) === null);
  const candidates = (name: string) => [name, `${name}（企业微信）`, `${name}（企业微信 ${corpId}）`];
  const names = fresh.flatMap((r) => candidates(r.name));
  const { results } = names.length
    ? await db
        .prepare(
          `SELECT g.id, g.name, g.exclusive,
             EXISTS (SELECT 1 FROM wecom_tag_map m WHERE m.kind = 'group' AND m.segflow_id = g.id AND m.deleted_at IS NULL) AS mapped,
             EXISTS (${rulesWritingGroup('g.id')}) AS written
           FROM tag_groups g WHERE g.name IN (SELECT value FROM json_each(?))`,
        )
        .bind(JSON.stringify(names))
        .all<{ id: number; name: string; exclusive: number; mapped: number; written: number }>()
    : { results: [] };
  const byName = new Map(results.map((g) => [g.name, g]));
  const taken = new Set(byName.keys());
  return rows.map((r) => {
    const sid = sidOf('group', r.id);
    if (sid !== null) return { ...r, sid, sname: r.name };
    const same = byName.get(r.name);
    if (same && !same.exclusive && !same.mapped && !same.written) {
      // adopted: marked mapped for a second WeCom group of the same name in this answer
      byName.set(r.name, { ...same, mapped: 1 });
      return { ...r, sid: same.id, sname: r.name };
    }
    const sname = candidates(r.name).find((n) => !taken.has(n)) ?? `${r.name}（企业微信 ${corpId} ${r.id}）`;
    taken.add(sname);
    return { ...r, sid: null, sname: sname.slice(0, 100) };
  });
}

export async function corpIdOf(db: D1Database, connectionId: number): Promise<string> {
  return (await db.prepare('SELECT corp_id FROM wecom_connections WHERE id = ?').bind(connectionId).first<string>('corp_id')) ?? '';
}
