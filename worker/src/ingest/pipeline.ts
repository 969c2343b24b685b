/**
 * The ingest pipeline shared by the generic webhook and the WeCom adapter: events in, one D1
 * batch out. Per run, over the events of one source in one intake queue batch (./consumer.ts):
 *
 * 1. duplicates inside the group are dropped (first occurrence wins);
 * 2. ONE read batch: the published-rule list, which event ids the source already sent, and the
 *    contacts with their tags and as much daily rollup / raw-event history as the rules read;
 * 3. in JS, event by event: the contact's aggregates and rollup move exactly as the SQL below
 *    moves them, then the published rules listening to the event run against that state
 *    (fast evaluator, gray-release share by bucket) and their tag changes apply in memory;
 * 4. ONE write batch (one transaction): contacts upserted, events inserted, a guard, aggregate
 *    and rollup deltas, the source's counter, and the tag writer's statements — set-based over
 *    JSON parameters, so a 500-event request is a handful of statements, not thousands.
 *
 * The guard makes the dedupe exact under concurrency: if a retry of the same event committed
 * between our read and our write, the events INSERT skips it, `changes()` comes out short, the
 * guard raises, D1 rolls the whole batch back, and the run starts again from step 2 (where
 * the event now reads as a duplicate). Nothing is half-applied and nothing is counted twice.
 */
import { DEPARTMENT_PATH_SQL } from '@shared/rules/sql';
import { contactWithDefaults } from '@shared/rules/contact-defaults';
import { bucketOf, type ContactKind } from '@shared/domain';
import { dayNumber } from '@shared/time';
import { lastDaysWindow } from '@shared/rules/days';
import { contactFromRow } from '@shared/rules/data';
import type { DailyStatRow, EvalData, EventRow, OutboundActionSpec } from '@shared/rules/types';
import type { IngestEvent, WebhookEventResult, WebhookResponse } from '@shared/api/webhooks';
import { tagChangeStatements, type TagChange } from '../tagging/tag-writer';
import { keyStatements } from '../search/keys';
import { publishedStatement, ruleSetFor, type PublishedRow } from '../execution/published';
import { applyChanges, changesForEvent, type RuleChange } from '../execution/evaluate';
import { sendEventDeliveries, type OutboundFiring } from '../outbound/event-deliveries';
import {
  batch,
  resultsOf,
  type Typed,
  type ContactDailyStatRow,
  type ContactEventRow,
  type ContactRow,
  type ContactTagRow,
  type EventSourceRow,
  type Results,
} from '../db/rows';

export interface IngestOptions {
  sourceId: string;
  /** Request time, epoch ms: rule windows, ledger time, and received_at unless `receivedAt` says otherwise. */
  now: number;
  /**
   * When Segflow accepted each event, if earlier than `now`: the intake queue's consumer runs
   * events seconds (or, after an outage, hours) after their webhook was answered 202, and
   * `events.received_at` and the source's `last_event_at` are when they arrived, not when they were processed.
   */
  receivedAt?: ReadonlyMap<IngestEvent, number>;
  tzOffsetMinutes: number;
  /** Kind of contacts created by this source when the event does not say. */
  defaultKind: ContactKind;
  /** Groups this request's ledger rows. */
  batchId: string;
  /**
   * Checks the source row read inside the first batch (revoked, secret rotated since the
   * caller verified with a cached copy). Throwing aborts before anything is written.
   */
  checkSource?: (row: SourceRow | null) => void;
  /**
   * Where the call-webhook / notify nodes of event-triggered rules deliver, once the write batch
   * has committed (`IngestPass.afterCommit`); omitted, nothing is sent.
   */
  deliveries?: Pick<Env, 'DELIVERIES'>;
}

/** The `event_sources` columns the webhook routes need (after a rotation, `previous_secret` is accepted until it expires). */
export type SourceRow = Pick<
  EventSourceRow,
  | 'id'
  | 'kind'
  | 'secret'
  | 'previous_secret'
  | 'previous_secret_expires_at'
  | 'wecom_token'
  | 'wecom_aes_key'
  | 'wecom_corp_id'
  | 'revoked_at'
> & {
  /** The WeCom connection whose callbacks this source receives (read by the webhook routes only, with the row they cache). */
  wecom_connection_id?: number | null;
};

