/**
 * The WeCom server APIs the simulator serves, each after its page on developer.work.weixin.qq.com:
 * - 「获取配置了客户联系功能的成员列表」 path/92571: externalcontact/get_follow_user_list
 * - 「获取客户列表」 path/92113: externalcontact/list
 * - 「获取客户详情」 path/92114: externalcontact/get
 * - 「批量获取客户详情」 path/92994: externalcontact/batch/get_by_user
 * - 「管理企业标签」 path/92117: externalcontact/get_corp_tag_list, add_corp_tag, edit_corp_tag, del_corp_tag
 * - 「编辑客户企业标签」 path/92118: externalcontact/mark_tag
 * - 「获取客户群列表」 path/92120 and 「获取客户群详情」 path/92122: externalcontact/groupchat/list, groupchat/get
 * - 「发送应用消息」 path/90236: message/send (text)
 * Errcodes are those of 「全局错误码」 path/90313. Where the documentation names no errcode for a
 * case, the comment says which code was chosen and why.
 *
 * Per the 客户联系 event page (path/92130), 通过API进行的操作不会产生回调: nothing here emits a
 * callback; WeCom-side changes do (changes.ts).
 */
import { type ApiCall, ApiError, type RegisterApi, type WecomSimCore } from './app';
import { opaqueId, rng } from './seed';
import { type AppKey, type Corp, type CorpTag, firstAfter, type Relation, relationKey, relationsOf, type TagGroup } from './state';

export function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);

/** A new WeCom-looking id, deterministic per corp (the corp's id sequence). */
export function newId(corp: Corp, prefix: string): string {
  return opaqueId(prefix, rng(`${corp.corpid}:${++corp.seq}`));
}

/** 「管理企业标签」: 应用仅能编辑和删除本应用创建的标签 (301002 otherwise: 无权限操作指定的应用). */
export function mayManage(corp: Corp, app: AppKey, item: { createdBy: string }): boolean {
  if (app === 'contact' && corp.contactSecretEditsAllTags) return true;
  return item.createdBy === app;
}

const byOrder = <T extends { order: number; create_time: number }>(a: T, b: T) => b.order - a.order || a.create_time - b.create_time;

function tagOut(t: CorpTag, withDeleted: boolean) {
  return { id: t.id, name: t.name, create_time: t.create_time, order: t.order, ...(withDeleted ? { deleted: t.deleted } : {}) };
}
function groupOut(g: TagGroup, tags: CorpTag[], withDeleted: boolean) {
  return {
    group_id: g.group_id,
    group_name: g.group_name,
    create_time: g.create_time,
    order: g.order,
    ...(withDeleted ? { deleted: g.deleted } : {}),
    tag: tags.sort(byOrder).map((t) => tagOut(t, withDeleted)),
  };
}

export function tagsOfGroup(corp: Corp, groupId: string, includeDeleted = false): CorpTag[] {
  return [...corp.tags.values()].filter((t) => t.group_id === groupId && (includeDeleted || !t.deleted));
}

/** The follow_user entry of 「获取客户详情」 for one relation. */
export function followUserOut(corp: Corp, r: Relation) {
  return {
    userid: r.userid,
    remark: r.remark,
    description: r.description,
    createtime: r.createtime,
    tags: r.tagIds.flatMap((id) => {
      const t = corp.tags.get(id);
      const g = t && corp.tagGroups.get(t.group_id);
      return t && g && !t.deleted ? [{ group_name: g.group_name, tag_name: t.name, tag_id: t.id, type: 1 }] : [];
    }),
    ...(r.remark_corp_name ? { remark_corp_name: r.remark_corp_name } : {}),
    remark_mobiles: r.remark_mobiles,
    oper_userid: r.oper_userid,
    add_way: r.add_way,
    ...(r.state ? { state: r.state } : {}),
  };
}

/** The external_contact object of 「获取客户详情」 / 「批量获取客户详情」. */
export function externalContactOut(corp: Corp, externalUserid: string) {
  const x = corp.contacts.get(externalUserid)!;
  return {
    external_userid: x.external_userid,
    name: x.name,
    type: x.type,
    avatar: x.avatar,
    gender: x.gender,
    ...(x.unionid ? { unionid: x.unionid } : {}),
    ...(x.type === 2 ? { position: x.position ?? '', corp_name: x.corp_name ?? '', corp_full_name: x.corp_full_name ?? '' } : {}),
  };
}

