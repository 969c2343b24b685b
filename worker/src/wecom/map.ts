/**
 * WeCom callback events → Segflow events. WeCom gives these callbacks no message id and
 * retries them, so each event's id is a composite of the fields that identify the change
 * (event, change type, people or chat, CreateTime): a retry maps to the same id and is
 * acknowledged as a duplicate.
 */
import type { IngestEvent } from '@shared/api/webhooks';
import type { FlatXml } from '@shared/wecom/xml';

export interface MappedCallback {
  events: IngestEvent[];
  /** Why nothing was stored, for callbacks that carry no contact event. */
  ignored?: string;
}

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

/** Maps one decrypted callback. */
export function mapWecomCallback(x: FlatXml): MappedCallback {
  const event = need(x, 'Event');
  const createTime = need(x, 'CreateTime');
  if (!/^\d{1,12}$/.test(createTime)) throw new WecomMappingError('<CreateTime> must be unix seconds');
  const occurredAt = Number(createTime) * 1000;
  switch (event) {
    case 'change_external_contact': {
      const changeType = need(x, 'ChangeType');
      const externalId = need(x, 'ExternalUserID');
      const userId = str(x, 'UserID') ?? '';
      const key = `wecom:contact:${changeType}:${userId}:${externalId}:${createTime}`;
      const properties = { userId, changeType };
      switch (changeType) {
        case 'add_external_contact':
        case 'add_half_external_contact': {
          // `State` is the `state` of the 联系我 QR code the customer scanned: its channel.
          const state = str(x, 'State')?.slice(0, 100);
          const contact = { externalId, kind: 'wecom_customer' as const, ...(state ? { sourceChannel: state } : {}) };
          const events: IngestEvent[] = [
            { id: `${key}:friend_add`, type: 'friend_add', occurredAt, contact, ...(state ? { channel: state } : {}), properties },
          ];
          if (state) events.push({ id: `${key}:qr_scan`, type: 'qr_scan', occurredAt, contact, channel: state, properties });
          return { events };
        }
        case 'del_external_contact':
        case 'del_follow_user':
          return { events: [{ id: key, type: 'friend_delete', occurredAt, contact: { externalId }, properties }] };
        case 'edit_external_contact':
          return { events: [], ignored: 'edit_external_contact carries no changed fields (read them from the WeCom API)' };
        default:
          return { events: [], ignored: `change_external_contact/${changeType} is not mapped` };
      }
    }
    case 'change_external_chat': {
      const chatId = need(x, 'ChatId');
      const changeType = need(x, 'ChangeType');
      const detail = str(x, 'UpdateDetail') ?? '';
      if (changeType !== 'update' || (detail !== 'add_member' && detail !== 'del_member')) {
        return { events: [], ignored: `change_external_chat/${changeType}${detail ? `/${detail}` : ''} is not a member change` };
      }
      const list = x.MemChangeList;
      const members = Array.isArray(list) ? list.filter((m) => m !== '') : [];
      if (members.length === 0) return { events: [], ignored: 'member change without <MemChangeList>: nobody to attribute it to' };
      const type = detail === 'add_member' ? 'group_join' : 'group_leave';
      const version = str(x, 'CurMemVer') ?? '';
      const scene = detail === 'add_member' ? str(x, 'JoinScene') : str(x, 'QuitScene');
      return {
        events: members.map((m) => {
          if (m.length > 128) throw new WecomMappingError('a <MemChangeList> item is longer than 128 characters');
          return {
            id: `wecom:chat:${chatId}:${detail}:${m}:${createTime}:${version}`,
            type,
            occurredAt,
            contact: { externalId: m, kind: 'group_member' as const },
            groupId: chatId,
            properties: { chatId, ...(scene ? { scene } : {}) },
          };
        }),
      };
    }
    case 'change_external_tag':
      // A change to the corp's tag library (create/update/delete/shuffle), not to a contact.
      return { events: [], ignored: `change_external_tag/${str(x, 'ChangeType') ?? ''} changes the tag library, not a contact` };
    default:
      return { events: [], ignored: `event "${event}" is not mapped` };
  }
}
