/**
 * One page of a backfill: read the run, make ONE WeCom call (a chats page may read up to
 * CHATS_PER_PAGE chats; a contacts page past the run's first SINGLE_CALL_RELATIONS relations
 * follows the cursor for up to CALLS_PER_STEP calls; should WeCom refuse one of them, the whole page is
 * sent again later and its earlier calls are made again), send the next page's message, then ONE D1 batch that writes the page's
 * rows and moves the run to the next step, guarded by the step: a page delivered twice, or after
 * the run moved on, writes nothing.
 *
 * Phases: tags (get_corp_tag_list) → follow_users (get_follow_user_list) → contacts
 * (batch/get_by_user over slices of 100 follow users, 100 relations a page, by cursor) → chats
 * (groupchat/list by cursor, then groupchat/get per chat) → done (relations and chats not seen by
 * this run marked gone).
 *
 * The next message goes out before the batch commits: if the batch fails, this message is
 * retried and the early next one finds the run still at this step and waits (retried with a
 * delay); if sending fails, nothing is written and this message is retried. So a run never
 * stalls on a lost message and never writes a page twice.
 *
 * Past the single-call pages, one message runs many pages in a row (`runSteps`), each page's
 * calls made while the page before it is written; the guard and the next page's message stay per
 * page (the message delayed when this invocation writes that page itself).
 */
import type { WecomSyncPhase } from '@shared/api/wecom';
import { WecomClient } from '../client';
import { queuePushes } from '../push/push';
import { customerStatements, type RevertCollector, type WecomCustomerIn } from './contacts';
import { chatStatements, type WecomGroupChatIn } from './chats';
import { corpIdOf, keyNewTags, libraryStatements, type WecomTagGroupIn } from './library';
import { sendSync } from './message';
import { readRun, type RunRow } from './runs';

/** WeCom's limits: batch/get_by_user takes ≤100 userids and answers ≤100 relations a page. */
export const USERS_PER_SLICE = 100;
export const RELATIONS_PER_PAGE = 100;
/** batch/get_by_user calls a contacts step makes at most, once the run holds SINGLE_CALL_RELATIONS relations. */
export const CALLS_PER_STEP = 10;
export const SINGLE_CALL_RELATIONS = 1_000;
/** groupchat/list answers up to 1000 a page; groupchat/get reads one chat. */
export const CHATS_LISTED = 1000;
export const CHATS_PER_PAGE = 10;

const STALE_MARKER = 'wecom-sync:stale';

export type StepOutcome = 'done' | 'next' | 'stale' | 'ahead' | 'finished';

interface Plan {
  writes: D1PreparedStatement[];
  /** columns of the run set by this page */
  set: Partial<Record<'phase' | 'cursor' | 'user_offset' | 'pending', string | number>>;
  add?: Partial<Record<'tag_groups' | 'tags' | 'follow_users' | 'relations' | 'customers' | 'chats', number>>;
  /** the run finishes with this page */
  finish?: boolean;
  /** after commit */
  after?: () => Promise<void>;
  /** the next page's answers, asked for during this page's write */
  prefetch?: Prefetch;
}

/** One contacts page: batch/get_by_user followed from `cursor` for up to `calls` calls. */
export interface ContactsPage {
  items: { external_contact: WecomCustomerIn; follow_info: FollowInfo }[];
  next: string;
}

async function fetchContacts(client: WecomClient, userids: string[], cursor: string, calls: number): Promise<ContactsPage> {
  const items: ContactsPage['items'] = [];
  let next = cursor;
  for (let i = 0; i < calls; i++) {
    const a = await client.post<{
      external_contact_list?: { external_contact: WecomCustomerIn; follow_info: FollowInfo }[];
      next_cursor?: string;
    }>('/cgi-bin/externalcontact/batch/get_by_user', {
      userid_list: userids,
      cursor: next,
      limit: RELATIONS_PER_PAGE,
    });
    items.push(...(a.external_contact_list ?? []));
    next = a.next_cursor ?? '';
    if (next === '') break;
  }
  return { items, next };
}

/**
 * A contacts page's batch/get_by_user answers, asked for while the page before it is written
 * (its cursor is known before that page's D1 batch). Used by the next page only if the run is
 * where it was asked for (same step, slice and cursor); else dropped, its calls wasted, nothing written.
 */
export interface Prefetch {
  runId: number;
  step: number;
  userOffset: number;
  cursor: string;
  answer: Promise<ContactsPage>;
}

/** Contacts pages one message runs in a row at most (each its own guarded batch), and for how long. */
export const PAGES_PER_MESSAGE = 20;
export const MESSAGE_BUDGET_MS = 8_000;
/** The delay of the message a page queues for the next one when this invocation goes on to write it. */
export const HANDOVER_DELAY_SECONDS = 30;

