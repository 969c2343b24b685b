/**
 * Words for stored values, in zh-CN and English, where both the server (the why-dialog's
 * sentences, shared/src/rules/explain.ts) and the browser (condition labels, pickers) show them:
 * event types and the values of the contact fields with a fixed set of values. The web's locale
 * files take theirs from here, so a value is named the same everywhere.
 */
import type { EventType } from '../domain';

type Words = { zh: string; en: string };

export const EVENT_TYPE_LABELS: Record<EventType, Words> = {
  message: { zh: '发消息', en: 'Message' },
  group_join: { zh: '入群', en: 'Group join' },
  group_leave: { zh: '退群', en: 'Group leave' },
  qr_scan: { zh: '扫码', en: 'QR scan' },
  purchase: { zh: '购买', en: 'Purchase' },
  article_open: { zh: '打开文章', en: 'Article open' },
  invite: { zh: '邀请入群', en: 'Invite' },
  violation: { zh: '违规', en: 'Violation' },
  friend_add: { zh: '加好友', en: 'Friend added' },
  friend_delete: { zh: '删好友', en: 'Friend deleted' },
};

/** Values of the contact fields with a fixed set (`enumValues` in the field catalog), by field. */
export const ENUM_VALUE_LABELS: Record<'kind' | 'gender' | 'device', Record<string, Words>> = {
  kind: {
    friend: { zh: '个人微信好友', en: 'WeChat friend' },
    group_member: { zh: '群成员', en: 'Group member' },
    follower: { zh: '公众号粉丝', en: 'Official-account follower' },
    wecom_customer: { zh: '企业微信客户', en: 'WeCom customer' },
  },
  gender: { male: { zh: '男', en: 'Male' }, female: { zh: '女', en: 'Female' }, unknown: { zh: '未知', en: 'Unknown' } },
  device: {
    ios: { zh: 'iOS', en: 'iOS' },
    android: { zh: 'Android', en: 'Android' },
    windows: { zh: 'Windows', en: 'Windows' },
    mac: { zh: 'Mac', en: 'Mac' },
    other: { zh: '其他', en: 'Other' },
  },
};

/** `{ key: words[lang] }` of a table above, the shape a locale file holds. */
export function wordsIn<K extends string>(table: Record<K, Words>, lang: 'zh' | 'en'): Record<K, string> {
  return Object.fromEntries(Object.entries<Words>(table).map(([k, w]) => [k, w[lang]])) as Record<K, string>;
}