export const SOURCE_SQL = `SELECT id, kind, secret, previous_secret, previous_secret_expires_at, wecom_token, wecom_aes_key, wecom_corp_id, revoked_at,
  (SELECT w.id FROM wecom_connections w WHERE w.event_source_id = event_sources.id) AS wecom_connection_id
  FROM event_sources WHERE id = ?`;

/** Raised by the guard statement when a concurrent request stored one of our events first. */
const RACE_MARKER = 'malformed JSON';
export const MAX_ATTEMPTS = 4;
/** Bytes of event JSON per INSERT (D1 caps a bound string at 1 MB). */
const CHUNK_BYTES = 400_000;

const ATTRIBUTE_COLUMNS = [
  ['kind', 'kind'],
  ['name', 'name'],
  ['remark', 'remark'],
  ['gender', 'gender'],
  ['region', 'region'],
  ['city', 'city'],
  ['occupation', 'occupation'],
  ['company', 'company'],
  ['device', 'device'],
  ['sourceChannel', 'source_channel'],
] as const;
export type AttributeKey = (typeof ATTRIBUTE_COLUMNS)[number][0];

interface ContactState {
  externalId: string;
  /** null until inserted (a contact created by this request). */
  id: number | null;
  isNew: boolean;
  /** The evaluators' view (camelCase, `custom` parsed), moved event by event. */
  contact: Record<string, unknown>;
  attrs: Partial<Record<AttributeKey, string>>;
  tags: Set<number>;
  initialTags: Set<number>;
  cause: Map<number, RuleChange>;
  stats: DailyStatRow[];
  events: EventRow[];
  delta: { m: number; p: number; s: number; i: number; v: number; la: number | null; lp: number | null };
}

/** How many days of rollup and raw events a read loads. */
interface DataNeedsLoaded {
  statsDays: number;
  eventsDays: number;
}

/** Module state: the history windows the last rule set needed, so the first read usually loads enough. */
let loadedNeeds: DataNeedsLoaded = { statsDays: 0, eventsDays: 0 };

const json = (v: unknown) => JSON.stringify(v);

/**
 * One group of events on its way through the pipeline, in the two steps a caller runs around
 * D1: `reads()` (step 2 above), then `writes(results)` (steps 3 and 4's statements). `ingest`
 * runs them as two batches.
 */
export class IngestPass {
  readonly results: WebhookEventResult[];
  private readonly unique: number[] = [];
  private needs = loadedNeeds;
  private lastReads: ReadStatements | null = null;
  /** Outbound nodes the last planned writes fired (outbound/event-deliveries.ts), sent after they commit. */
  private outbound: OutboundFiring[] = [];

  constructor(
    private readonly db: D1Database,
    readonly events: IngestEvent[],
    private readonly o: IngestOptions,
  ) {
    this.results = events.map((e) => ({ id: e.id, status: 'accepted' }));
    const seen = new Set<string>();
    events.forEach((e, i) => {
      if (seen.has(e.id)) (this.results[i] as WebhookEventResult).status = 'duplicate';
      else {
        seen.add(e.id);
        this.unique.push(i);
      }
    });
  }

  /** The read batch (run it again to retry after a race). */
  reads(): D1PreparedStatement[] {
    this.needs = loadedNeeds;
    return (this.lastReads = readStatements(this.db, this.events, this.unique, this.needs, this.o));
  }

  /** From the read batch's results, the write batch (empty when every event was a duplicate). */
  writes(reads: D1Result[]): Promise<D1PreparedStatement[]> {
    if (!this.lastReads) throw new Error('IngestPass.writes before reads');
    this.outbound = [];
    const fired = (f: OutboundFiring) => this.outbound.push(f);
    return planWrites(this.db, this.events, this.unique, this.results, this.needs, resultsOf(this.lastReads, reads), this.o, fired);
  }

  /**
   * After the write batch committed: enqueue the deliveries its events fired. A failure is
   * logged, not thrown: the tags are written and the events recorded, so failing the request
   * would only make the sender retry into duplicates.
   */
  async afterCommit(): Promise<void> {
    if (!this.o.deliveries || this.outbound.length === 0) return;
    try {
      await sendEventDeliveries(this.db, this.o.deliveries, this.outbound, this.o.now);
    } catch (e) {
      console.error(`ingest: ${this.outbound.length} outbound deliveries of batch ${this.o.batchId} not enqueued`, e);
    }
  }