/** Cursors are opaque to callers: a version, the corp and the last sequence number served. */
function encodeCursor(corp: Corp, kind: string, seq: number): string {
  return btoa(`${kind}:${corp.corpid}:${seq}`).replaceAll('=', '');
}
function decodeCursor(corp: Corp, kind: string, cursor: string): number {
  if (!cursor) return 0;
  let text: string;
  try {
    text = atob(cursor);
  } catch {
    throw new ApiError(50100);
  }
  const [k, corpid, seq] = text.split(':');
  const n = Number(seq);
  // 「全局错误码」 50100: 分页查询的游标无效
  if (k !== kind || corpid !== corp.corpid || !Number.isInteger(n) || n < 0) throw new ApiError(50100);
  return n;
}

export function registerWecomApis(api: RegisterApi, core: WecomSimCore): void {
  // Long on purpose: WeCom's route table, one short handler per endpoint in the order of WeCom's docs; splitting it would scatter the table.
  // 「获取配置了客户联系功能的成员列表」 GET externalcontact/get_follow_user_list
  api('GET', 'externalcontact/get_follow_user_list', ({ corp }) => ({ follow_user: [...corp.followUsers.keys()] }), {
    needs: 'contact',
    emptyOnError: { follow_user: [] },
  });

  // 「获取客户列表」 GET externalcontact/list?userid=: every customer of one member, not paged.
  api(
    'GET',
    'externalcontact/list',
    ({ corp, query }) => {
      const userid = query.get('userid') ?? '';
      if (!userid) throw new ApiError(41009);
      if (!corp.followUsers.has(userid)) throw new ApiError(40003);
      const list = corp.relationsByUser.get(userid) ?? [];
      // a member without customers answers 84061 "not external contact", as WeCom does (seen in binarywang/WxJava#1528)
      if (list.length === 0) throw new ApiError(84061);
      return { external_userid: list.map((r) => r.external_userid) };
    },
    { needs: 'contact', emptyOnError: { external_userid: [] } },
  );

  // 「获取客户详情」 GET externalcontact/get?external_userid=&cursor=: follow_user paged by 500.
  api(
    'GET',
    'externalcontact/get',
    ({ corp, query }) => {
      const ext = query.get('external_userid') ?? '';
      if (!ext) throw new ApiError(41035);
      const rels = relationsOf(corp, ext);
      if (!corp.contacts.has(ext) || rels.length === 0) throw new ApiError(84061);
      const from = decodeCursor(corp, 'get', query.get('cursor') ?? '');
      const page = rels.slice(from, from + 500);
      const next = from + 500 < rels.length ? encodeCursor(corp, 'get', from + 500) : '';
      return { external_contact: externalContactOut(corp, ext), follow_user: page.map((r) => followUserOut(corp, r)), next_cursor: next };
    },
    { needs: 'contact' },
  );

  // 「批量获取客户详情」 POST externalcontact/batch/get_by_user {userid_list ≤100, cursor, limit ≤100 (default 50)}
  api(
    'POST',
    'externalcontact/batch/get_by_user',
    ({ corp, body }) => {
      const userids = strings(body.userid_list);
      if (userids.length === 0 || userids.length > 100) throw new ApiError(40058, 'userid_list must hold 1 to 100 userids');
      for (const u of userids) if (!corp.followUsers.has(u)) throw new ApiError(40003, u);
      const limit = Math.min(100, Math.max(1, int(body.limit) ?? 50));
      const after = decodeCursor(corp, 'batch', str(body.cursor));
      // Each member's relations are in seq order: merge them by seq from just after the cursor.
      const lists = [...new Set(userids)].map((u) => corp.relationsByUser.get(u) ?? []);
      const at = lists.map((l) => firstAfter(l, after));
      const page: Relation[] = [];
      let more = false;
      for (;;) {
        let best = -1;
        for (let i = 0; i < lists.length; i++) {
          const r = lists[i]![at[i]!];
          if (r && (best < 0 || r.seq < lists[best]![at[best]!]!.seq)) best = i;
        }
        if (best < 0) break;
        if (page.length === limit) {
          more = true;
          break;
        }
        page.push(lists[best]![at[best]!]!);
        at[best]!++;
      }
      return {
        external_contact_list: page.map((r) => {
          const f = followUserOut(corp, r);
          return {
            external_contact: externalContactOut(corp, r.external_userid),
            follow_info: {
              userid: f.userid,
              remark: f.remark,
              description: f.description,
              createtime: f.createtime,
              tag_id: f.tags.map((t) => t.tag_id),
              ...(f.remark_corp_name ? { remark_corp_name: f.remark_corp_name } : {}),
              remark_mobiles: f.remark_mobiles,
              oper_userid: f.oper_userid,
              add_way: f.add_way,
              ...(f.state ? { state: f.state } : {}),
            },
          };
        }),
        next_cursor: more && page.length ? encodeCursor(corp, 'batch', page[page.length - 1]!.seq) : '',
      };
    },
    { needs: 'contact' },
  );

  // 「管理企业标签 · 获取企业标签库」 POST externalcontact/get_corp_tag_list {tag_id?, group_id?}
  // group_id wins over tag_id; `deleted` is only answered (deleted ones included) when asked by tag_id.
  api(
    'POST',
    'externalcontact/get_corp_tag_list',
    ({ corp, body }) => {
      const tagIds = strings(body.tag_id);
      const groupIds = strings(body.group_id);
      if (groupIds.length) {
        const groups = groupIds.map((id) => corp.tagGroups.get(id)).filter((g): g is TagGroup => !!g && !g.deleted);
        return { tag_group: groups.sort(byOrder).map((g) => groupOut(g, tagsOfGroup(corp, g.group_id), false)) };
      }
      if (tagIds.length) {
        const byGroup = new Map<string, CorpTag[]>();
        for (const id of new Set(tagIds)) {
          const t = corp.tags.get(id);
          if (!t) continue;
          let l = byGroup.get(t.group_id);
          if (!l) byGroup.set(t.group_id, (l = []));
          l.push(t);
        }
        const groups = [...byGroup.keys()].map((id) => corp.tagGroups.get(id)!).sort(byOrder);
        return { tag_group: groups.map((g) => groupOut(g, byGroup.get(g.group_id)!, true)) };
      }
      const groups = [...corp.tagGroups.values()].filter((g) => !g.deleted).sort(byOrder);
      return { tag_group: groups.map((g) => groupOut(g, tagsOfGroup(corp, g.group_id), false)) };
    },
    { needs: 'contact' },
  );

  // 「管理企业标签 · 添加企业客户标签」 POST externalcontact/add_corp_tag {group_id | group_name, order, tag: [{name, order}]}
  // group_id given: group_name and the group order are ignored; an existing group_name gets the new tags;
  // 不支持创建空标签组; 同组同名只建一个; at most maxCorpTags (10,000) corp tags per company.
  api(
    'POST',
    'externalcontact/add_corp_tag',
    ({ corp, app, body, now }) => ({ tag_group: addCorpTags(core, corp, app, body, now).tag_group }),
    { needs: 'contact' },
  );

  // 「管理企业标签 · 编辑企业客户标签」 POST externalcontact/edit_corp_tag {id, name?, order?}
  api(
    'POST',
    'externalcontact/edit_corp_tag',
    ({ corp, app, body }) => {
      editCorpTag(corp, app, body);
      return {};
    },
    { needs: 'contact' },
  );

  // 「管理企业标签 · 删除企业客户标签」 POST externalcontact/del_corp_tag {tag_id?, group_id?}
  api(
    'POST',
    'externalcontact/del_corp_tag',
    ({ corp, app, body }) => {
      delCorpTags(corp, app, body);
      return {};
    },
    { needs: 'contact' },
  );

  // 「编辑客户企业标签」 POST externalcontact/mark_tag {userid, external_userid, add_tag?, remove_tag?}
  const marking = new Set<string>();
  api(
    'POST',
    'externalcontact/mark_tag',
    async (call) => {
      const key = `${call.corp.corpid}|${str(call.body.userid)}|${str(call.body.external_userid)}`;
      // Concurrent marks of the same member and customer conflict (45035), as WeCom documents.
      if (marking.has(key)) throw new ApiError(45035);
      marking.add(key);
      try {
        const { latencyMs } = core.limitsOf(call.corp);
        if (latencyMs) await new Promise((r) => setTimeout(r, latencyMs));
        markTag(call);
        return {};
      } finally {
        marking.delete(key);
      }
    },
    { needs: 'contact', handlesLatency: true },
  );

  // 「获取客户群列表」 POST externalcontact/groupchat/list {status_filter, owner_filter: {userid_list}, cursor, limit 1..1000}
  api(
    'POST',
    'externalcontact/groupchat/list',
    ({ corp, body }) => {
      const limit = int(body.limit);
      if (limit == null || limit < 1 || limit > 1000) throw new ApiError(40058, 'limit must be 1 to 1000');
      const status = int(body.status_filter) ?? 0;
      const owners = strings((body.owner_filter as Record<string, unknown> | undefined)?.userid_list);
      if (owners.length > 100) throw new ApiError(40058, 'owner_filter.userid_list holds at most 100 userids');
      const after = decodeCursor(corp, 'chats', str(body.cursor));
      const chats = [...corp.chats.values()]
        .filter((g) => g.seq > after && (status === 0 || g.status === status) && (owners.length === 0 || owners.includes(g.owner)))
        .sort((a, b) => a.seq - b.seq);
      const page = chats.slice(0, limit);
      return {
        group_chat_list: page.map((g) => ({ chat_id: g.chat_id, status: g.status })),
        next_cursor: chats.length > limit ? encodeCursor(corp, 'chats', page[page.length - 1]!.seq) : '',
      };
    },
    { needs: 'contact' },
  );

  // 「获取客户群详情」 POST externalcontact/groupchat/get {chat_id, need_name}
  api(
    'POST',
    'externalcontact/groupchat/get',
    ({ corp, body }) => {
      const chatId = str(body.chat_id);
      if (!chatId) throw new ApiError(86201);
      const g = corp.chats.get(chatId);
      // 「全局错误码」 names 40050 (chatid不存在) for an unknown chat id
      if (!g) throw new ApiError(40050);
      const needName = int(body.need_name) === 1;
      return {
        group_chat: {
          chat_id: g.chat_id,
          name: g.name,
          owner: g.owner,
          create_time: g.create_time,
          notice: g.notice,
          member_list: g.member_list.map((m) => ({
            userid: m.userid,
            type: m.type,
            join_time: m.join_time,
            join_scene: m.join_scene,
            ...(m.invitor ? { invitor: m.invitor } : {}),
            group_nickname: m.group_nickname,
            ...(needName ? { name: m.name } : {}),
            ...(m.unionid ? { unionid: m.unionid } : {}),
          })),
          admin_list: g.admin_list,
          member_version: memberVersion(g.memberVersion),
        },
      };
    },
    { needs: 'contact' },
  );

  // 「发送应用消息」 POST message/send {touser, msgtype, agentid, text: {content}}: 发消息频率不计入基础频率;
  // 「访问频率限制」 (path/90454, 2023/08/28): 每应用对同一个成员不可超过30次/分钟，1000次/小时，超过部分会被丢弃不下发
  // (dropped, not refused), in sliding windows here.
  const perMember = new Map<string, number[]>();
  api(
    'POST',
    'message/send',
    ({ corp, app, body, now }) => {
      const agentid = int(body.agentid) ?? Number(str(body.agentid) || NaN);
      if (!Number.isFinite(agentid)) throw new ApiError(41011);
      if (!corp.agents.some((a) => a.agentid === agentid)) throw new ApiError(40056);
      // 「全局错误码」 301002: the token must be the app's own (发消息接口指定了参数 agentid 但 access_token 是另一个应用的)
      if (app !== `agent:${agentid}`) throw new ApiError(301002);
      const msgtype = str(body.msgtype);
      if (!msgtype) throw new ApiError(40008);
      const content = str((body.text as Record<string, unknown> | undefined)?.content);
      if (msgtype === 'text' && !content) throw new ApiError(44004);
      const touser = str(body.touser);
      const wanted = touser === '@all' ? [...corp.followUsers.keys()] : touser.split('|').filter(Boolean);
      const valid = wanted.filter((u) => corp.followUsers.has(u));
      const invalid = wanted.filter((u) => !corp.followUsers.has(u));
      if (valid.length === 0) throw new ApiError(81013);
      for (const u of valid) {
        const key = `${corp.corpid}|${agentid}|${u}`;
        const recent = (perMember.get(key) ?? []).filter((t) => t > now - 3_600_000);
        const dropped = recent.length >= 1000 || recent.filter((t) => t > now - 60_000).length >= 30;
        if (!dropped) recent.push(now);
        perMember.set(key, recent);
        corp.messages.push({ at: now, agentid, touser: u, msgtype, content, dropped });
      }
      return {
        invaliduser: invalid.join('|'),
        invalidparty: '',
        invalidtag: '',
        unlicenseduser: '',
        msgid: newId(corp, 'msg'),
        response_code: '',
      };
    },
    { needs: 'agent', unmetered: true },
  );
}

