/**
 * The simulator's in-memory model of WeCom corps: what a corp holds (members configured for
 * 客户联系, external contacts and their follow-user relations, the corp tag library, customer
 * group chats), the credentials that open it, and the bookkeeping the admin API inspects.
 *
 * Shapes follow the official server API documentation (developer.work.weixin.qq.com):
 * 「获取access_token」, 「管理企业标签」, 「获取客户详情」, 「获取客户群详情」.
 */
import { type RateLimits } from './rate-limit';

/** Which secret issued an access_token: the 客户联系 secret, or a self-built app's (by agentid). */
export type AppKey = 'contact' | `agent:${number}`;

/** Who created a corp tag or group: an admin in WeCom's console, or an app through the API. */
export type Creator = 'admin' | AppKey;

export interface TagGroup {
  group_id: string;
  group_name: string;
  create_time: number;
  order: number;
  deleted: boolean;
  createdBy: Creator;
}

export interface CorpTag {
  id: string;
  group_id: string;
  name: string;
  create_time: number;
  order: number;
  deleted: boolean;
  createdBy: Creator;
}

export interface FollowUser {
  userid: string;
  name: string;
}

/** An external contact (客户): type 1 微信用户, 2 企业微信用户. */
export interface ExternalContact {
  external_userid: string;
  name: string;
  type: 1 | 2;
  avatar: string;
  gender: 0 | 1 | 2;
  unionid?: string;
  corp_name?: string;
  corp_full_name?: string;
  position?: string;
}

/** One follow-user relation (成员 ↔ 客户): remark, tags and where the customer came from. */
export interface Relation {
  /** insertion order: cursors page by it, so a page never skips or repeats a relation */
  seq: number;
  userid: string;
  external_userid: string;
  remark: string;
  description: string;
  createtime: number;
  /** corp tag ids, in the order they were added */
  tagIds: string[];
  remark_corp_name?: string;
  remark_mobiles: string[];
  /** 来源: 0 未知, 1 扫描二维码, 2 搜索手机号, 3 名片分享, 4 群聊, … (「获取客户详情」) */
  add_way: number;
  oper_userid: string;
  /** the `state` of the 「联系我」 QR code the customer scanned (a channel), if any */
  state?: string;
  /**
   * The customer deleted the member (del_follow_user): a one-way relation that the API still
   * serves (「全局错误码」 84061: 客户删除了服务人员，还存在单向好友关系，可以调用客户联系相关接口).
   */
  deletedByCustomer?: boolean;
  /** mark_tag calls accepted for this relation through the API (benches check "once per relation") */
  marks?: number;
}

export interface GroupChatMember {
  userid: string;
  /** 1 企业成员, 2 外部联系人 */
  type: 1 | 2;
  join_time: number;
  /** 1 由群成员邀请入群（直接邀请）, 2 由群成员邀请入群（链接邀请）, 3 扫描群二维码入群 */
  join_scene: 1 | 2 | 3;
  invitor?: { userid: string };
  group_nickname: string;
  name: string;
  unionid?: string;
}

export interface GroupChat {
  /** creation order: groupchat/list cursors page by it */
  seq: number;
  /** bumped on every member change (member_version, LastMemVer / CurMemVer) */
  memberVersion: number;
  chat_id: string;
  name: string;
  owner: string;
  create_time: number;
  notice: string;
  member_list: GroupChatMember[];
  admin_list: { userid: string }[];
  /** 0 跟进人正常, 1 跟进人离职, 2 离职继承中, 3 离职继承完成 */
  status: 0 | 1 | 2 | 3;
}

export interface CallbackConfig {
  url: string;
  token: string;
  encodingAesKey: string;
}

export interface SentMessage {
  at: number;
  agentid: number;
  touser: string;
  msgtype: string;
  content: string;
  /** over 30 messages per app and member per minute: WeCom drops it without an error */
  dropped: boolean;
}

export interface Agent {
  agentid: number;
  secret: string;
  contactApi: boolean;
}