  response(): WebhookResponse {
    const accepted = this.results.filter((r) => r.status === 'accepted').length;
    const duplicates = this.results.filter((r) => r.status === 'duplicate').length;
    return { received: this.events.length, accepted, duplicates, results: this.results };
  }
}

/** Whether a write batch failed on the guard (a concurrent request stored one of its events first): read again and retry. */
export function isRace(e: unknown): boolean {
  return String(e).includes(RACE_MARKER);
}

/** Runs events through the pipeline. Duplicates are acknowledged, never applied twice. */
export async function ingest(db: D1Database, events: IngestEvent[], o: IngestOptions): Promise<WebhookResponse> {
  const pass = new IngestPass(db, events, o);
  for (let attempt = 1; ; attempt++) {
    try {
      const writes = await pass.writes(await db.batch(pass.reads()));
      if (writes.length) await db.batch(writes);
      await pass.afterCommit();
      return pass.response();
    } catch (e) {
      if (attempt < MAX_ATTEMPTS && isRace(e)) continue;
      throw e;
    }
  }
}

type StatHistoryRow = Pick<ContactDailyStatRow, 'contact_id' | 'type' | 'day' | 'count' | 'amount'>;
type EventHistoryRow = Pick<ContactEventRow, 'contact_id' | 'type' | 'occurred_at' | 'amount' | 'channel' | 'text'>;

function historyStatements(
  db: D1Database,
  exts: string,
  needs: DataNeedsLoaded,
  o: IngestOptions,
): [Typed<StatHistoryRow>, Typed<EventHistoryRow>] {
  const stats = needs.statsDays > 0 ? lastDaysWindow(o.now, needs.statsDays, o.tzOffsetMinutes) : null;
  const evs = needs.eventsDays > 0 ? lastDaysWindow(o.now, needs.eventsDays, o.tzOffsetMinutes) : null;
  const ofContacts = 'SELECT id FROM contacts WHERE external_id IN (SELECT value FROM json_each(?))';
  return [
    db
      .prepare(
        `SELECT contact_id, type, day, count, amount FROM contact_daily_stats WHERE contact_id IN (${ofContacts}) AND ${stats ? 'day >= ?' : '0'}`,
      )
      .bind(exts, ...(stats ? [stats.firstDay] : [])),
    db
      .prepare(
        `SELECT contact_id, type, occurred_at, amount, channel, text FROM events WHERE contact_id IN (${ofContacts}) AND ${evs ? 'occurred_at >= ?' : '0'}`,
      )
      .bind(exts, ...(evs ? [evs.fromMs] : [])),
  ];
}

type ReadStatements = [
  Typed<SourceRow>,
  Typed<PublishedRow>,
  Typed<Pick<ContactEventRow, 'sender_event_id'>>,
  Typed<ContactRow>,
  Typed<Pick<ContactTagRow, 'contact_id' | 'tag_id'>>,
  Typed<StatHistoryRow>,
  Typed<EventHistoryRow>,
];

function readStatements(db: D1Database, events: IngestEvent[], unique: number[], needs: DataNeedsLoaded, o: IngestOptions): ReadStatements {
  const exts = json([...new Set(unique.map((i) => (events[i] as IngestEvent).contact.externalId))]);
  const ids = json(unique.map((i) => (events[i] as IngestEvent).id));
  return [
    db.prepare(SOURCE_SQL).bind(o.sourceId),
    publishedStatement(db),
    db
      .prepare('SELECT sender_event_id FROM events WHERE source_id = ? AND sender_event_id IN (SELECT value FROM json_each(?))')
      .bind(o.sourceId, ids),
    // with its department's path: "所属部门及下级" reads it (sf_in_department_tree)
    db
      .prepare(
        `SELECT c.*, ${DEPARTMENT_PATH_SQL} AS department_path FROM contacts c WHERE c.external_id IN (SELECT value FROM json_each(?))`,
      )
      .bind(exts),
    db
      .prepare(
        'SELECT contact_id, tag_id FROM contact_tags WHERE contact_id IN (SELECT id FROM contacts WHERE external_id IN (SELECT value FROM json_each(?)))',
      )
      .bind(exts),
    ...historyStatements(db, exts, needs, o),
  ];
}

