/**
 * The event archive (worker/src/archive/) over demo data, on the real local D1 and R2: days
 * older than the horizon move to R2 and leave D1; interrupted runs (after the put, after the
 * record, mid-day) resume to exactly the state a clean run reaches; runs are idempotent; the
 * rollup and every aggregate answer the same after; the horizon follows the longest raw window;
 * publishing a window longer than D1 holds is refused; the contact timeline reads archived
 * days back equal to what D1 held.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { demoSql } from '@shared/demo';
import { compileRule } from '@shared/rules/compile';
import { expectedOf, type RuleDetail, type RulePreviewResponse } from '@shared/api/rules';
import type { ArchivedEventsPage, EventTimelinePage } from '@shared/api/taxonomy';
import type { ConditionSpec, RuleGraph } from '@shared/rules/types';
import { dayNumber, dayStartMs } from '@shared/time';
import { archiveStep, chunkKey, type ArchiveOptions, type ArchiveReport } from '../src/archive/job';
import { archiveHorizon, archivedThroughDay } from '../src/archive/horizon';
import { fromNdjson, gunzip } from '../src/archive/ndjson';
import { sha256Hex } from '../src/crypto/sha256';
import { archivedEventRows } from '../src/archive/timeline';
import { runScheduled } from '../src/cron/scheduled';
import { sampleMatches } from '../src/rules/preview';
import type { ContactEventRow } from '../src/db/rows';
import { api } from './fixtures';

const db = env.DB;
const NOW = Date.now();
const TZ = 480;
/** Rows per chunk: small, so that days take several chunks. */
const CHUNK = 3;
/** Events planted on the oldest day (see beforeAll): more than three chunks' worth. */
const PLANTED = 10;
const TODAY = dayNumber(NOW, TZ);
let original: ContactEventRow[] = [];
let stats: unknown[] = [];

const allEvents = async () => (await db.prepare('SELECT * FROM events ORDER BY id').all<ContactEventRow>()).results;

/** Every event the archive holds, through its records (done chunks only), with each object checked against its record. */
async function archivedEvents(): Promise<ContactEventRow[]> {
  const { results } = await db
    .prepare('SELECT day, chunk, key, rows, checksum FROM event_archive WHERE deleted_at IS NOT NULL ORDER BY day, chunk')
    .all<{ day: number; chunk: number; key: string; rows: number; checksum: string }>();
  const out: ContactEventRow[] = [];
  for (const r of results) {
    expect(r.key).toBe(chunkKey(r.day, r.chunk, r.checksum));
    const object = await env.ARCHIVE.get(r.key);
    const text = await gunzip(object!.body);
    expect(await sha256Hex(text)).toBe(r.checksum);
    const rows = fromNdjson(text);
    expect(rows).toHaveLength(r.rows);
    for (const e of rows) expect(dayNumber(e.occurred_at, TZ), r.key).toBe(r.day);
    out.push(...rows);
  }
  return out;
}

const objectKeys = async () => (await env.ARCHIVE.list({ prefix: 'events/' })).objects.map((o) => o.key).sort();

/** Back to the seeded state: the original events in D1, no archive. */
async function reset() {
  await db.batch([db.prepare('DELETE FROM event_archive'), db.prepare('DELETE FROM events')]);
  for (let i = 0; i < original.length; i += 500) {
    await db
      .prepare(
        `INSERT INTO events (id, source_id, sender_event_id, contact_id, type, occurred_at, received_at, amount, channel, group_id, text, properties)
         SELECT j.value->>'id', j.value->>'source_id', j.value->>'sender_event_id', j.value->>'contact_id', j.value->>'type', j.value->>'occurred_at',
           j.value->>'received_at', j.value->>'amount', j.value->>'channel', j.value->>'group_id', j.value->>'text', j.value->>'properties'
         FROM json_each(?) j`,
      )
      .bind(JSON.stringify(original.slice(i, i + 500)))
      .run();
  }
  const keys = await objectKeys();
  if (keys.length) await env.ARCHIVE.delete(keys);
  // rules of earlier tests no longer widen the horizon
  await db.prepare(`UPDATE rules SET status = 'archived'`).run();
}

