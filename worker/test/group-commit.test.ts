import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { ingestGrouped, MAX_GROUP_EVENTS, type GroupOptions } from '../src/ingest/group-commit';
import type { IngestEvent } from '@shared/api/webhooks';
import { aroundBatch } from './fixtures';

/**
 * Group commit (worker/src/ingest/group-commit.ts) on the real D1: concurrent requests of one
 * source share pipeline runs. A D1 wrapper records how many events each write stored.
 */
const db = env.DB;
const OPTIONS: GroupOptions = { sourceId: 'gc', tzOffsetMinutes: 480, defaultKind: 'friend' };
const noKeepAlive = () => {};

/** A D1 that records how many events matching `pattern` each batch stored: the size of each run. */
function recordingRuns(pattern: string): { db: D1Database; runs: number[] } {
  const runs: number[] = [];
  const stored = async () =>
    (await db.prepare('SELECT COUNT(*) AS n FROM events WHERE sender_event_id LIKE ?').bind(pattern).first<{ n: number }>())?.n ?? 0;
  const wrapped = aroundBatch(db, async (stmts, batch) => {
    const before = await stored();
    const res = await batch(stmts);
    const added = (await stored()) - before;
    if (added > 0) runs.push(added);
    return res;
  });
  return { db: wrapped, runs };
}

const message = (id: string, ext: string): IngestEvent => ({
  id,
  type: 'message',
  occurredAt: Date.now() - 1000,
  text: '你好',
  contact: { externalId: ext },
});
const count = async (sql: string) => (await db.prepare(sql).first<{ n: number }>())?.n ?? 0;

beforeAll(async () => {
  await db.prepare(`INSERT INTO event_sources (id, name, kind, secret) VALUES ('gc', 'group commit', 'generic', 's')`).run();
});

