/**
 * The mirror: every tag group marked "sync to WeCom" (`tag_groups.wecom_sync`) exists in a
 * connected corp's tag library, each active tag of it as a corp tag (names: mapping.ts), mapped
 * in `wecom_tag_map` with who created it (`origin`: `segflow` for what our add_corp_tag created,
 * so only those are ever edited or deleted: 301002 otherwise).
 *
 * Idempotent and restartable: the library is read first, mapped tags are never asked for again,
 * and a tag WeCom already holds under the same name in the same group is adopted (origin `wecom`:
 * we cannot tell whether we created it before a crash, and never editing it is the safe side)
 * rather than created. One add_corp_tag per group, its mapping written right after in one batch.
 * WeCom's 10,000 corp tags per company are checked before creating anything.
 */
import { WecomClient } from '../client';
import type { WecomTagGroupIn } from '../sync/library';
import { WECOM_MAX_CORP_TAGS, tagPath, wecomGroupName, wecomTagName, type TagRow } from './mapping';

export interface MirrorSkip {
  kind: 'group' | 'tag';
  segflowId: number;
  name: string;
  /** longer than WeCom's 30 characters; or a WeCom group of that name mirrors another Segflow group */
  reason: 'name_too_long' | 'name_taken';
}

export type MirrorResult =
  | {
      status: 'ok';
      /** synced groups looked at */
      groups: number;
      createdGroups: number;
      createdTags: number;
      /** unmapped Segflow tags or groups found in WeCom under their name and mapped */
      adopted: number;
      skipped: MirrorSkip[];
      /** Segflow tags mapped by this run (created or adopted): their holders need a first push */
      mappedTagIds: number[];
      /** corp tags in the company after the mirror */
      wecomTags: number;
    }
  | { status: 'limit'; wecomTags: number; toCreate: number; limit: number };

interface MapRow {
  kind: 'group' | 'tag';
  wecom_id: string;
  segflow_id: number;
}

interface Plan {
  groupId: number;
  groupName: string;
  /** the WeCom group: mapped, or found by name; null = add_corp_tag creates it */
  wecomGroupId: string | null;
  groupMapped: boolean;
  adopt: { tagId: number; wecomId: string; name: string }[];
  create: { tagId: number; name: string }[];
}

const ADD_CORP_TAG = '/cgi-bin/externalcontact/add_corp_tag';

