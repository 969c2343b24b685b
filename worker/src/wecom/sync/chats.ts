/**
 * Customer group chats (groupchat/get) → `wecom_group_chats` and their members, keyed by chat id:
 * a chat read again replaces its member list.
 */

/** The group_chat object of 获取客户群详情. */
export interface WecomGroupChatIn {
  chat_id: string;
  name?: string;
  owner?: string;
  create_time?: number;
  notice?: string;
  member_version?: string;
  member_list?: { userid: string; type: number; join_time?: number; join_scene?: number; unionid?: string }[];
}

const jv = (p: string) => `json_extract(j.value, '$.${p}')`;

/** Statements writing `chats` as read now, and marking `dismissed` chat ids dismissed. */
export function chatStatements(
  db: D1Database,
  connectionId: number,
  chats: WecomGroupChatIn[],
  now: number,
  dismissed: string[] = [],
): D1PreparedStatement[] {
  const out: D1PreparedStatement[] = [];
  if (chats.length) {
    const rows = JSON.stringify(
      chats.map((c) => ({
        id: c.chat_id,
        name: c.name ?? null,
        owner: c.owner ?? null,
        ct: c.create_time ?? null,
        notice: c.notice ?? null,
        n: c.member_list?.length ?? 0,
        v: c.member_version ?? null,
      })),
    );
    const members = JSON.stringify(
      chats.flatMap((c) =>
        (c.member_list ?? []).map((m) => ({
          c: c.chat_id,
          u: m.userid,
          t: m.type,
          jt: m.join_time ?? null,
          js: m.join_scene ?? null,
          un: m.unionid ?? null,
        })),
      ),
    );
    out.push(
      db
        .prepare(
          `INSERT INTO wecom_group_chats (connection_id, chat_id, name, owner, create_time, notice, member_count, member_version, synced_at)
           SELECT ?1, ${jv('id')}, ${jv('name')}, ${jv('owner')}, ${jv('ct')}, ${jv('notice')}, ${jv('n')}, ${jv('v')}, ?2 FROM json_each(?3) j WHERE true
           ON CONFLICT(connection_id, chat_id) DO UPDATE SET name = excluded.name, owner = excluded.owner, create_time = excluded.create_time,
             notice = excluded.notice, member_count = excluded.member_count, member_version = excluded.member_version,
             synced_at = excluded.synced_at, dismissed_at = NULL`,
        )
        .bind(connectionId, now, rows),
      db
        .prepare(
          `DELETE FROM wecom_group_chat_members WHERE connection_id = ? AND chat_id IN (SELECT json_extract(value, '$.id') FROM json_each(?))`,
        )
        .bind(connectionId, rows),
      db
        .prepare(
          `INSERT OR REPLACE INTO wecom_group_chat_members (connection_id, chat_id, userid, type, join_time, join_scene, unionid)
           SELECT ?1, ${jv('c')}, ${jv('u')}, ${jv('t')}, ${jv('jt')}, ${jv('js')}, ${jv('un')} FROM json_each(?2) j`,
        )
        .bind(connectionId, members),
    );
  }
  if (dismissed.length) {
    out.push(
      db
        .prepare(
          `UPDATE wecom_group_chats SET dismissed_at = ?1 WHERE connection_id = ?2 AND dismissed_at IS NULL
           AND chat_id IN (SELECT value FROM json_each(?3))`,
        )
        .bind(now, connectionId, JSON.stringify(dismissed)),
    );
  }
  return out;
}