/**
 * Runs page `step` of run `runId` and, while that page was a contacts page of many calls whose
 * next page is in the same slice, the pages after it (up to PAGES_PER_MESSAGE, MESSAGE_BUDGET_MS),
 * each page's WeCom calls made while the page before it is written: a run's chain of messages
 * cost a queue hop, a run read and the WeCom calls' wait per page, all on the critical path.
 * Every page still queues the next page's message before its batch, as a page alone does; when
 * this invocation goes on to that page itself, the message is delayed (HANDOVER_DELAY_SECONDS)
 * and later dropped as stale. So should the invocation stop anywhere (a crash, an error on a
 * later page), the message of the first page not written is queued and carries the run on from
 * there; the last page's goes out at once. An error on a later page ends the loop: kept on the
 * run, and that page queued again with the delay a first page's retry would have (its delayed
 * message then finds it written, or retries it too: the guard writes it once).
 */
export async function runSteps(
  env: Env,
  runId: number,
  step: number,
  onLaterPageError: (e: unknown, step: number) => Promise<void>,
): Promise<StepOutcome> {
  const started = Date.now();
  let r = await runStep(env, runId, step, started, undefined, PAGES_PER_MESSAGE > 1);
  for (let pages = 1; r.outcome === 'next' && r.prefetch; pages++) {
    const more = pages + 1 < PAGES_PER_MESSAGE && Date.now() - started < MESSAGE_BUDGET_MS;
    const next = r.prefetch.step;
    try {
      r = await runStep(env, runId, next, Date.now(), r.prefetch, more);
    } catch (e) {
      await onLaterPageError(e, next);
      return 'next';
    }
  }
  return r.outcome;
}

/** Runs page `step` of run `runId` (`prefetch`: its answers, if asked for already; `chain`: ask for the next page's during this one's write). */
export async function runStep(
  env: Env,
  runId: number,
  step: number,
  now = Date.now(),
  prefetch?: Prefetch,
  chain = false,
): Promise<{ outcome: StepOutcome; prefetch?: Prefetch }> {
  const db = env.DB;
  const run = await readRun(db, runId);
  if (!run || run.status !== 'running') return { outcome: 'finished' };
  if (step < run.step) return { outcome: 'stale' };
  if (step > run.step) return { outcome: 'ahead' };
  const client = new WecomClient(env, run.connection_id, 'contact');
  const src = { source: 'wecom' as const, batchId: `wecom-sync:${run.id}`, at: now };
  const usable =
    prefetch &&
    prefetch.runId === run.id &&
    prefetch.step === step &&
    prefetch.userOffset === run.user_offset &&
    prefetch.cursor === run.cursor
      ? prefetch.answer
      : undefined;
  const plan = await planPage(db, client, run, src, env, usable, chain);

  const sets: string[] = ['step = step + 1', 'updated_at = ?'];
  const args: unknown[] = [now];
  for (const [k, v] of Object.entries(plan.set)) {
    sets.push(`${k} = ?`);
    args.push(v);
  }
  for (const [k, v] of Object.entries(plan.add ?? {})) {
    sets.push(`${k} = ${k} + ?`);
    args.push(v);
  }
  if (plan.finish) {
    sets.push(`status = 'finished'`, 'finished_at = ?');
    args.push(now);
  }
  // a page handing over to the next in this invocation queues the next one's message all the same, but
  // delayed: it only matters if this invocation stops before that page is written (then it carries the
  // run on from there); arriving later, it finds the run moved on and is dropped. Not delayed, a loop's
  // messages would pile up behind it and be delivered during it (miniflare dispatches a full batch at once)
  if (!plan.finish) await sendSync(env, { v: 1, type: 'step', runId, step: step + 1 }, plan.prefetch ? HANDOVER_DELAY_SECONDS : 0);
  try {
    await db.batch([
      db
        .prepare(`UPDATE wecom_sync_runs SET ${sets.join(', ')} WHERE id = ? AND step = ? AND status = 'running'`)
        .bind(...args, runId, step),
      // the guard: the run must have been at this step, else roll the page back
      db.prepare(`SELECT CASE WHEN changes() = 1 THEN 1 ELSE json('${STALE_MARKER}') END AS ok`),
      ...plan.writes,
    ]);
  } catch (e) {
    if (String(e).includes('malformed JSON')) return { outcome: 'stale' };
    throw e;
  }
  await plan.after?.();
  return plan.finish ? { outcome: 'done' } : { outcome: 'next', ...(plan.prefetch ? { prefetch: plan.prefetch } : {}) };
}

