/**
 * Changes made on WeCom's side by people (an admin in the console, a member in the app, a
 * customer), each with the callback WeCom sends for it, per 「客户联系 · 事件」 (path/92130):
 * - change_external_contact: add_external_contact (UserID, ExternalUserID, State, WelcomeCode),
 *   edit_external_contact (a member changed the remark or the tags), del_external_contact (the
 *   member deleted the customer), del_follow_user (the customer deleted the member);
 * - change_external_tag: create / update / delete (Id, TagType tag | tag_group), shuffle (Id:
 *   the group whose tags were reordered, empty when the groups themselves were);
 * - change_external_chat: create, update (UpdateDetail add_member / del_member / change_name /
 *   change_owner / change_notice, JoinScene, QuitScene, MemChangeCnt, MemChangeList, LastMemVer,
 *   CurMemVer), dismiss.
 * Every event carries ToUserName (the corp id), FromUserName `sys`, CreateTime, MsgType `event`.
 */
import { ApiError, SimError, type WecomSimCore } from './app';
import { addCorpTags, applyMarkTag, delCorpTags, editCorpTag, memberVersion, newId, strings } from './apis';
import { type CallbackFields, type PendingCallback } from './callbacks';
import { addRelation, type Corp, type GroupChatMember, relationKey, removeRelation } from './state';

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);

export const CHANGE_KINDS = [
  'mark-tag',
  'edit-remark',
  'add-contact',
  'del-contact',
  'del-follow-user',
  'create-tag',
  'edit-tag',
  'delete-tag',
  'shuffle-tags',
  'chat-create',
  'chat-join',
  'chat-leave',
  'chat-rename',
  'chat-dismiss',
] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

export interface ChangeResult {
  /** what changed, for the caller */
  result: Record<string, unknown>;
  /** the callbacks WeCom sends for it (null: the corp has no callback URL) */
  callbacks: (PendingCallback | null)[];
}