/** Steps until one does nothing; answers every report. */
async function runToEnd(opts: ArchiveOptions = {}, at = NOW): Promise<ArchiveReport[]> {
  const horizon = await archiveHorizon(env);
  const reports: ArchiveReport[] = [];
  for (let i = 0; i < 500; i++) {
    const r = await archiveStep(env, at, horizon, { maxChunks: 10, ...opts });
    reports.push(r);
    if (r.chunks.length === 0 && r.dropped.length === 0) return reports;
  }
  throw new Error('the archive did not finish');
}

/** D1 and the archive together hold exactly the original events, none twice, and nothing young was archived. */
async function expectNothingLostOrDoubled(cutoffDay: number) {
  const archived = await archivedEvents();
  const left = await allEvents();
  const ids = [...archived, ...left].map((e) => e.id);
  expect(new Set(ids).size).toBe(ids.length);
  const byId = (a: ContactEventRow, b: ContactEventRow) => a.id - b.id;
  expect([...archived, ...left].sort(byId)).toEqual(original);
  expect(archived.every((e) => dayNumber(e.occurred_at, TZ) < cutoffDay)).toBe(true);
  expect(left.every((e) => dayNumber(e.occurred_at, TZ) >= cutoffDay)).toBe(true);
  expect(await db.prepare('SELECT COUNT(*) AS n FROM event_archive WHERE deleted_at IS NULL').first('n')).toBe(0);
  return archived;
}

/** The final state of a clean run: object keys and their records. */
async function finalState() {
  return {
    keys: await objectKeys(),
    records: (
      await db
        .prepare('SELECT day, chunk, key, rows, first_contact, last_contact, max_id, checksum FROM event_archive ORDER BY day, chunk')
        .all()
    ).results,
  };
}

beforeAll(async () => {
  const statements = [...demoSql({ contacts: 150, seed: 41, now: NOW, avgEvents: 14 })];
  for (let i = 0; i < statements.length; i += 50) await db.batch(statements.slice(i, i + 50).map((s) => db.prepare(s)));
  // The demo's oldest day may hold a single event (it depends on the time of day the tests run); a
  // burst of PLANTED events on an older day makes the oldest day span several chunks in every run.
  const template = (await allEvents())[0]!;
  const burstStart = dayStartMs(TODAY - 200, TZ);
  await db.batch(
    Array.from({ length: PLANTED }, (_, k) =>
      db
        .prepare(
          `INSERT INTO events (id, source_id, sender_event_id, contact_id, type, occurred_at, received_at, amount, channel, group_id, text, properties)
           SELECT ?, source_id, ?, contact_id, type, ?, ?, amount, channel, group_id, text, properties FROM events WHERE id = ?`,
        )
        .bind(9_000_000 + k, `planted-${k}`, burstStart + k * 60_000, burstStart + k * 60_000, template.id),
    ),
  );
  original = await allEvents();
  expect(original.filter((e) => dayNumber(e.occurred_at, TZ) === TODAY - 200)).toHaveLength(PLANTED);
  stats = (await db.prepare('SELECT * FROM contact_daily_stats ORDER BY contact_id, type, day').all()).results;
});
beforeEach(reset);

/** The 90-day default: days before today − 89 go. */
const CUTOFF = TODAY - 90 + 1;