export function memberVersion(n: number): string {
  return n.toString(16).padStart(32, '0');
}

export function addCorpTags(core: WecomSimCore, corp: Corp, creator: AppKey | 'admin', body: Record<string, unknown>, now: number) {
  const items = Array.isArray(body.tag) ? (body.tag as Record<string, unknown>[]) : [];
  // 「管理企业标签」: 暂不支持创建空标签组
  if (items.length === 0) throw new ApiError(40058, 'tag must name at least one tag');
  for (const t of items) {
    const name = str(t?.name);
    if (!name || [...name].length > 30) throw new ApiError(40058, 'a tag name must be 1 to 30 characters');
  }
  const seconds = Math.floor(now / 1000);
  const groupId = str(body.group_id);
  let group: TagGroup | undefined;
  let created = false;
  if (groupId) {
    group = corp.tagGroups.get(groupId);
    if (!group || group.deleted) throw new ApiError(40068, `no tag group ${groupId}`);
  } else {
    const groupName = str(body.group_name);
    if (!groupName || [...groupName].length > 30) throw new ApiError(40058, 'group_id or a group_name of 1 to 30 characters is required');
    group = [...corp.tagGroups.values()].find((g) => !g.deleted && g.group_name === groupName);
    if (!group) {
      group = {
        group_id: newId(corp, 'et'),
        group_name: groupName,
        create_time: seconds,
        order: int(body.order) ?? 0,
        deleted: false,
        createdBy: creator,
      };
      created = true;
    }
  }
  const existing = new Map(tagsOfGroup(corp, group.group_id).map((t) => [t.name, t]));
  const out: CorpTag[] = [];
  const fresh: CorpTag[] = [];
  for (const t of items) {
    const name = str(t.name);
    // 同组同名只建一个: the existing tag is answered
    const have = existing.get(name);
    if (have) {
      if (!out.includes(have)) out.push(have);
      continue;
    }
    const tag: CorpTag = {
      id: newId(corp, 'et'),
      group_id: group.group_id,
      name,
      create_time: seconds,
      order: int(t.order) ?? 0,
      deleted: false,
      createdBy: creator,
    };
    existing.set(name, tag);
    fresh.push(tag);
    out.push(tag);
  }
  const active = [...corp.tags.values()].filter((t) => !t.deleted).length;
  // 10,000 corp tags per company; 「全局错误码」 40126 is 企业标签个数达到上限
  if (active + fresh.length > core.settings.maxCorpTags) throw new ApiError(40126, `at most ${core.settings.maxCorpTags} corp tags`);
  if (created) corp.tagGroups.set(group.group_id, group);
  for (const t of fresh) corp.tags.set(t.id, t);
  return { tag_group: groupOut(group, out, false), created: { group: created ? group : null, tags: fresh } };
}