async function planWrites(
  db: D1Database,
  events: IngestEvent[],
  unique: number[],
  results: WebhookEventResult[],
  needs: DataNeedsLoaded,
  reads: Results<ReadStatements>,
  o: IngestOptions,
  fired: (f: OutboundFiring) => void,
): Promise<D1PreparedStatement[]> {
  // Long on purpose: the webhook hot path's one pass from the read batch to the writes, kept inline so no per-event calls are added.
  const [source, published, seen, contactRows, tagRows] = reads;
  o.checkSource?.(source.results[0] ?? null);
  const ruleSet = await ruleSetFor(db, published.results, o.now);
  const known = new Set(seen.results.map((r) => r.sender_event_id));
  let statRows = reads[5].results;
  let eventRows = reads[6].results;
  if (ruleSet.needs.statsDays > needs.statsDays || ruleSet.needs.eventsDays > needs.eventsDays) {
    // The published rules changed and read further back than what was loaded: load again.
    const exts = json([...new Set(unique.map((i) => (events[i] as IngestEvent).contact.externalId))]);
    const [stats, evs] = await batch(db, historyStatements(db, exts, ruleSet.needs, o));
    statRows = stats.results;
    eventRows = evs.results;
  }
  loadedNeeds = ruleSet.needs;

  // ---- state per contact ----
  const byExt = new Map<string, ContactState>();
  const byId = new Map<number, ContactState>();
  for (const row of contactRows.results) {
    const st = newState(row.external_id, row.id, contactFromRow(row), false);
    byExt.set(st.externalId, st);
    byId.set(row.id, st);
  }
  for (const t of tagRows.results) {
    const st = byId.get(t.contact_id);
    st?.tags.add(t.tag_id);
    st?.initialTags.add(t.tag_id);
  }
  for (const s of statRows) byId.get(s.contact_id)?.stats.push({ type: s.type, day: s.day, count: s.count, amount: s.amount });
  for (const e of eventRows) {
    byId.get(e.contact_id)?.events.push({ type: e.type, occurredAt: e.occurred_at, amount: e.amount, channel: e.channel, text: e.text });
  }

  // ---- simulate, event by event ----
  const fresh: IngestEvent[] = [];
  const daily = new Map<string, { ext: string; type: string; day: number; count: number; amount: number }>();
  for (const i of unique) {
    const e = events[i] as IngestEvent;
    const res = results[i] as WebhookEventResult;
    if (known.has(e.id)) {
      res.status = 'duplicate';
      continue;
    }
    res.status = 'accepted';
    delete res.tagChanges;
    fresh.push(e);
    let st = byExt.get(e.contact.externalId);
    if (!st) {
      st = newState(e.contact.externalId, null, newContact(e.contact.externalId, o), true);
      byExt.set(st.externalId, st);
    }
    applyAttributes(st, e, o);
    applyAggregates(st, e, o.tzOffsetMinutes);
    const dayKey = `${st.externalId}\u0000${e.type}\u0000${dayNumber(e.occurredAt, o.tzOffsetMinutes)}`;
    const d = daily.get(dayKey) ?? {
      ext: st.externalId,
      type: e.type,
      day: dayNumber(e.occurredAt, o.tzOffsetMinutes),
      count: 0,
      amount: 0,
    };
    d.count += 1;
    d.amount += e.amount ?? 0;
    daily.set(dayKey, d);

    if (ruleSet.byTrigger.has(e.type)) {
      const data: EvalData = {
        contact: st.contact,
        tags: [...st.tags],
        stats: st.stats,
        events: st.events,
        event: { type: e.type, text: e.text ?? null, channel: e.channel ?? null, amount: e.amount ?? null },
        now: o.now,
        tzOffsetMinutes: o.tzOffsetMinutes,
      };
      const calls: OutboundFiring[] = [];
      const asked = changesForEvent(ruleSet, data, st.contact.bucket as number, (r, nodeIds) => {
        for (const nodeId of nodeIds) {
          const action = r.actionsById.get(nodeId) as OutboundActionSpec;
          const eventRef = `${o.sourceId}:${e.id}`;
          calls.push({ ruleId: r.id, ruleVersion: r.version, nodeId, action, externalId: st.externalId, eventRef, tagChanges: [] });
        }
      });
      const effective = applyChanges(st.tags, asked, ruleSet.tags, st.cause);
      for (const c of calls)
        fired({ ...c, tagChanges: effective.filter((x) => x.ruleId === c.ruleId).map(({ tagId, op }) => ({ tagId, op })) });
      if (effective.length) res.tagChanges = effective.map(({ tagId, op, ruleId, ruleVersion }) => ({ tagId, op, ruleId, ruleVersion }));
    }
  }

  if (fresh.length === 0) return [];
  return writeStatements(db, fresh, [...byExt.values()], [...daily.values()], o);
}

