/**
 * WeCom callbacks → Segflow events and sync hints. Every callback WeCom may send gets one of
 * three outcomes, so the route can always answer `success`:
 * - **events** a rule can use (contact added / deleted, group member joined / left);
 * - **sync hints**: "re-read this from WeCom" (a contact relation, the tag library, a group
 *   chat), for the sync work of issue 16; acknowledged now, not acted on yet;
 * - **ignored**: messages to the self-built app (text, image, voice, video, location, link…:
 *   they come from corp members, not customers) and app events (subscribe, enter_agent,
 *   click, view, change_contact…), with the kind as a label for the operator's log.
 *
 * WeCom gives these callbacks no message id and retries them, so each event's and hint's id is a
 * composite of the fields that identify the change (event, change type, people or chat,
 * CreateTime): a retry maps to the same id and is acknowledged as a duplicate. The formats of
 * the event ids are kept as they were so retries across a deploy still dedupe.
 *
 * Field names follow WeCom's 客户联系 callback documentation (事件格式 of 客户变更 /
 * 客户群变更 / 企业客户标签变更).
 */
import type { IngestEvent } from '@shared/api/webhooks';
import type { FlatXml } from '@shared/wecom/xml';

/** 客户联系 `ChangeType`s of `change_external_contact`. */
export const WECOM_CONTACT_CHANGES = [
  'add_external_contact',
  'edit_external_contact',
  'add_half_external_contact',
  'del_external_contact',
  'del_follow_user',
  'transfer_fail',
] as const;
export type WecomContactChange = (typeof WECOM_CONTACT_CHANGES)[number];

/** "Re-read this from WeCom": what the sync work (issue 16) will act on. `id` is stable across WeCom's retries. */
export type WecomSyncHint =
  | {
      kind: 'contact';
      id: string;
      /** the follow user (企业服务人员) whose relation changed; '' when WeCom did not say */
      userId: string;
      externalUserId: string;
      changeType: WecomContactChange;
      /** transfer_fail: customer_refused / customer_limit_exceed */
      failReason?: string;
    }
  | {
      kind: 'tag_library';
      id: string;
      /** the tag's or group's id; null for a shuffle of every group */
      tagId: string | null;
      /** a shuffle: `tag_group` when one group's tags were reordered, null when every group was */
      tagType: 'tag' | 'tag_group' | null;
      changeType: 'create' | 'update' | 'delete' | 'shuffle';
      /** set for 规则组 (strategy) tags */
      strategyId?: string;
    }
  | {
      kind: 'chat';
      id: string;
      chatId: string;
      changeType: 'create' | 'update' | 'dismiss';
      /** update: add_member, del_member, change_owner, change_name, change_notice… */
      updateDetail?: string;
    };

export interface MappedCallback {
  /** `msg/<MsgType>` or `event/<Event>[/<ChangeType>[/<UpdateDetail>]]`: what the operator's log shows. */
  kind: string;
  events: IngestEvent[];
  hints: WecomSyncHint[];
  /** Why nothing was stored or hinted, for callbacks that are acknowledged only. */
  ignored?: string;
}

/** An authentic callback that lacks what its kind needs (the route keeps it as a dead letter and answers `success`). */
export class WecomMappingError extends Error {}

const str = (x: FlatXml, k: string): string | undefined => {
  const v = x[k];
  return typeof v === 'string' && v !== '' ? v : undefined;
};
const need = (x: FlatXml, k: string): string => {
  const v = str(x, k);
  if (v === undefined) throw new WecomMappingError(`the callback has no <${k}>`);
  if (v.length > 128) throw new WecomMappingError(`<${k}> is longer than 128 characters`);
  return v;
};
const createTimeOf = (x: FlatXml): string => {
  const t = need(x, 'CreateTime');
  if (!/^\d{1,12}$/.test(t)) throw new WecomMappingError('<CreateTime> must be unix seconds');
  return t;
};
/** A label for logs: WeCom's own words, trimmed to something safe to print. */
const label = (s: string | undefined) => (s ?? '').replace(/[^A-Za-z0-9_.-]/g, '').slice(0, 40) || '?';

const ignore = (kind: string, why: string): MappedCallback => ({ kind, events: [], hints: [], ignored: why });

/** Maps one decrypted callback; throws `WecomMappingError` only for a kind we use whose fields are missing. */
export function mapWecomCallback(x: FlatXml): MappedCallback {
  const msgType = str(x, 'MsgType');
  if (msgType !== 'event') {
    // Messages members send to the self-built app: not customers, not contact events.
    return ignore(`msg/${label(msgType)}`, 'a message to the self-built app, from a corp member: not a customer event');
  }
  const event = str(x, 'Event');
  switch (event) {
    case 'change_external_contact':
      return mapContact(x);
    case 'change_external_chat':
      return mapChat(x);
    case 'change_external_tag':
      return mapTag(x);
    default:
      return ignore(`event/${label(event)}`, 'an app or directory event: nothing a rule uses');
  }
}