describe('group commit', () => {
  it('writes concurrent requests in shared runs, each request getting its own results', async () => {
    const { db: wrapped, runs } = recordingRuns('gc-a%');
    const lane = {};
    const requests = Array.from({ length: 12 }, (_, i) => [message(`gc-a${i}`, `u_gc${i % 3}`)]);
    const responses = await Promise.all(requests.map((events) => ingestGrouped(wrapped, lane, events, OPTIONS, noKeepAlive)));

    responses.forEach((r, i) => {
      expect(r).toMatchObject({ received: 1, accepted: 1, duplicates: 0 });
      expect(r.results).toEqual([{ id: `gc-a${i}`, status: 'accepted' }]);
    });
    // every event stored by some run, and fewer runs than requests: they were grouped
    expect(runs.reduce((a, b) => a + b, 0)).toBe(12);
    expect(runs.length).toBeLessThan(12);
    expect(Math.max(...runs)).toBeGreaterThan(1);
    expect(await count(`SELECT COUNT(*) AS n FROM events WHERE sender_event_id LIKE 'gc-a%'`)).toBe(12);
    expect(await count(`SELECT SUM(message_count) AS n FROM contacts WHERE external_id LIKE 'u_gc%'`)).toBe(12);
  });

  it('lets requests received in the same turn join the first one even when the source was idle', async () => {
    const { db: wrapped, runs } = recordingRuns('gc-t%');
    const lane = {};
    const responses = await Promise.all(
      [0, 1, 2].map((i) => ingestGrouped(wrapped, lane, [message(`gc-t${i}`, 'u_gct')], OPTIONS, noKeepAlive)),
    );
    expect(responses.map((r) => r.accepted)).toEqual([1, 1, 1]);
    // one run for all three (without the turn the first would run alone: [1, 2])
    expect(runs).toEqual([3]);
  });

  it('stores an event id sent by two requests of one group once, the later copy reading duplicate', async () => {
    const lane = {};
    const [a, b, c] = await Promise.all([
      ingestGrouped(db, lane, [message('gc-d1', 'u_gcd')], OPTIONS, noKeepAlive),
      ingestGrouped(db, lane, [message('gc-d2', 'u_gcd'), message('gc-d3', 'u_gcd')], OPTIONS, noKeepAlive),
      ingestGrouped(db, lane, [message('gc-d2', 'u_gcd')], OPTIONS, noKeepAlive),
    ]);
    expect(a?.results.map((r) => r.status)).toEqual(['accepted']);
    expect(b?.results.map((r) => r.status)).toEqual(['accepted', 'accepted']);
    expect(c).toMatchObject({ received: 1, accepted: 0, duplicates: 1 });
    expect(await count(`SELECT COUNT(*) AS n FROM events WHERE sender_event_id LIKE 'gc-d%'`)).toBe(3);
    expect(await count(`SELECT message_count AS n FROM contacts WHERE external_id = 'u_gcd'`)).toBe(3);
  });

  it('never puts more than MAX_GROUP_EVENTS events in one run', async () => {
    const { db: wrapped, runs } = recordingRuns('gc-b%');
    const lane = {};
    const big = (tag: string) => Array.from({ length: 300 }, (_, i) => message(`gc-b${tag}${i}`, `u_gcb${i % 50}`));
    const responses = await Promise.all(['x', 'y', 'z'].map((tag) => ingestGrouped(wrapped, lane, big(tag), OPTIONS, noKeepAlive)));
    expect(responses.map((r) => r.accepted)).toEqual([300, 300, 300]);
    // 2 × 300 > MAX_GROUP_EVENTS (500): three runs of one request each
    expect(2 * 300).toBeGreaterThan(MAX_GROUP_EVENTS);
    expect(runs).toEqual([300, 300, 300]);
    expect(await count(`SELECT COUNT(*) AS n FROM events WHERE sender_event_id LIKE 'gc-b%'`)).toBe(900);
  });

  it("reads the next group in the same batch as this group's writes, and those reads see the writes", async () => {
    let batches = 0;
    const counting = aroundBatch(db, (stmts, batch) => {
      batches++;
      return batch(stmts);
    });
    const lane = {};
    // each request repeats the previous request's event: the copy must read as a duplicate
    // whichever group the two land in, so every group's reads see the earlier groups' writes
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        ingestGrouped(
          counting,
          lane,
          [message(`gc-s${i}`, 'u_gcs'), ...(i ? [message(`gc-s${i - 1}`, 'u_gcs')] : [])],
          OPTIONS,
          noKeepAlive,
        ),
      ),
    );
    expect(responses.reduce((n, r) => n + r.accepted, 0)).toBe(10);
    expect(responses.reduce((n, r) => n + r.duplicates, 0)).toBe(9);
    expect(await count(`SELECT message_count AS n FROM contacts WHERE external_id = 'u_gcs'`)).toBe(10);
    // at least two groups, and fewer batches than two per group would take
    const stored = await count(`SELECT COUNT(*) AS n FROM events WHERE sender_event_id LIKE 'gc-s%'`);
    expect(stored).toBe(10);
    expect(batches).toBeLessThan(2 * 10);
  });

  it('retries a group whose fused read went stale: a concurrent sender stored its event first', async () => {
    let calls = 0;
    let started = 0;
    const racing = aroundBatch(db, async (stmts, batch) => {
      started++;
      const res = await batch(stmts);
      // after the batch carrying A's writes and B's reads, another isolate stores B's event
      if (++calls === 2) {
        await db.batch([
          db.prepare(
            `INSERT INTO contacts (kind, external_id, name, bucket, created_at, updated_at) VALUES ('friend', 'u_gcr', 'r', 1, 0, 0) ON CONFLICT DO NOTHING`,
          ),
          db.prepare(
            `INSERT INTO events (source_id, sender_event_id, contact_id, type, occurred_at, received_at) SELECT 'gc', 'gc-r2', id, 'message', 1, 1 FROM contacts WHERE external_id = 'u_gcr'`,
          ),
          db.prepare(`UPDATE contacts SET message_count = message_count + 1 WHERE external_id = 'u_gcr'`),
        ]);
      }
      return res;
    });
    const lane = {};
    // B arrives while A's group is reading, so B is the next group (its reads ride on A's writes)
    const first = ingestGrouped(racing, lane, [message('gc-r1', 'u_gcr')], OPTIONS, noKeepAlive);
    while (started === 0) await new Promise((r) => setTimeout(r, 0));
    const [a, b] = await Promise.all([first, ingestGrouped(racing, lane, [message('gc-r2', 'u_gcr')], OPTIONS, noKeepAlive)]);
    expect(a?.accepted).toBe(1);
    expect(b).toMatchObject({ accepted: 0, duplicates: 1 });
    expect(await count(`SELECT COUNT(*) AS n FROM events WHERE sender_event_id LIKE 'gc-r%'`)).toBe(2);
    expect(await count(`SELECT message_count AS n FROM contacts WHERE external_id = 'u_gcr'`)).toBe(2);
  });

  it('fails every request of a run that fails, storing nothing of any of them, and serves the next run', async () => {
    const lane = {};
    let calls = 0;
    const failing = aroundBatch(db, (stmts, batch) =>
      // the first run's write batch (its second call) fails on a planted bad row
      ++calls === 2
        ? batch([
            ...stmts,
            db.prepare(
              `INSERT INTO contacts (kind, external_id, name, bucket, created_at, updated_at) VALUES ('robot', 'x', 'x', 1, 0, 0)`,
            ),
          ])
        : batch(stmts),
    );
    const outcomes = await Promise.allSettled(
      Array.from({ length: 4 }, (_, i) => ingestGrouped(failing, lane, [message(`gc-f${i}`, 'u_gcf')], OPTIONS, noKeepAlive)),
    );
    const failed = outcomes.filter((o) => o.status === 'rejected').length;
    expect(failed).toBeGreaterThan(0);
    // what failed stored nothing; what succeeded is stored once
    expect(await count(`SELECT COUNT(*) AS n FROM events WHERE sender_event_id LIKE 'gc-f%'`)).toBe(4 - failed);
    expect(await count(`SELECT COALESCE(SUM(message_count), 0) AS n FROM contacts WHERE external_id = 'u_gcf'`)).toBe(4 - failed);
    // the lane is free again
    const after = await ingestGrouped(db, lane, [message('gc-f9', 'u_gcf')], OPTIONS, noKeepAlive);
    expect(after.accepted).toBe(1);
  });
});