function newState(externalId: string, id: number | null, contact: Record<string, unknown>, isNew: boolean): ContactState {
  return {
    externalId,
    id,
    isNew,
    contact,
    attrs: {},
    tags: new Set(),
    initialTags: new Set(),
    cause: new Map(),
    stats: [],
    events: [],
    delta: { m: 0, p: 0, s: 0, i: 0, v: 0, la: null, lp: null },
  };
}

/** A contact as the INSERT below creates it, in the evaluators' shape. */
function newContact(externalId: string, o: IngestOptions): Record<string, unknown> {
  return contactWithDefaults({ id: null, kind: o.defaultKind, externalId, name: externalId, bucket: bucketOf(externalId), at: o.now });
}

function applyAttributes(st: ContactState, e: IngestEvent, o: IngestOptions): void {
  for (const [key] of ATTRIBUTE_COLUMNS) {
    const v = e.contact[key];
    if (v === undefined) continue;
    st.attrs[key] = v;
    st.contact[key] = v;
  }
  st.contact.updatedAt = Math.max(Number(st.contact.updatedAt ?? 0), o.now);
}

/**
 * How one event moves a contact's aggregates — the same moves the demo generator makes and the
 * UPDATE in `writeStatements` applies as deltas: every event is activity; messages, purchases
 * (count, spend in fen, last purchase), invites and violations are counted.
 */
function applyAggregates(st: ContactState, e: IngestEvent, tz: number): void {
  const c = st.contact;
  const d = st.delta;
  const at = e.occurredAt;
  const later = (cur: unknown) => (cur === null || cur === undefined || at > (cur as number) ? at : (cur as number));
  c.lastActiveAt = later(c.lastActiveAt);
  d.la = d.la === null || at > d.la ? at : d.la;
  switch (e.type) {
    case 'message':
      c.messageCount = (c.messageCount as number) + 1;
      d.m++;
      break;
    case 'purchase':
      c.purchaseCount = (c.purchaseCount as number) + 1;
      c.totalSpend = (c.totalSpend as number) + (e.amount ?? 0);
      c.lastPurchaseAt = later(c.lastPurchaseAt);
      d.p++;
      d.s += e.amount ?? 0;
      d.lp = d.lp === null || at > d.lp ? at : d.lp;
      break;
    case 'invite':
      c.inviteCount = (c.inviteCount as number) + 1;
      d.i++;
      break;
    case 'violation':
      c.violationCount = (c.violationCount as number) + 1;
      d.v++;
      break;
  }
  const day = dayNumber(at, tz);
  const row = st.stats.find((s) => s.type === e.type && s.day === day);
  if (row) {
    row.count += 1;
    row.amount += e.amount ?? 0;
  } else st.stats.push({ type: e.type, day, count: 1, amount: e.amount ?? 0 });
  st.events.push({ type: e.type, occurredAt: at, amount: e.amount ?? null, channel: e.channel ?? null, text: e.text ?? null });
}

const jv = (path: string) => `json_extract(j.value, '$.${path}')`;