describe('archiving raw events to R2', () => {
  let clean: Awaited<ReturnType<typeof finalState>>;

  it('moves every day older than the horizon to R2 in chunks and deletes exactly those rows from D1', async () => {
    expect(original.some((e) => dayNumber(e.occurred_at, TZ) < CUTOFF - 60)).toBe(true);
    const reports = await runToEnd({ chunkRows: CHUNK });
    expect(reports[0]!.horizonDays).toBe(90);
    expect(reports[0]!.cutoffDay).toBe(CUTOFF);
    const archived = await expectNothingLostOrDoubled(CUTOFF);
    expect(archived.length).toBe(original.filter((e) => dayNumber(e.occurred_at, TZ) < CUTOFF).length);
    clean = await finalState();
    // some day needed more than one chunk, and every recorded chunk has its object (and no other object exists)
    expect(clean.records.some((r) => (r as { chunk: number }).chunk > 0)).toBe(true);
    expect(clean.keys).toEqual(clean.records.map((r) => (r as { key: string }).key).sort());
  });

  it('keeps the daily rollup whole and every aggregate answers the same after archiving', async () => {
    const graphs: ConditionSpec[] = [];
    for (const days of [7, 30, 90, 180, 365])
      for (const [eventType, value] of [
        ['message', 1],
        ['message', 4],
        ['purchase', 1],
      ] as const)
        graphs.push({ field: 'event.count', op: 'gte', value, params: { eventType, days } });
    graphs.push({ field: 'event.amount', op: 'gte', value: 10_000, params: { eventType: 'purchase', days: 365 } });
    graphs.push({ field: 'event.count', op: 'gte', value: 1, params: { eventType: 'purchase', days: 60, channel: '门店' } });
    const answers = async () => {
      const out: number[][] = [];
      for (const cond of graphs) {
        const rule = compileRule(scheduled(cond, 1));
        if (!rule.ok) throw new Error(JSON.stringify(rule.errors));
        const m = await sampleMatches(db, rule.value, { now: NOW, tzOffsetMinutes: TZ }, 10_000);
        if (!m.ok) throw new Error('preview failed');
        out.push(m.value.map((c) => c.id).sort((a, b) => a - b));
      }
      return out;
    };
    const before = await answers();
    expect(before.filter((ids) => ids.length > 0).length).toBeGreaterThan(10);
    await runToEnd();
    expect((await archivedEvents()).length).toBeGreaterThan(100);
    expect(await answers()).toEqual(before);
    expect((await db.prepare('SELECT * FROM contact_daily_stats ORDER BY contact_id, type, day').all()).results).toEqual(stats);
  });

  it('resumes a run interrupted after the put and before the record: the object is rewritten, no day lost or doubled', async () => {
    await expect(archiveStep(env, NOW, await archiveHorizon(env), { chunkRows: CHUNK, fault: 'after-put' })).rejects.toThrow('after put');
    expect(await objectKeys()).toHaveLength(1);
    expect(await allEvents()).toEqual(original);
    await runToEnd({ chunkRows: CHUNK });
    await expectNothingLostOrDoubled(CUTOFF);
    expect(await finalState()).toEqual(clean);
  });

  it('resumes a run interrupted after the record and before the delete: the chunk is finished from its object', async () => {
    await expect(archiveStep(env, NOW, await archiveHorizon(env), { chunkRows: CHUNK, fault: 'after-record' })).rejects.toThrow(
      'after record',
    );
    expect(await allEvents()).toEqual(original);
    expect(await db.prepare('SELECT COUNT(*) AS n FROM event_archive WHERE deleted_at IS NULL').first('n')).toBe(1);
    const reports = await runToEnd({ chunkRows: CHUNK });
    expect(reports[0]!.chunks[0]).toMatchObject({ chunk: 0, rows: CHUNK, resumed: true });
    await expectNothingLostOrDoubled(CUTOFF);
    expect(await finalState()).toEqual(clean);
  });

  it('resumes a day interrupted between chunks, and drops a pending chunk whose rows another run already archived', async () => {
    // Two chunks of the first day, then a crash after the third chunk's record.
    await archiveStep(env, NOW, await archiveHorizon(env), { chunkRows: CHUNK, maxChunks: 2 });
    await expect(archiveStep(env, NOW, await archiveHorizon(env), { chunkRows: CHUNK, fault: 'after-record' })).rejects.toThrow();
    const pending = await db
      .prepare('SELECT day, chunk FROM event_archive WHERE deleted_at IS NULL')
      .first<{ day: number; chunk: number }>();
    expect(pending).toMatchObject({ chunk: 2 });
    // Mid-day: the day's first chunks left D1, the rest of the day is still there.
    const day = pending!.day;
    const leftOfDay = (await allEvents()).filter((e) => dayNumber(e.occurred_at, TZ) === day);
    expect(leftOfDay.length).toBeGreaterThan(0);
    expect(leftOfDay.length).toBeLessThan(original.filter((e) => dayNumber(e.occurred_at, TZ) === day).length);
    await runToEnd({ chunkRows: CHUNK });
    await expectNothingLostOrDoubled(CUTOFF);
    expect(await finalState()).toEqual(clean);

    // A stale pending record (its rows were deleted by the chunk that really holds them): dropped, nothing doubled.
    const done = clean.records[0] as {
      day: number;
      key: string;
      rows: number;
      checksum: string;
      first_contact: number;
      last_contact: number;
      max_id: number;
    };
    const copy = chunkKey(done.day, 999, done.checksum);
    const object = await env.ARCHIVE.get(done.key);
    await env.ARCHIVE.put(copy, await object!.arrayBuffer());
    await db
      .prepare(
        `INSERT INTO event_archive (day, chunk, key, rows, first_contact, last_contact, max_id, checksum, bytes, written_at) VALUES (?, 999, ?, ?, ?, ?, ?, ?, 1, ?)`,
      )
      .bind(done.day, copy, done.rows, done.first_contact, done.last_contact, done.max_id, done.checksum, NOW)
      .run();
    const [report] = await runToEnd({ chunkRows: CHUNK });
    expect(report!.dropped).toEqual([{ day: done.day, chunk: 999 }]);
    expect(await finalState()).toEqual(clean);
    await expectNothingLostOrDoubled(CUTOFF);
  });

  it('is idempotent: a second run, or two at once, change nothing more', async () => {
    await Promise.all([runToEnd({ chunkRows: CHUNK }), runToEnd({ chunkRows: CHUNK })]);
    await expectNothingLostOrDoubled(CUTOFF);
    expect(await finalState()).toEqual(clean);
    const etags = (await env.ARCHIVE.list({ prefix: 'events/' })).objects.map((o) => o.etag);
    const again = await runToEnd({ chunkRows: CHUNK });
    expect(again).toHaveLength(1);
    expect(again[0]!.chunks).toEqual([]);
    expect((await env.ARCHIVE.list({ prefix: 'events/' })).objects.map((o) => o.etag)).toEqual(etags);
    expect(await finalState()).toEqual(clean);
  });

  it('archives a late event of an already archived day as a further chunk of that day', async () => {
    await runToEnd({ chunkRows: CHUNK });
    const day = (clean.records[0] as { day: number }).day;
    const late = { ...original.find((e) => dayNumber(e.occurred_at, TZ) === day)!, id: 10_000_000, sender_event_id: 'late-1' };
    await db
      .prepare(
        `INSERT INTO events (id, source_id, sender_event_id, contact_id, type, occurred_at, received_at, amount, channel, group_id, text, properties) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
      )
      .bind(
        late.id,
        late.source_id,
        late.sender_event_id,
        late.contact_id,
        late.type,
        late.occurred_at,
        NOW,
        late.amount,
        late.channel,
        late.group_id,
        late.text,
        late.properties,
      )
      .run();
    await runToEnd({ chunkRows: CHUNK });
    const archived = await archivedEvents();
    expect(archived.filter((e) => e.id === late.id)).toHaveLength(1);
    expect(await db.prepare('SELECT COUNT(*) AS n FROM events WHERE id = ?').bind(late.id).first('n')).toBe(0);
  });

  it('runs from the Cron Trigger a bounded number of chunks per tick', async () => {
    const report = await runScheduled(env, NOW);
    expect(report.errors).toEqual([]);
    expect(report.archived!.chunks.length).toBeGreaterThan(0);
    expect(report.archived!.chunks.length).toBeLessThanOrEqual(4);
  });
});

/** Schedule → cond → add tag. */
function scheduled(cond: ConditionSpec, tagId: number): RuleGraph {
  return {
    schemaVersion: 1,
    nodes: [
      { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } },
      { id: 'c', kind: 'condition', condition: cond },
      { id: 'a', kind: 'action', action: { type: 'add_tag', tagId } },
    ],
    edges: [
      { id: 'e1', source: 't', target: 'c' },
      { id: 'e2', source: 'c', target: 'a', sourceHandle: 'yes' },
    ],
  };
}

async function insertPublished(id: number, cond: ConditionSpec, status = 'published') {
  const graph = scheduled(cond, 1);
  const compiled = compileRule(graph);
  if (!compiled.ok) throw new Error(JSON.stringify(compiled.errors));
  await db.batch([
    db
      .prepare(
        `INSERT INTO rules (id, name, status, draft_graph, published_version, created_at, updated_at) VALUES (?, ?, ?, ?, 1, 0, 0)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status`,
      )
      .bind(id, `archive-${id}`, status, JSON.stringify(graph)),
    db
      .prepare(
        `INSERT INTO rule_versions (rule_id, version, graph, logic, trigger, rollout_percent, created_at, published_at) VALUES (?, 1, ?, ?, 'schedule', 100, 0, 0)
         ON CONFLICT DO NOTHING`,
      )
      .bind(id, JSON.stringify(graph), JSON.stringify(compiled.value.logic)),
  ]);
}

const channelWindow = (days: number): ConditionSpec => ({
  field: 'event.count',
  op: 'gte',
  value: 1,
  params: { eventType: 'purchase', days, channel: '门店' },
});

describe('the retention horizon', () => {
  it('follows the longest raw-event window of a published or paused rule plus the margin, never under ARCHIVE_MIN_DAYS', async () => {
    expect(await archiveHorizon(env)).toEqual({ days: 90, longestWindow: 0 });
    // a window without a property filter reads the rollup: no effect
    await insertPublished(9001, { field: 'event.count', op: 'gte', value: 1, params: { eventType: 'purchase', days: 365 } });
    expect(await archiveHorizon(env)).toEqual({ days: 90, longestWindow: 0 });
    await insertPublished(9002, channelWindow(120), 'paused');
    expect(await archiveHorizon(env)).toEqual({ days: 127, longestWindow: 120 });
    expect((await archiveHorizon({ ...env, ARCHIVE_MARGIN_DAYS: '30' } as Env)).days).toBe(150);
    expect((await archiveHorizon({ ...env, ARCHIVE_MIN_DAYS: '160' } as Env)).days).toBe(160);

    await runToEnd();
    const left = await allEvents();
    expect(Math.min(...left.map((e) => dayNumber(e.occurred_at, TZ)))).toBeGreaterThanOrEqual(TODAY - 127 + 1);
    expect(left.length).toBe(original.filter((e) => dayNumber(e.occurred_at, TZ) >= TODAY - 127 + 1).length);
    expect(await archivedThroughDay(db)).toBeLessThanOrEqual(TODAY - 127);
  });

  it('archives nothing while a published rule has stored logic that cannot be read', async () => {
    await insertPublished(9003, channelWindow(30));
    await db.prepare(`UPDATE rule_versions SET logic = 'not json' WHERE rule_id = 9003`).run();
    const reports = await runToEnd();
    expect(reports[0]!.horizonDays).toBeNull();
    expect(await allEvents()).toEqual(original);
  });

  it('refuses to preview or publish a rule whose raw-event window reaches into archived days, naming the node and the days D1 holds', async () => {
    await runToEnd();
    const json = (body: unknown): RequestInit => ({
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const tag = (await db.prepare(`SELECT id FROM tags WHERE status = 'active' LIMIT 1`).first<{ id: number }>())!.id;
    const attempt = async (days: number) => {
      const g = scheduled(channelWindow(days), tag);
      const rule = await api<RuleDetail>('/api/rules', json({ name: `window ${days}`, graph: g }));
      expect(rule.status).toBe(201);
      const p = await api<RulePreviewResponse>(
        '/api/rules/preview',
        json({ graph: g, ruleId: rule.body.id, rolloutPercent: 100, sampleSize: 0 }),
      );
      const expected = p.body.ok ? expectedOf(p.body.counts) : {};
      // publishing the saved draft by its hash, as a client that ignored the preview's errors would
      const published = await api(
        `/api/rules/${rule.body.id}/publish`,
        json({ rolloutPercent: 100, graphHash: p.body.graphHash, expected, confirm: true }),
      );
      return { preview: p.body, published };
    };
    const message = /reads 120 days of raw events.*D1 holds the last \d+ days/;
    const refused = await attempt(120);
    expect(refused.preview.ok).toBe(false);
    expect(refused.preview.ok ? [] : refused.preview.errors).toEqual([
      { nodeId: 'c', code: 'bad_params', message: expect.stringMatching(message) },
    ]);
    expect(refused.published.status).toBe(422);
    expect(refused.published.body.error.code).toBe('invalid_rule');
    expect(refused.published.body.error.message).toMatch(message);
    expect(refused.published.body.error.details).toEqual([{ path: 'c', message: expect.stringMatching(message) }]);
    const fits = await attempt(90);
    expect(fits.preview.ok).toBe(true);
    expect(fits.published.status).toBe(200);
  });
});

describe('the contact timeline over archived days', () => {
  it('says older history is archived and reads it back from R2 page by page, equal to what D1 held', async () => {
    // the contact with the most events older than the cutoff
    const old = original.filter((e) => dayNumber(e.occurred_at, TZ) < CUTOFF);
    const counts = new Map<number, number>();
    for (const e of old) counts.set(e.contact_id, (counts.get(e.contact_id) ?? 0) + 1);
    const [contactId] = [...counts].sort((a, b) => b[1] - a[1])[0]!;
    const mine = original.filter((e) => e.contact_id === contactId);

    const before = await api<EventTimelinePage>(`/api/contacts/${contactId}/events?pageSize=100`);
    expect(before.body.total).toBe(mine.length);
    expect(before.body.archivedThrough).toBeNull();

    await runToEnd({ chunkRows: CHUNK });
    const recent = await api<EventTimelinePage>(`/api/contacts/${contactId}/events?pageSize=100`);
    expect(recent.body.total).toBe(mine.filter((e) => dayNumber(e.occurred_at, TZ) >= CUTOFF).length);
    expect(recent.body.archivedThrough).not.toBeNull();
    expect(dayNumber(Date.parse(`${recent.body.archivedThrough}T00:00:00+08:00`), TZ)).toBeLessThan(CUTOFF);

    const items: ArchivedEventsPage['items'] = [];
    let before_: string | null | undefined;
    let pages = 0;
    do {
      const page = await api<ArchivedEventsPage>(`/api/contacts/${contactId}/events/archived${before_ ? `?before=${before_}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body.daysRead).toBeLessThanOrEqual(30);
      items.push(...page.body.items);
      before_ = page.body.nextBefore;
      pages++;
    } while (before_);
    const expected = mine
      .filter((e) => dayNumber(e.occurred_at, TZ) < CUTOFF)
      .sort((a, b) => b.occurred_at - a.occurred_at || b.id - a.id)
      .map((e) => ({
        id: e.id,
        type: e.type,
        occurredAt: e.occurred_at,
        amount: e.amount,
        channel: e.channel,
        groupId: e.group_id,
        text: e.text,
      }));
    expect(items).toEqual(expected);

    // In pages of 7 days (the API reads 30): the same events, each page older than the last.
    const paged: number[] = [];
    let cursor: number | null = null;
    let pages7 = 0;
    do {
      const page: Awaited<ReturnType<typeof archivedEventRows>> = await archivedEventRows(env, contactId, cursor, 7);
      expect(page.daysRead).toBeLessThanOrEqual(7);
      paged.push(...page.rows.map((r) => r.id));
      cursor = page.nextBefore;
      pages7++;
    } while (cursor !== null);
    expect(pages7).toBeGreaterThan(2);
    expect(paged).toEqual(expected.map((e) => e.id));
  });

  it('answers 400 naming the parameter for a bad date, and nothing archived for a contact outside every chunk', async () => {
    for (const bad of ['yesterday', '2026-02-31x', '2026-13-45']) {
      const r = await api(`/api/contacts/1/events/archived?before=${bad}`);
      expect(r.status, bad).toBe(400);
      expect(r.body.error.details[0].path).toContain('before');
    }
    const r = await api<ArchivedEventsPage>('/api/contacts/1/events/archived');
    expect(r.body).toEqual({ items: [], daysRead: 0, nextBefore: null });
  });
});