export function editCorpTag(corp: Corp, actor: AppKey | 'admin', body: Record<string, unknown>): CorpTag | TagGroup {
  const id = str(body.id);
  if (!id) throw new ApiError(40068, 'id is required');
  const name = str(body.name);
  const order = int(body.order);
  if (name && [...name].length > 30) throw new ApiError(40058, 'a name must be at most 30 characters');
  const tag = corp.tags.get(id);
  const group = corp.tagGroups.get(id);
  const item = tag && !tag.deleted ? tag : group && !group.deleted ? group : undefined;
  if (!item) throw new ApiError(40068, `no tag or tag group ${id}`);
  if (actor !== 'admin' && !mayManage(corp, actor, item)) throw new ApiError(301002, 'an app may only edit the corp tags it created');
  if ('group_name' in item) {
    if (name && [...corp.tagGroups.values()].some((g) => !g.deleted && g !== item && g.group_name === name))
      throw new ApiError(40071, `a tag group named ${name} exists`);
    if (name) item.group_name = name;
  } else {
    if (name && tagsOfGroup(corp, item.group_id).some((t) => t !== item && t.name === name))
      throw new ApiError(40071, `the group has a tag named ${name}`);
    if (name) item.name = name;
  }
  if (order != null) item.order = order;
  return item;
}