/** Runs a WeCom-side change on a corp and emits its callbacks. Errors are SimErrors (400/404). */
export async function applyChange(core: WecomSimCore, corp: Corp, kind: string, body: Record<string, unknown>): Promise<ChangeResult> {
  // Long on purpose: one switch over the human-side change kinds, each case a few lines and the callback it sends.
  const now = core.now(corp);
  const base = (fields: CallbackFields): CallbackFields => ({
    ToUserName: corp.corpid,
    FromUserName: 'sys',
    CreateTime: Math.floor(now / 1000),
    MsgType: 'event',
    ...fields,
  });
  const contactEvent = (changeType: string, userid: string, ext: string, extra: CallbackFields = {}) =>
    base({ Event: 'change_external_contact', ChangeType: changeType, UserID: userid, ExternalUserID: ext, ...extra });
  const tagEvent = (changeType: string, id: string, tagType?: 'tag' | 'tag_group') =>
    base({ Event: 'change_external_tag', Id: id, ...(tagType ? { TagType: tagType } : {}), ChangeType: changeType });
  const emitAll = (events: CallbackFields[]) => Promise.all(events.map((e) => core.emit(corp, e)));
  try {
    switch (kind as ChangeKind) {
      case 'mark-tag': {
        // a member (or an admin) edits the customer's tags in WeCom → edit_external_contact
        const { relation, added, removed } = applyMarkTag(corp, body);
        const callbacks = await emitAll([contactEvent('edit_external_contact', relation.userid, relation.external_userid)]);
        return { result: { tagIds: relation.tagIds, added, removed }, callbacks };
      }
      case 'edit-remark': {
        const rel = corp.relations.get(relationKey(str(body.userid), str(body.external_userid)));
        if (!rel) throw new SimError('no such relation', 404);
        if (typeof body.remark === 'string') rel.remark = body.remark;
        if (typeof body.description === 'string') rel.description = body.description;
        const callbacks = await emitAll([contactEvent('edit_external_contact', rel.userid, rel.external_userid)]);
        return { result: { remark: rel.remark, description: rel.description }, callbacks };
      }
      case 'add-contact': {
        // a customer adds a member (scanning a 「联系我」 code with a state, or otherwise) → add_external_contact
        const userid = str(body.userid);
        if (!corp.followUsers.has(userid)) throw new SimError(`no follow user ${userid}`);
        let ext = str(body.external_userid);
        if (!ext) ext = newId(corp, 'wm');
        if (!corp.contacts.has(ext)) {
          const name = str(body.name) || '新客户';
          corp.contacts.set(ext, {
            external_userid: ext,
            name,
            type: int(body.type) === 2 ? 2 : 1,
            avatar: `https://wework.qpic.cn/wwhead/sim-${ext.slice(2, 10)}/0`,
            gender: (int(body.gender) ?? 0) as 0 | 1 | 2,
          });
        }
        if (corp.relations.has(relationKey(userid, ext)) && !corp.relations.get(relationKey(userid, ext))!.deletedByCustomer)
          throw new SimError(`${userid} already has ${ext}`, 409);
        const state = str(body.state) || undefined;
        const tagIds = strings(body.tag_id);
        for (const id of tagIds) if (!corp.tags.get(id) || corp.tags.get(id)!.deleted) throw new SimError(`no tag ${id}`);
        addRelation(corp, {
          userid,
          external_userid: ext,
          remark: str(body.remark),
          description: '',
          createtime: Math.floor(now / 1000),
          tagIds,
          remark_mobiles: [],
          add_way: int(body.add_way) ?? (state ? 1 : 0),
          oper_userid: ext,
          ...(state ? { state } : {}),
        });
        const welcome = newId(corp, 'WELCOME');
        const callbacks = await emitAll([
          contactEvent('add_external_contact', userid, ext, { ...(state ? { State: state } : {}), WelcomeCode: welcome }),
        ]);
        return { result: { external_userid: ext, welcomeCode: welcome }, callbacks };
      }
      case 'del-contact': {
        // the member deletes the customer: the relation is gone (84061 from then on) → del_external_contact
        const userid = str(body.userid);
        const ext = str(body.external_userid);
        if (!removeRelation(corp, userid, ext)) throw new SimError('no such relation', 404);
        const callbacks = await emitAll([contactEvent('del_external_contact', userid, ext)]);
        return { result: {}, callbacks };
      }
      case 'del-follow-user': {
        // the customer deletes the member: a one-way relation the API still serves → del_follow_user
        const rel = corp.relations.get(relationKey(str(body.userid), str(body.external_userid)));
        if (!rel) throw new SimError('no such relation', 404);
        rel.deletedByCustomer = true;
        const callbacks = await emitAll([contactEvent('del_follow_user', rel.userid, rel.external_userid)]);
        return { result: {}, callbacks };
      }
      case 'create-tag': {
        // an admin creates tags in the console (so no app may edit them) → change_external_tag create
        const { tag_group, created } = addCorpTags(core, corp, 'admin', body, now);
        const events = created.group
          ? [tagEvent('create', created.group.group_id, 'tag_group')]
          : created.tags.map((t) => tagEvent('create', t.id, 'tag'));
        return { result: { tag_group }, callbacks: await emitAll(events) };
      }
      case 'edit-tag': {
        const item = editCorpTag(corp, 'admin', body);
        const isGroup = 'group_name' in item;
        const callbacks = await emitAll([tagEvent('update', isGroup ? item.group_id : item.id, isGroup ? 'tag_group' : 'tag')]);
        return { result: { item }, callbacks };
      }
      case 'delete-tag': {
        const { tags, groups } = delCorpTags(corp, 'admin', body);
        const groupIds = new Set(groups.map((g) => g.group_id));
        const events = [
          ...groups.map((g) => tagEvent('delete', g.group_id, 'tag_group')),
          // a deleted group's tags go with it in its event
          ...tags.filter((t) => !groupIds.has(t.group_id)).map((t) => tagEvent('delete', t.id, 'tag')),
        ];
        return { result: { tags: tags.map((t) => t.id), groups: [...groupIds] }, callbacks: await emitAll(events) };
      }
      case 'shuffle-tags': {
        // reverse the order of a group's tags, or (no group_id) of the groups themselves
        const groupId = str(body.group_id);
        if (groupId) {
          const tags = [...corp.tags.values()].filter((t) => t.group_id === groupId && !t.deleted);
          if (tags.length === 0) throw new SimError(`no tags in group ${groupId}`, 404);
          const orders = tags.map((t) => t.order);
          tags.forEach((t, i) => (t.order = orders[orders.length - 1 - i] as number));
        } else {
          const groups = [...corp.tagGroups.values()].filter((g) => !g.deleted);
          const orders = groups.map((g) => g.order);
          groups.forEach((g, i) => (g.order = orders[orders.length - 1 - i] as number));
        }
        return { result: {}, callbacks: await emitAll([tagEvent('shuffle', groupId)]) };
      }
      case 'chat-create': {
        const owner = str(body.owner);
        if (!corp.followUsers.has(owner)) throw new SimError(`no follow user ${owner}`);
        const t = Math.floor(now / 1000);
        const members: GroupChatMember[] = [owner, ...strings(body.members).filter((u) => u !== owner)].map((u, i) =>
          member(corp, u, t, 1, i ? owner : undefined),
        );
        const chat = {
          seq: ++corp.chatSeq,
          memberVersion: 1,
          chat_id: newId(corp, 'wr'),
          name: str(body.name),
          owner,
          create_time: t,
          notice: '',
          member_list: members,
          admin_list: [],
          status: 0 as const,
        };
        corp.chats.set(chat.chat_id, chat);
        const callbacks = await emitAll([base({ Event: 'change_external_chat', ChatId: chat.chat_id, ChangeType: 'create' })]);
        return { result: { chat_id: chat.chat_id }, callbacks };
      }
      case 'chat-join':
      case 'chat-leave': {
        const chat = corp.chats.get(str(body.chat_id));
        if (!chat) throw new SimError(`no chat ${str(body.chat_id)}`, 404);
        const ids = strings(body.userids);
        if (ids.length === 0) throw new SimError('userids is required');
        const join = kind === 'chat-join';
        const present = new Set(chat.member_list.map((m) => m.userid));
        const changed = join ? ids.filter((u) => !present.has(u)) : ids.filter((u) => present.has(u) && u !== chat.owner);
        if (changed.length === 0)
          throw new SimError(join ? 'everyone is in the chat already' : 'nobody to remove (the owner cannot leave)', 409);
        const t = Math.floor(now / 1000);
        const scene = int(body.join_scene) ?? 1;
        if (join) for (const u of changed) chat.member_list.push(member(corp, u, t, scene as 1 | 2 | 3, str(body.invitor) || chat.owner));
        else chat.member_list = chat.member_list.filter((m) => !changed.includes(m.userid));
        const last = chat.memberVersion++;
        const callbacks = await emitAll([
          base({
            Event: 'change_external_chat',
            ChatId: chat.chat_id,
            ChangeType: 'update',
            UpdateDetail: join ? 'add_member' : 'del_member',
            // JoinScene: 1 直接邀请, 2 邀请链接, 3 扫群二维码; QuitScene: 0 自己退群, 1 群主/群管理员移出
            ...(join ? { JoinScene: scene } : { QuitScene: int(body.quit_scene) ?? 0 }),
            MemChangeCnt: changed.length,
            MemChangeList: changed,
            LastMemVer: memberVersion(last),
            CurMemVer: memberVersion(chat.memberVersion),
          }),
        ]);
        return { result: { changed, member_version: memberVersion(chat.memberVersion) }, callbacks };
      }
      case 'chat-rename': {
        const chat = corp.chats.get(str(body.chat_id));
        if (!chat) throw new SimError(`no chat ${str(body.chat_id)}`, 404);
        chat.name = str(body.name);
        const callbacks = await emitAll([
          base({ Event: 'change_external_chat', ChatId: chat.chat_id, ChangeType: 'update', UpdateDetail: 'change_name' }),
        ]);
        return { result: {}, callbacks };
      }
      case 'chat-dismiss': {
        const chat = corp.chats.get(str(body.chat_id));
        if (!chat) throw new SimError(`no chat ${str(body.chat_id)}`, 404);
        corp.chats.delete(chat.chat_id);
        const callbacks = await emitAll([base({ Event: 'change_external_chat', ChatId: chat.chat_id, ChangeType: 'dismiss' })]);
        return { result: {}, callbacks };
      }
      default:
        throw new SimError(`unknown change "${kind}"; one of ${CHANGE_KINDS.join(', ')}`, 404);
    }
  } catch (e) {
    // the shared rules speak WeCom errcodes; an admin change answers them as a 400 that names the code
    if (e instanceof ApiError) throw new SimError(`errcode ${e.errcode}${e.detail ? `: ${e.detail}` : ''}`);
    throw e;
  }
}

function member(corp: Corp, userid: string, t: number, scene: 1 | 2 | 3, invitor?: string): GroupChatMember {
  const isMember = corp.followUsers.has(userid);
  const contact = corp.contacts.get(userid);
  if (!isMember && !contact) throw new SimError(`${userid} is neither a follow user nor an external contact`);
  return {
    userid,
    type: isMember ? 1 : 2,
    join_time: t,
    join_scene: scene,
    ...(invitor && corp.followUsers.has(invitor) ? { invitor: { userid: invitor } } : {}),
    group_nickname: '',
    name: isMember ? corp.followUsers.get(userid)!.name : contact!.name,
    ...(contact?.unionid ? { unionid: contact.unionid } : {}),
  };
}