export interface Corp {
  corpid: string;
  name: string;
  /** the 客户联系 secret (客户联系 → API → Secret) */
  contactSecret: string;
  /** self-built apps (自建应用); `contactApi`: listed in 客户联系 → 可调用接口的应用 */
  agents: Agent[];
  followUsers: Map<string, FollowUser>;
  contacts: Map<string, ExternalContact>;
  /** key: `${userid}\n${external_userid}` (see relationKey); change it only through addRelation / removeRelation */
  relations: Map<string, Relation>;
  /** each follow user's relations in `seq` order (the cursor index) */
  relationsByUser: Map<string, Relation[]>;
  /** each external contact's follow users, in the order the relations were made */
  followersByContact: Map<string, string[]>;
  relationSeq: number;
  tagGroups: Map<string, TagGroup>;
  tags: Map<string, CorpTag>;
  chats: Map<string, GroupChat>;
  chatSeq: number;
  callback: CallbackConfig | null;
  /** this corp's time runs this far ahead of the simulator's clock (tests sharing one simulator) */
  clockOffsetMs: number;
  /** frequency limits for this corp, over the simulator's defaults */
  limits?: RateLimits;
  /**
   * 存量企业 behaviour: the 客户联系 secret's token may edit and delete every corp tag (the older
   * 「管理企业标签」 text); off, every app edits only the tags it created (the current text).
   */
  contactSecretEditsAllTags: boolean;
  messages: SentMessage[];
  /** a counter for the ids the simulator hands out (tags, groups, contacts, chats) */
  seq: number;
}

export const relationKey = (userid: string, externalUserid: string) => `${userid}\n${externalUserid}`;

export function emptyCorp(corpid: string, opts: { name?: string; contactSecret?: string; agents?: Agent[] } = {}): Corp {
  return {
    corpid,
    name: opts.name ?? corpid,
    contactSecret: opts.contactSecret ?? `${corpid}-contact-secret`,
    agents: opts.agents ?? [{ agentid: 1000002, secret: `${corpid}-agent-secret`, contactApi: true }],
    followUsers: new Map(),
    contacts: new Map(),
    relations: new Map(),
    relationsByUser: new Map(),
    followersByContact: new Map(),
    relationSeq: 0,
    tagGroups: new Map(),
    tags: new Map(),
    chats: new Map(),
    chatSeq: 0,
    callback: null,
    clockOffsetMs: 0,
    contactSecretEditsAllTags: false,
    messages: [],
    seq: 0,
  };
}

/** The relations of one external contact, in the order they were made. */
export function relationsOf(corp: Corp, externalUserid: string): Relation[] {
  const out: Relation[] = [];
  for (const userid of corp.followersByContact.get(externalUserid) ?? []) {
    const r = corp.relations.get(relationKey(userid, externalUserid));
    if (r) out.push(r);
  }
  return out;
}

/** Active corp tags (not deleted), for the 10,000 limit. */
export function activeTagCount(corp: Corp): number {
  let n = 0;
  for (const t of corp.tags.values()) if (!t.deleted) n++;
  return n;
}

/** Adds (or replaces) a relation and indexes it; returns it. */
export function addRelation(corp: Corp, r: Omit<Relation, 'seq'>): Relation {
  removeRelation(corp, r.userid, r.external_userid);
  const rel: Relation = { ...r, seq: ++corp.relationSeq };
  corp.relations.set(relationKey(r.userid, r.external_userid), rel);
  let list = corp.relationsByUser.get(r.userid);
  if (!list) corp.relationsByUser.set(r.userid, (list = []));
  list.push(rel);
  let followers = corp.followersByContact.get(r.external_userid);
  if (!followers) corp.followersByContact.set(r.external_userid, (followers = []));
  followers.push(r.userid);
  return rel;
}

export function removeRelation(corp: Corp, userid: string, externalUserid: string): Relation | undefined {
  const key = relationKey(userid, externalUserid);
  const rel = corp.relations.get(key);
  if (!rel) return undefined;
  corp.relations.delete(key);
  const list = corp.relationsByUser.get(userid) ?? [];
  const at = firstAfter(list, rel.seq - 1);
  if (list[at] === rel) list.splice(at, 1);
  const followers = corp.followersByContact.get(externalUserid) ?? [];
  const i = followers.indexOf(userid);
  if (i >= 0) followers.splice(i, 1);
  if (followers.length === 0) corp.followersByContact.delete(externalUserid);
  return rel;
}

/** Index of the first relation in `list` (sorted by seq) whose seq is greater than `seq`. */
export function firstAfter(list: Relation[], seq: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((list[mid] as Relation).seq <= seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