export function delCorpTags(corp: Corp, actor: AppKey | 'admin', body: Record<string, unknown>) {
  const tagIds = strings(body.tag_id);
  const groupIds = strings(body.group_id);
  if (tagIds.length === 0 && groupIds.length === 0) throw new ApiError(40058, 'tag_id and group_id may not both be empty');
  const tags = tagIds.map((id) => {
    const t = corp.tags.get(id);
    if (!t || t.deleted) throw new ApiError(40068, `no tag ${id}`);
    return t;
  });
  const groups = groupIds.map((id) => {
    const g = corp.tagGroups.get(id);
    if (!g || g.deleted) throw new ApiError(40068, `no tag group ${id}`);
    return g;
  });
  if (actor !== 'admin') {
    for (const x of [...tags, ...groups])
      if (!mayManage(corp, actor, x)) throw new ApiError(301002, 'an app may only delete the corp tags it created');
    // deleting a group deletes its tags: every one of them must be the app's too
    for (const g of groups)
      for (const t of tagsOfGroup(corp, g.group_id))
        if (!mayManage(corp, actor, t)) throw new ApiError(301002, `group ${g.group_id} holds tags the app did not create`);
  }
  const deletedTags = new Set<CorpTag>(tags);
  for (const g of groups) for (const t of tagsOfGroup(corp, g.group_id)) deletedTags.add(t);
  for (const t of deletedTags) t.deleted = true;
  const deletedGroups = new Set<TagGroup>(groups);
  // 组内标签全删则组自动删除
  for (const t of deletedTags) {
    const g = corp.tagGroups.get(t.group_id);
    if (g && tagsOfGroup(corp, g.group_id).length === 0) deletedGroups.add(g);
  }
  for (const g of deletedGroups) g.deleted = true;
  // a deleted corp tag leaves every customer that held it
  const gone = new Set([...deletedTags].map((t) => t.id));
  for (const r of corp.relations.values()) if (r.tagIds.some((id) => gone.has(id))) r.tagIds = r.tagIds.filter((id) => !gone.has(id));
  return { tags: [...deletedTags], groups: [...deletedGroups] };
}