export async function mirrorConnection(env: Env, connectionId: number, now = Date.now()): Promise<MirrorResult> {
  const db = env.DB;
  const client = new WecomClient(env, connectionId, 'contact');
  const [{ results: groups }, { results: tags }, { results: mapped }] = await Promise.all([
    db.prepare('SELECT id, name FROM tag_groups WHERE wecom_sync = 1 ORDER BY sort_order, id').all<{ id: number; name: string }>(),
    db
      .prepare(
        `SELECT t.id, t.group_id AS groupId, t.parent_id AS parentId, t.name, t.status FROM tags t
         JOIN tag_groups g ON g.id = t.group_id WHERE g.wecom_sync = 1 ORDER BY t.level, t.id`,
      )
      .all<TagRow & { groupId: number; status: string }>(),
    db
      .prepare('SELECT kind, wecom_id, segflow_id FROM wecom_tag_map WHERE connection_id = ? AND deleted_at IS NULL')
      .bind(connectionId)
      .all<MapRow>(),
  ]);
  const library = (await client.post<{ tag_group?: WecomTagGroupIn[] }>('/cgi-bin/externalcontact/get_corp_tag_list', {})).tag_group ?? [];
  const wecomTagsBefore = library.reduce((n, g) => n + (g.tag?.length ?? 0), 0);

  const mappedGroup = new Map(mapped.filter((m) => m.kind === 'group').map((m) => [m.segflow_id, m.wecom_id]));
  const mappedWecomGroups = new Set(mappedGroup.values());
  const mappedTags = new Set(mapped.filter((m) => m.kind === 'tag').map((m) => m.segflow_id));
  const tagById = new Map(tags.map((t) => [t.id, t]));
  const skipped: MirrorSkip[] = [];
  const plans: Plan[] = [];
  for (const g of groups) {
    const groupName = wecomGroupName(g.name);
    if (groupName === null) {
      skipped.push({ kind: 'group', segflowId: g.id, name: g.name, reason: 'name_too_long' });
      continue;
    }
    const mappedId = mappedGroup.get(g.id) ?? null;
    const inWecom = library.find((w) => (mappedId ? w.group_id === mappedId : w.group_name === groupName));
    if (!mappedId && inWecom && mappedWecomGroups.has(inWecom.group_id)) {
      skipped.push({ kind: 'group', segflowId: g.id, name: g.name, reason: 'name_taken' });
      continue;
    }
    const wecomByName = new Map((inWecom?.tag ?? []).map((t) => [t.name, t.id]));
    const plan: Plan = {
      groupId: g.id,
      groupName,
      wecomGroupId: inWecom?.group_id ?? null,
      groupMapped: mappedId !== null,
      adopt: [],
      create: [],
    };
    for (const t of tags) {
      if (t.groupId !== g.id || t.status !== 'active' || mappedTags.has(t.id)) continue;
      const name = wecomTagName(tagPath(t, tagById));
      if (name === null) {
        skipped.push({ kind: 'tag', segflowId: t.id, name: tagPath(t, tagById).join('/'), reason: 'name_too_long' });
        continue;
      }
      const have = wecomByName.get(name);
      if (have) plan.adopt.push({ tagId: t.id, wecomId: have, name });
      else plan.create.push({ tagId: t.id, name });
    }
    plans.push(plan);
  }

  const toCreate = plans.reduce((n, p) => n + p.create.length, 0);
  if (wecomTagsBefore + toCreate > WECOM_MAX_CORP_TAGS) {
    await recordState(db, connectionId, { createdTags: 0, wecomTags: wecomTagsBefore }, now);
    return { status: 'limit', wecomTags: wecomTagsBefore, toCreate, limit: WECOM_MAX_CORP_TAGS };
  }

  let createdGroups = 0;
  let createdTags = 0;
  let adopted = 0;
  const mappedTagIds: number[] = [];
  for (const p of plans) {
    let wecomGroupId = p.wecomGroupId;
    let groupOrigin: 'segflow' | 'wecom' = 'wecom';
    const rows: { kind: 'group' | 'tag'; wecomId: string; segflowId: number; name: string; origin: 'segflow' | 'wecom' }[] = [];
    if (p.create.length) {
      const body = wecomGroupId
        ? { group_id: wecomGroupId, tag: p.create.map((c) => ({ name: c.name })) }
        : { group_name: p.groupName, tag: p.create.map((c) => ({ name: c.name })) };
      const answer = await client.post<{ tag_group: WecomTagGroupIn }>(ADD_CORP_TAG, body);
      if (!wecomGroupId) {
        groupOrigin = 'segflow';
        createdGroups++;
      }
      wecomGroupId = answer.tag_group.group_id;
      const idByName = new Map((answer.tag_group.tag ?? []).map((t) => [t.name, t.id]));
      for (const c of p.create) {
        const id = idByName.get(c.name);
        if (!id) continue; // not answered: the next mirror sees it in the library, or asks again
        rows.push({ kind: 'tag', wecomId: id, segflowId: c.tagId, name: c.name, origin: 'segflow' });
        createdTags++;
      }
    }
    if (!wecomGroupId) continue; // nothing to create and no WeCom group yet: WeCom has no empty groups
    if (!p.groupMapped) {
      rows.push({ kind: 'group', wecomId: wecomGroupId, segflowId: p.groupId, name: p.groupName, origin: groupOrigin });
      if (groupOrigin === 'wecom') adopted++;
    }
    for (const a of p.adopt) rows.push({ kind: 'tag', wecomId: a.wecomId, segflowId: a.tagId, name: a.name, origin: 'wecom' });
    adopted += p.adopt.length;
    if (rows.length) await writeMap(db, connectionId, wecomGroupId, rows, now);
    mappedTagIds.push(...rows.filter((r) => r.kind === 'tag').map((r) => r.segflowId));
  }
  const wecomTags = wecomTagsBefore + createdTags;
  await recordState(db, connectionId, { createdTags, wecomTags }, now);
  return { status: 'ok', groups: groups.length, createdGroups, createdTags, adopted, skipped, mappedTagIds, wecomTags };
}

async function writeMap(
  db: D1Database,
  connectionId: number,
  wecomGroupId: string,
  rows: { kind: 'group' | 'tag'; wecomId: string; segflowId: number; name: string; origin: 'segflow' | 'wecom' }[],
  now: number,
): Promise<void> {
  await db
    .prepare(
      `INSERT INTO wecom_tag_map (connection_id, kind, wecom_id, segflow_id, wecom_group_id, name, origin, synced_at)
       SELECT ?1, json_extract(j.value, '$.kind'), json_extract(j.value, '$.wecomId'), json_extract(j.value, '$.segflowId'),
         CASE json_extract(j.value, '$.kind') WHEN 'tag' THEN ?2 END, json_extract(j.value, '$.name'),
         json_extract(j.value, '$.origin'), ?3
       FROM json_each(?4) j WHERE true
       ON CONFLICT(connection_id, kind, wecom_id) DO UPDATE SET segflow_id = excluded.segflow_id, name = excluded.name,
         wecom_group_id = excluded.wecom_group_id, synced_at = excluded.synced_at, deleted_at = NULL`,
    )
    .bind(connectionId, wecomGroupId, now, JSON.stringify(rows))
    .run();
}

async function recordState(
  db: D1Database,
  connectionId: number,
  r: { createdTags: number; wecomTags: number },
  now: number,
): Promise<void> {
  await db
    .prepare(
      `INSERT INTO wecom_push_state (connection_id, created_tags, mirrored_at, wecom_tag_count, updated_at) VALUES (?1, ?2, ?3, ?4, ?3)
       ON CONFLICT(connection_id) DO UPDATE SET created_tags = created_tags + excluded.created_tags, mirrored_at = excluded.mirrored_at,
         wecom_tag_count = excluded.wecom_tag_count, updated_at = excluded.updated_at`,
    )
    .bind(connectionId, r.createdTags, now, r.wecomTags)
    .run();
}