function writeStatements(
  db: D1Database,
  fresh: IngestEvent[],
  contacts: ContactState[],
  daily: { ext: string; type: string; day: number; count: number; amount: number }[],
  o: IngestOptions,
): D1PreparedStatement[] {
  // Long on purpose: the write batch's set-based statements in the order the transaction needs (the guard right after the events INSERT).
  const out: D1PreparedStatement[] = [];
  const touched = contacts.filter((c) => c.delta.la !== null);

  out.push(
    ...contactUpsertStatements(
      db,
      touched.map((c) => ({
        externalId: c.externalId,
        isNew: c.isNew,
        attrs: c.attrs,
        // Pinyin keys of the names just written, so the contact is found by pinyin at once (worker/src/search/keys.ts).
        ...(c.isNew || c.attrs.name !== undefined || c.attrs.remark !== undefined
          ? {
              keys: {
                name: c.attrs.name ?? (c.isNew ? c.externalId : (c.contact.name as string)),
                remark: c.attrs.remark ?? (c.isNew ? null : ((c.contact.remark as string | null) ?? null)),
              },
            }
          : {}),
      })),
      o.defaultKind,
      o.now,
    ),
  );

  // Events, in chunks under D1's bound-value size; each chunk guarded.
  let chunk: unknown[] = [];
  let bytes = 0;
  const flush = () => {
    if (!chunk.length) return;
    out.push(
      db
        .prepare(
          `INSERT INTO events (source_id, sender_event_id, contact_id, type, occurred_at, received_at, amount, channel, group_id, text, properties)
           SELECT ?1, ${jv('id')}, c.id, ${jv('type')}, ${jv('at')}, COALESCE(${jv('rcv')}, ?2), ${jv('amount')}, ${jv('channel')}, ${jv('group')}, ${jv('text')}, COALESCE(${jv('props')}, '{}')
           FROM json_each(?3) j JOIN contacts c ON c.external_id = ${jv('ext')} WHERE true ORDER BY j.key
           ON CONFLICT(source_id, sender_event_id) DO NOTHING`,
        )
        .bind(o.sourceId, o.now, json(chunk)),
      // The guard: every event of the chunk must have been inserted, else roll back (see top).
      db.prepare(`SELECT CASE WHEN changes() = ? THEN 1 ELSE json('race:' || changes()) END AS ok`).bind(chunk.length),
    );
    chunk = [];
    bytes = 0;
  };
  for (const e of fresh) {
    const item = {
      id: e.id,
      ext: e.contact.externalId,
      type: e.type,
      at: e.occurredAt,
      amount: e.amount ?? null,
      channel: e.channel ?? null,
      group: e.groupId ?? null,
      text: e.text ?? null,
      props: e.properties ? json(e.properties) : null,
      rcv: o.receivedAt?.get(e) ?? null,
    };
    const size = json(item).length * 3;
    if (bytes + size > CHUNK_BYTES) flush();
    chunk.push(item);
    bytes += size;
  }
  flush();

  out.push(
    db
      .prepare(
        `UPDATE contacts SET
           message_count = message_count + ${jv('m')}, purchase_count = purchase_count + ${jv('p')},
           total_spend = total_spend + ${jv('s')}, invite_count = invite_count + ${jv('i')},
           violation_count = violation_count + ${jv('v')},
           last_purchase_at = CASE WHEN ${jv('lp')} IS NULL THEN last_purchase_at ELSE MAX(COALESCE(last_purchase_at, ${jv('lp')}), ${jv('lp')}) END,
           last_active_at = MAX(COALESCE(last_active_at, ${jv('la')}), ${jv('la')}),
           updated_at = MAX(updated_at, ?1)
         FROM json_each(?2) j WHERE contacts.external_id = ${jv('ext')}`,
      )
      .bind(o.now, json(touched.map((c) => ({ ext: c.externalId, ...c.delta })))),
    db
      .prepare(
        `INSERT INTO contact_daily_stats (contact_id, type, day, count, amount)
         SELECT c.id, ${jv('type')}, ${jv('day')}, ${jv('count')}, ${jv('amount')}
         FROM json_each(?) j JOIN contacts c ON c.external_id = ${jv('ext')} WHERE true
         ON CONFLICT(contact_id, type, day) DO UPDATE SET count = count + excluded.count, amount = amount + excluded.amount`,
      )
      .bind(json(daily)),
    db
      .prepare('UPDATE event_sources SET event_count = event_count + ?, last_event_at = MAX(COALESCE(last_event_at, 0), ?) WHERE id = ?')
      .bind(
        fresh.length,
        fresh.reduce((m, e) => Math.max(m, o.receivedAt?.get(e) ?? o.now), 0),
        o.sourceId,
      ),
  );

  // Net tag changes per contact (start of request → end), each attributed to the rule version
  // that made it; the tag writer applies them in a constant number of statements.
  const changes: TagChange[] = [];
  const change = (c: ContactState, tagId: number, op: 'add' | 'remove') => {
    const cause = c.cause.get(tagId) as RuleChange;
    changes.push({ contactId: c.id ?? { externalId: c.externalId }, tagId, op, ruleId: cause.ruleId, ruleVersion: cause.ruleVersion });
  };
  for (const c of contacts) for (const t of c.initialTags) if (!c.tags.has(t)) change(c, t, 'remove');
  for (const c of contacts) for (const t of c.tags) if (!c.initialTags.has(t)) change(c, t, 'add');
  if (changes.length) out.push(...tagChangeStatements(db, changes, { source: 'rule', batchId: o.batchId, at: o.now }));
  return out;
}