async function planPage(
  db: D1Database,
  client: WecomClient,
  run: RunRow,
  src: { source: 'wecom'; batchId: string; at: number },
  queue: Pick<Env, 'WECOM_SYNC'>,
  prefetched?: Promise<ContactsPage>,
  chain = false,
): Promise<Plan> {
  const phase = run.phase as WecomSyncPhase | 'done';
  switch (phase) {
    case 'tags': {
      const a = await client.post<{ tag_group?: WecomTagGroupIn[] }>('/cgi-bin/externalcontact/get_corp_tag_list', {});
      const { statements, counts } = await libraryStatements(
        db,
        run.connection_id,
        await corpIdOf(db, run.connection_id),
        a.tag_group ?? [],
        src,
      );
      return {
        writes: statements,
        set: { phase: 'follow_users', cursor: '', tag_groups: counts.tagGroups, tags: counts.tags } as Plan['set'],
        after: () => keyNewTags(db, run.connection_id, run.started_at),
      };
    }
    case 'follow_users': {
      const a = await client.get<{ follow_user?: string[] }>('/cgi-bin/externalcontact/get_follow_user_list');
      const users = [...new Set(a.follow_user ?? [])];
      const list = JSON.stringify(users);
      return {
        writes: [
          db
            .prepare(
              `INSERT INTO wecom_follow_users (connection_id, userid, synced_at) SELECT ?1, value, ?2 FROM json_each(?3) WHERE true
               ON CONFLICT(connection_id, userid) DO UPDATE SET synced_at = excluded.synced_at, deleted_at = NULL`,
            )
            .bind(run.connection_id, src.at, list),
          db
            .prepare(
              `UPDATE wecom_follow_users SET deleted_at = ?1 WHERE connection_id = ?2 AND deleted_at IS NULL
               AND userid NOT IN (SELECT value FROM json_each(?3))`,
            )
            .bind(src.at, run.connection_id, list),
        ],
        set: { phase: users.length ? 'contacts' : 'chats', cursor: '', user_offset: 0, follow_users: users.length } as Plan['set'],
      };
    }
    case 'contacts': {
      const { results } = await db
        .prepare('SELECT userid FROM wecom_follow_users WHERE connection_id = ? AND deleted_at IS NULL ORDER BY userid LIMIT ? OFFSET ?')
        .bind(run.connection_id, USERS_PER_SLICE, run.user_offset)
        .all<{ userid: string }>();
      if (!results.length) return { writes: [], set: { phase: 'chats', cursor: '', user_offset: 0 } };
      // one call a page for a run's first pages (progress shows at once, a refusal surfaces on one call), then
      // up to CALLS_PER_STEP: a step's fixed cost (run read, reads before the write, queue hop, one D1 batch) is
      // most of a page's time, and WeCom's limits are counted per call, not per step
      const calls = run.relations < SINGLE_CALL_RELATIONS ? 1 : CALLS_PER_STEP;
      const userids = results.map((r) => r.userid);
      const { items, next } = await (calls === CALLS_PER_STEP && prefetched
        ? prefetched
        : fetchContacts(client, userids, run.cursor, calls));
      // the next page of this slice, asked for now: its calls overlap this page's reads, JS and D1 batch
      let prefetch: Prefetch | undefined;
      if (chain && calls === CALLS_PER_STEP && next !== '') {
        const answer = fetchContacts(client, userids, next, CALLS_PER_STEP);
        answer.catch(() => undefined); // awaited (and thrown) by the next page; dropped if this one fails
        prefetch = { runId: run.id, step: run.step + 1, userOffset: run.user_offset, cursor: next, answer };
      }
      const customers = [...new Map(items.map((i) => [i.external_contact.external_userid, i.external_contact])).values()];
      const relations = items.map((i) => relationOf(i.external_contact.external_userid, i.follow_info));
      // WeCom-side edits of Segflow-owned tags this page finds: reverted by pushes once the page has written
      const reverts: RevertCollector = { contactIds: [], edits: 0 };
      // customers: distinct ones with a live relation synced by this run, counted as pages write them (the
      // ones of this page no earlier page of the run wrote, from the read the write makes anyway; a count
      // over the whole table per page grew with the corp, a count query of its own per page cost a round trip)
      const seen: { since: number; unseen?: number } = { since: run.started_at };
      const writes = await customerStatements(db, run.connection_id, customers, relations, src, [], reverts, seen);
      const sliceDone = next === '';
      const lastSlice = results.length < USERS_PER_SLICE;
      return {
        writes,
        set: sliceDone
          ? lastSlice
            ? { phase: 'chats', cursor: '', user_offset: 0 }
            : { cursor: '', user_offset: run.user_offset + USERS_PER_SLICE }
          : { cursor: next },
        add: { relations: relations.length, customers: seen.unseen ?? 0 },
        after: () => queuePushes(queue, run.connection_id, reverts.contactIds),
        ...(prefetch ? { prefetch } : {}),
      };
    }
    case 'chats': {
      const pending = JSON.parse(run.pending) as string[];
      if (pending.length) {
        const ids = pending.slice(0, CHATS_PER_PAGE);
        const chats: WecomGroupChatIn[] = [];
        for (const id of ids) {
          const a = await client.post<{ group_chat: WecomGroupChatIn }>('/cgi-bin/externalcontact/groupchat/get', {
            chat_id: id,
            need_name: 1,
          });
          chats.push(a.group_chat);
        }
        return {
          writes: chatStatements(db, run.connection_id, chats, src.at),
          set: { pending: JSON.stringify(pending.slice(ids.length)) },
          add: { chats: chats.length },
        };
      }
      // user_offset counts the list pages read: 0 = not listed yet, else '' cursor = listed to the end
      if (run.user_offset > 0 && run.cursor === '') return finishPlan(db, run, src);
      const a = await client.post<{ group_chat_list?: { chat_id: string }[]; next_cursor?: string }>(
        '/cgi-bin/externalcontact/groupchat/list',
        {
          status_filter: 0,
          cursor: run.cursor,
          limit: CHATS_LISTED,
        },
      );
      const ids = (a.group_chat_list ?? []).map((c) => c.chat_id);
      return { writes: [], set: { pending: JSON.stringify(ids), cursor: a.next_cursor ?? '', user_offset: run.user_offset + 1 } };
    }
    case 'done':
      return finishPlan(db, run, src);
  }
}