function mapContact(x: FlatXml): MappedCallback {
  const changeType = need(x, 'ChangeType');
  const kind = `event/change_external_contact/${label(changeType)}`;
  if (!(WECOM_CONTACT_CHANGES as readonly string[]).includes(changeType)) {
    return ignore(kind, 'a change type this version does not know');
  }
  const change = changeType as WecomContactChange;
  const createTime = createTimeOf(x);
  const occurredAt = Number(createTime) * 1000;
  const externalId = need(x, 'ExternalUserID');
  const userId = str(x, 'UserID') ?? '';
  const key = `wecom:contact:${changeType}:${userId}:${externalId}:${createTime}`;
  const failReason = change === 'transfer_fail' ? str(x, 'FailReason')?.slice(0, 64) : undefined;
  const hints: WecomSyncHint[] = [
    { kind: 'contact', id: `${key}:hint`, userId, externalUserId: externalId, changeType: change, ...(failReason ? { failReason } : {}) },
  ];
  const properties = { userId, changeType };
  switch (change) {
    case 'add_external_contact':
    case 'add_half_external_contact': {
      // `State` is the `state` of the 联系我 QR code the customer scanned: its channel.
      const state = str(x, 'State')?.slice(0, 100);
      const contact = { externalId, kind: 'wecom_customer' as const, ...(state ? { sourceChannel: state } : {}) };
      const events: IngestEvent[] = [
        { id: `${key}:friend_add`, type: 'friend_add', occurredAt, contact, ...(state ? { channel: state } : {}), properties },
      ];
      if (state) events.push({ id: `${key}:qr_scan`, type: 'qr_scan', occurredAt, contact, channel: state, properties });
      return { kind, events, hints };
    }
    case 'del_external_contact':
    case 'del_follow_user':
      return { kind, events: [{ id: key, type: 'friend_delete', occurredAt, contact: { externalId }, properties }], hints };
    case 'edit_external_contact':
    case 'transfer_fail':
      // edit: remark or corp tags changed, and WeCom does not say which; transfer_fail: the relation stays as it was.
      return { kind, events: [], hints };
  }
}

const CHAT_CHANGES = ['create', 'update', 'dismiss'] as const;

function mapChat(x: FlatXml): MappedCallback {
  const changeType = need(x, 'ChangeType');
  const detail = str(x, 'UpdateDetail');
  const kind = `event/change_external_chat/${label(changeType)}${detail ? `/${label(detail)}` : ''}`;
  if (!(CHAT_CHANGES as readonly string[]).includes(changeType)) return ignore(kind, 'a change type this version does not know');
  const chatId = need(x, 'ChatId');
  const createTime = createTimeOf(x);
  const version = str(x, 'CurMemVer') ?? '';
  const hint: WecomSyncHint = {
    kind: 'chat',
    id: `wecom:chat:${chatId}:${changeType}:${detail ?? ''}:${createTime}:${version}:hint`,
    chatId,
    changeType: changeType as 'create' | 'update' | 'dismiss',
    ...(detail ? { updateDetail: detail.slice(0, 40) } : {}),
  };
  if (changeType !== 'update' || (detail !== 'add_member' && detail !== 'del_member')) return { kind, events: [], hints: [hint] };
  const list = x.MemChangeList;
  const members = Array.isArray(list) ? list.filter((m) => m !== '') : [];
  // Nobody to attribute a join or leave to: the sync re-reads the chat's members.
  if (members.length === 0) return { kind, events: [], hints: [hint] };
  const type = detail === 'add_member' ? 'group_join' : 'group_leave';
  const occurredAt = Number(createTime) * 1000;
  const scene = detail === 'add_member' ? str(x, 'JoinScene') : str(x, 'QuitScene');
  const events = members.map((m): IngestEvent => {
    if (m.length > 128) throw new WecomMappingError('a <MemChangeList> item is longer than 128 characters');
    return {
      id: `wecom:chat:${chatId}:${detail}:${m}:${createTime}:${version}`,
      type,
      occurredAt,
      contact: { externalId: m, kind: 'group_member' },
      groupId: chatId,
      properties: { chatId, ...(scene ? { scene } : {}) },
    };
  });
  return { kind, events, hints: [hint] };
}

const TAG_CHANGES = ['create', 'update', 'delete', 'shuffle'] as const;

function mapTag(x: FlatXml): MappedCallback {
  const changeType = need(x, 'ChangeType');
  const kind = `event/change_external_tag/${label(changeType)}`;
  if (!(TAG_CHANGES as readonly string[]).includes(changeType)) return ignore(kind, 'a change type this version does not know');
  const createTime = createTimeOf(x);
  const change = changeType as (typeof TAG_CHANGES)[number];
  // A shuffle of every group comes without an Id and without a TagType.
  const tagId = change === 'shuffle' ? (str(x, 'Id') ?? null) : need(x, 'Id');
  if (tagId !== null && tagId.length > 128) throw new WecomMappingError('<Id> is longer than 128 characters');
  const rawType = str(x, 'TagType');
  if (change !== 'shuffle' && rawType !== 'tag' && rawType !== 'tag_group') {
    throw new WecomMappingError('<TagType> must be tag or tag_group');
  }
  // A shuffle within one group names the group (Id) without a TagType.
  const tagType = rawType === 'tag' || rawType === 'tag_group' ? rawType : tagId !== null ? 'tag_group' : null;
  const strategyId = str(x, 'StrategyId')?.slice(0, 64);
  return {
    kind,
    events: [],
    hints: [
      {
        kind: 'tag_library',
        id: `wecom:tag:${changeType}:${tagType ?? ''}:${tagId ?? ''}:${strategyId ?? ''}:${createTime}`,
        tagId,
        tagType,
        changeType: change,
        ...(strategyId ? { strategyId } : {}),
      },
    ],
  };
}