/** One contact for {@link contactUpsertStatements}. */
export interface ContactUpsert {
  externalId: string;
  /** not in `contacts` when the caller read (a concurrent writer may still create it: the INSERT then does nothing) */
  isNew: boolean;
  /** attributes the sender gave; each one given overwrites the stored one, the others stay */
  attrs: Partial<Record<AttributeKey, string>>;
  /** name and remark as they are after this write, when they changed (or the contact is new): its search keys are written in the same batch */
  keys?: { name: string; remark: string | null };
}

/**
 * The contact upsert every event-driven writer shares (webhook intake here, the WeCom pull in
 * worker/src/wecom/sync/): new contacts inserted (DO NOTHING: a concurrent writer may have made
 * one), given attributes written last-value-wins, and the pinyin search keys of names that
 * changed, set-based in a constant number of statements for the caller's one batch.
 */
export function contactUpsertStatements(
  db: D1Database,
  rows: readonly ContactUpsert[],
  defaultKind: ContactKind,
  now: number,
): D1PreparedStatement[] {
  const out: D1PreparedStatement[] = [];
  const created = rows.filter((c) => c.isNew);
  if (created.length) {
    const cols = ATTRIBUTE_COLUMNS.filter(([k]) => k !== 'kind' && k !== 'name' && k !== 'gender');
    out.push(
      db
        .prepare(
          `INSERT INTO contacts (external_id, kind, name, gender, ${cols.map(([, c]) => c).join(', ')}, bucket, created_at, updated_at)
           SELECT ${jv('ext')}, ${jv('kind')}, ${jv('name')}, ${jv('gender')}, ${cols.map(([k]) => jv(k)).join(', ')}, ${jv('bucket')}, ?1, ?1
           FROM json_each(?2) j WHERE true ON CONFLICT(external_id) DO NOTHING`,
        )
        .bind(
          now,
          json(
            created.map((c) => ({
              ...c.attrs,
              ext: c.externalId,
              kind: c.attrs.kind ?? defaultKind,
              name: c.attrs.name ?? c.externalId,
              gender: c.attrs.gender ?? 'unknown',
              bucket: bucketOf(c.externalId),
            })),
          ),
        ),
    );
  }
  // Attributes the sender sent, last value wins (also for a contact a concurrent request created).
  // A new contact's attributes were all written by the INSERT just before: it is updated only when
  // that INSERT did not insert every new contact (`changes()` still counts the INSERT's rows here,
  // the statement right before; a concurrent writer made one of them), instead of rewriting
  // (and re-indexing) every row a WeCom backfill page just inserted (bench/wecom.ts).
  const withAttrs = rows.filter((c) => Object.keys(c.attrs).length > 0);
  if (withAttrs.length) {
    out.push(
      db
        .prepare(
          `UPDATE contacts SET ${ATTRIBUTE_COLUMNS.map(([k, col]) => `${col} = COALESCE(${jv(k)}, contacts.${col})`).join(', ')}
           FROM json_each(?1) j WHERE contacts.external_id = ${jv('ext')} AND (${jv('n')} IS NULL OR changes() < ?2)`,
        )
        .bind(json(withAttrs.map((c) => ({ ...c.attrs, ext: c.externalId, ...(c.isNew ? { n: 1 } : {}) }))), created.length),
    );
  }
  out.push(
    ...keyStatements(
      db,
      'contact',
      rows.flatMap((c) => (c.keys ? [{ externalId: c.externalId, name: c.keys.name, remark: c.keys.remark }] : [])),
    ),
  );
  return out;
}