/** mark_tag's rules, shared by the API and the admin's edit in WeCom (changes.ts). */
export function applyMarkTag(corp: Corp, body: Record<string, unknown>): { relation: Relation; added: string[]; removed: string[] } {
  const userid = str(body.userid);
  const ext = str(body.external_userid);
  if (!userid) throw new ApiError(41009);
  if (!ext) throw new ApiError(41035);
  if (!corp.followUsers.has(userid)) throw new ApiError(40003, userid);
  if (!corp.contacts.has(ext)) throw new ApiError(40096, ext);
  const rel = corp.relations.get(relationKey(userid, ext));
  // 「全局错误码」 84061: 不存在外部联系人的关系 (the member never added, or deleted, this customer)
  if (!rel) throw new ApiError(84061);
  const add = strings(body.add_tag);
  const remove = strings(body.remove_tag);
  if (add.length === 0 && remove.length === 0) throw new ApiError(40058, 'add_tag and remove_tag may not both be empty');
  for (const id of [...add, ...remove]) {
    const t = corp.tags.get(id);
    if (!t || t.deleted) throw new ApiError(40068, id);
  }
  const have = new Set(rel.tagIds);
  const added = add.filter((id) => !have.has(id) && !remove.includes(id));
  const removed = remove.filter((id) => have.has(id));
  // 每个成员对同一客户最多 3000 个标签 (not reachable with a 10,000-tag library in practice; refused as a bad parameter)
  if (rel.tagIds.length + added.length - removed.length > 3000) throw new ApiError(40058, 'at most 3000 tags per member and customer');
  rel.tagIds = [...rel.tagIds.filter((id) => !removed.includes(id)), ...new Set(added)];
  return { relation: rel, added, removed };
}

function markTag({ corp, body }: ApiCall) {
  const { relation } = applyMarkTag(corp, body);
  relation.marks = (relation.marks ?? 0) + 1;
}