/** Customers whose relations went stale, re-tagged per finishing page (their live relations re-read from D1). */
export const STALE_CUSTOMERS_PER_PAGE = 200;

/**
 * The last pages: what this run did not see is gone in WeCom. Customers who lost a relation that
 * way have their tags recomputed from the relations left (a page of them at a time, the run
 * staying at `done` until none is left); then stale chats are marked dismissed and the run ends.
 */
async function finishPlan(db: D1Database, run: RunRow, src: { source: 'wecom'; batchId: string; at: number }): Promise<Plan> {
  const { results } = await db
    .prepare(
      `SELECT DISTINCT external_userid FROM wecom_relations WHERE connection_id = ? AND deleted_at IS NULL AND synced_at < ? LIMIT ?`,
    )
    .bind(run.connection_id, run.started_at, STALE_CUSTOMERS_PER_PAGE)
    .all<{ external_userid: string }>();
  if (results.length) {
    const exts = results.map((r) => r.external_userid);
    const { results: live } = await db
      .prepare(
        `SELECT userid, external_userid, remark, description, add_way, state, createtime, tag_ids FROM wecom_relations
         WHERE +connection_id = ? AND deleted_at IS NULL AND synced_at >= ? AND external_userid IN (SELECT value FROM json_each(?))`,
      )
      .bind(run.connection_id, run.started_at, JSON.stringify(exts))
      .all<{
        userid: string;
        external_userid: string;
        remark: string | null;
        description: string | null;
        add_way: number | null;
        state: string | null;
        createtime: number | null;
        tag_ids: string;
      }>();
    const relations = live.map((r) => ({
      userid: r.userid,
      externalUserid: r.external_userid,
      remark: r.remark ?? undefined,
      description: r.description ?? undefined,
      addWay: r.add_way ?? undefined,
      state: r.state ?? undefined,
      createtime: r.createtime ?? undefined,
      tagIds: JSON.parse(r.tag_ids) as string[],
    }));
    // `replace`: these customers' relations are exactly the live ones; the stale ones are marked gone
    const writes = await customerStatements(db, run.connection_id, [], relations, src, exts);
    return { writes, set: { phase: 'done', cursor: '', pending: '[]' } };
  }
  const now = src.at;
  return {
    writes: [
      db
        .prepare('UPDATE wecom_group_chats SET dismissed_at = ? WHERE connection_id = ? AND dismissed_at IS NULL AND synced_at < ?')
        .bind(now, run.connection_id, run.started_at),
    ],
    set: { phase: 'done', cursor: '', pending: '[]' },
    finish: true,
  };
}

/** follow_info of batch/get_by_user. */
export interface FollowInfo {
  userid: string;
  remark?: string;
  description?: string;
  createtime?: number;
  tag_id?: string[];
  add_way?: number;
  state?: string;
}

export function relationOf(externalUserid: string, f: FollowInfo) {
  return {
    userid: f.userid,
    externalUserid,
    remark: f.remark,
    description: f.description,
    addWay: f.add_way,
    state: f.state,
    createtime: f.createtime,
    tagIds: f.tag_id ?? [],
  };
}
