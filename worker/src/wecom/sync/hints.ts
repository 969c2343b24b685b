/**
 * Incremental sync: the hints a WeCom callback maps to (../map.ts), acted on from the sync queue.
 * Each re-reads the current state from WeCom rather than trusting the callback, so a retried or
 * reordered callback converges to the same rows:
 * - contact (add / edit / delete / transfer): `externalcontact/get` → the contact, ALL its
 *   relations (others marked gone; 84061: none left), and its tags diffed per relation;
 * - tag_library (create / update / delete / shuffle): the library read again and reconciled;
 * - chat: `groupchat/get` (40050, or dismiss: marked dismissed).
 */
import { WecomClient } from '../client';
import { WecomApiError } from '../errors';
import type { WecomSyncHint } from '../map';
import { chatStatements, type WecomGroupChatIn } from './chats';
import { queuePushes } from '../push/push';
import { customerStatements, type RevertCollector, type WecomCustomerIn, type WecomRelationIn } from './contacts';
import { corpIdOf, keyNewTags, libraryStatements, type WecomTagGroupIn } from './library';

interface FollowUserOut {
  userid: string;
  remark?: string;
  description?: string;
  createtime?: number;
  add_way?: number;
  state?: string;
  tags?: { tag_id: string; type?: number }[];
}

export async function applyHint(env: Env, connectionId: number, hint: WecomSyncHint, now = Date.now()): Promise<void> {
  const db = env.DB;
  if (!(await db.prepare('SELECT 1 FROM wecom_connections WHERE id = ?').bind(connectionId).first())) return;
  const client = new WecomClient(env, connectionId, 'contact');
  const src = { source: 'wecom' as const, batchId: `wecom-hint:${hint.id}`.slice(0, 200), at: now };
  switch (hint.kind) {
    case 'contact': {
      const ext = hint.externalUserId;
      let customer: WecomCustomerIn | null = null;
      const relations: WecomRelationIn[] = [];
      let cursor = '';
      try {
        do {
          const a = await client.get<{ external_contact: WecomCustomerIn; follow_user?: FollowUserOut[]; next_cursor?: string }>(
            '/cgi-bin/externalcontact/get',
            { external_userid: ext, ...(cursor ? { cursor } : {}) },
          );
          customer = a.external_contact;
          for (const f of a.follow_user ?? []) {
            relations.push({
              userid: f.userid,
              externalUserid: ext,
              remark: f.remark,
              description: f.description,
              addWay: f.add_way,
              state: f.state,
              createtime: f.createtime,
              // type 1: corp tags (企业标签); 2 personal, 3 rule-group tags are not in the library
              tagIds: (f.tags ?? []).filter((t) => (t.type ?? 1) === 1).map((t) => t.tag_id),
            });
          }
          cursor = a.next_cursor ?? '';
        } while (cursor);
      } catch (e) {
        // 84061: no relation with this customer any more (every follow user deleted it)
        if (!(e instanceof WecomApiError && e.errcode === 84061)) throw e;
      }
      const reverts: RevertCollector = { contactIds: [], edits: 0 };
      const writes = await customerStatements(db, connectionId, customer ? [customer] : [], relations, src, [ext], reverts);
      if (writes.length) await db.batch(writes);
      // a WeCom-side edit of a Segflow-owned tag: pushed back to Segflow's state
      await queuePushes(env, connectionId, reverts.contactIds);
      return;
    }
    case 'tag_library': {
      const a = await client.post<{ tag_group?: WecomTagGroupIn[] }>('/cgi-bin/externalcontact/get_corp_tag_list', {});
      const { statements } = await libraryStatements(db, connectionId, await corpIdOf(db, connectionId), a.tag_group ?? [], src);
      await db.batch(statements);
      await keyNewTags(db, connectionId, now);
      return;
    }
    case 'chat': {
      if (hint.changeType === 'dismiss') {
        await db.batch(chatStatements(db, connectionId, [], now, [hint.chatId]));
        return;
      }
      try {
        const a = await client.post<{ group_chat: WecomGroupChatIn }>('/cgi-bin/externalcontact/groupchat/get', {
          chat_id: hint.chatId,
          need_name: 1,
        });
        await db.batch(chatStatements(db, connectionId, [a.group_chat], now));
      } catch (e) {
        if (e instanceof WecomApiError && e.errcode === 40050) await db.batch(chatStatements(db, connectionId, [], now, [hint.chatId]));
        else throw e;
      }
      return;
    }
  }
}
