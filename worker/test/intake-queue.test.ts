import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { consumeIntakeDead } from '../src/ingest/dead-letters';
import { enqueueEvents, IntakeUnavailable, type IntakeMessage } from '../src/ingest/intake-queue';
import { createMessageBatch, createExecutionContext, getQueueResult } from 'cloudflare:test';
import { aroundBatch, api, apiAs, eventually, intakeMessage, newDeadLetter, runIntake, untilStored } from './fixtures';

/**
 * The intake queue's consumer (worker/src/ingest/consumer.ts) on the real D1, driven with batches
 * built as the queue delivers them (`createMessageBatch`), and the faults at-least-once delivery
 * must survive: a write that fails, a consumer that fails after its write committed, the same
 * event in two batches at once, a poison message, the last delivery.
 */
const db = env.DB;

const msg = (source: string, id: string, ext: string, extra: Record<string, unknown> = {}) =>
  intakeMessage(source, { id, type: 'purchase', amount: 100, contact: { externalId: ext, name: '王小明' }, ...extra });

async function n(sql: string, ...params: unknown[]): Promise<number> {
  return (
    (await db
      .prepare(sql)
      .bind(...params)
      .first<number>('n')) ?? 0
  );
}

/** Everything a stored event of `ext` moves: its contact, events, rollup, ledger, and the source's counter. */
async function footprint(source: string, ext: string) {
  return {
    contacts: await n('SELECT COUNT(*) AS n FROM contacts WHERE external_id = ?', ext),
    purchases: await n('SELECT COALESCE(SUM(purchase_count), 0) AS n FROM contacts WHERE external_id = ?', ext),
    spend: await n('SELECT COALESCE(SUM(total_spend), 0) AS n FROM contacts WHERE external_id = ?', ext),
    events: await n('SELECT COUNT(*) AS n FROM events e JOIN contacts c ON c.id = e.contact_id WHERE c.external_id = ?', ext),
    rollup: await n(
      'SELECT COALESCE(SUM(s.count), 0) AS n FROM contact_daily_stats s JOIN contacts c ON c.id = s.contact_id WHERE c.external_id = ?',
      ext,
    ),
    sourceCount: await n('SELECT event_count AS n FROM event_sources WHERE id = ?', source),
  };
}

beforeAll(async () => {
  await db.batch(
    ['qa', 'qb', 'qc', 'qd', 'qe', 'qf', 'qg', 'qh'].map((id) =>
      db.prepare(`INSERT INTO event_sources (id, name, kind, secret) VALUES (?, ?, 'generic', 's')`).bind(id, id),
    ),
  );
});

describe('intake consumer', () => {
  it('runs a batch as one pipeline run per source (a read and a write batch each) and acks every message', async () => {
    let batches = 0;
    const counted = aroundBatch(db, (stmts, batch) => {
      batches++;
      return batch(stmts);
    });
    const r = await runIntake(
      [msg('qa', 'a-1', 'u_qa1'), msg('qb', 'b-1', 'u_qb1'), msg('qa', 'a-2', 'u_qa2'), msg('qb', 'b-2', 'u_qb1')],
      {
        db: counted,
      },
    );
    expect(r).toMatchObject({ acked: [0, 1, 2, 3], retried: [] });
    // the sources' read, then read + write for qa and for qb
    expect(batches).toBe(5);
    expect(await footprint('qb', 'u_qb1')).toMatchObject({ purchases: 2, events: 2, rollup: 2, sourceCount: 2 });
  });

  it('rolls back the whole write when D1 fails inside it, retries with backoff, and stores each event once on redelivery', async () => {
    // A failing statement at the end of every write batch (a run's second batch, after the sources' read): D1 rolls back all before it.
    let batches = 0;
    const failing = aroundBatch(db, (stmts, batch) => {
      batches++;
      const write = batches >= 3 && batches % 2 === 1;
      return batch(write ? [...stmts, db.prepare('INSERT INTO intake_dead_letters (message_id) VALUES (NULL)')] : stmts);
    });
    const before = await footprint('qc', 'u_qc');
    expect(before).toMatchObject({ contacts: 0, sourceCount: 0 });
    const first = await runIntake([msg('qc', 'c-1', 'u_qc'), msg('qc', 'c-2', 'u_qc')], { db: failing, attempts: 2 });
    // the group's write, then each message's own write: 1 + 3 × 2 batches
    expect(batches).toBe(7);
    expect(first.acked).toEqual([]);
    expect(first.retried).toEqual([
      { index: 0, delaySeconds: 4 },
      { index: 1, delaySeconds: 4 },
    ]);
    // nothing half-written: no contact, event, rollup or counter of either event
    expect(await footprint('qc', 'u_qc')).toEqual(before);
    expect(await n(`SELECT COUNT(*) AS n FROM intake_dead_letters WHERE source_id = 'qc'`)).toBe(0);

    const again = await runIntake([msg('qc', 'c-1', 'u_qc'), msg('qc', 'c-2', 'u_qc')], { ids: first.ids, attempts: 3 });
    expect(again).toMatchObject({ acked: [0, 1], retried: [] });
    expect(await footprint('qc', 'u_qc')).toEqual({ contacts: 1, purchases: 2, spend: 200, events: 2, rollup: 2, sourceCount: 2 });
  });

  it('redelivers what a consumer failed to ack after its write committed, and the redelivery doubles nothing', async () => {
    // The write commits, then the consumer fails before it can ack (a lost answer from D1, a crash): as the queue sees it.
    // From the first write on (the run's 3rd batch), D1 is unreachable: the write commits, its answer and all later calls fail.
    let batches = 0;
    const lost = aroundBatch(db, async (stmts, batch) => {
      batches++;
      if (batches > 3) throw new Error('D1 unreachable');
      const res = await batch(stmts);
      if (batches === 3) throw new Error('the answer to the write was lost');
      return res;
    });
    const bodies = [msg('qd', 'd-1', 'u_qd'), msg('qd', 'd-2', 'u_qd'), msg('qe', 'e-1', 'u_qe')];
    const first = await runIntake(bodies, { db: lost });
    expect(first.acked).toEqual([]);
    expect(first.retried.map((m) => m.delaySeconds)).toEqual([2, 2, 2]);
    const stored = await footprint('qd', 'u_qd');
    expect(stored).toEqual({ contacts: 1, purchases: 2, spend: 200, events: 2, rollup: 2, sourceCount: 2 });

    // the queue delivers the same messages again, now to a consumer that works
    const again = await runIntake(bodies, { ids: first.ids, attempts: 2 });
    expect(again).toMatchObject({ acked: [0, 1, 2], retried: [] });
    expect(await footprint('qd', 'u_qd')).toEqual(stored);
    expect(await footprint('qe', 'u_qe')).toEqual({ contacts: 1, purchases: 1, spend: 100, events: 1, rollup: 1, sourceCount: 1 });
  });

  it('stores an event once when two batches carrying it run at the same time', async () => {
    const same = () => [msg('qf', 'f-1', 'u_qf'), msg('qf', 'f-2', 'u_qf')];
    const [a, b] = await Promise.all([runIntake(same()), runIntake(same())]);
    expect(a).toMatchObject({ acked: [0, 1], retried: [] });
    expect(b).toMatchObject({ acked: [0, 1], retried: [] });
    expect(await footprint('qf', 'u_qf')).toEqual({ contacts: 1, purchases: 2, spend: 200, events: 2, rollup: 2, sourceCount: 2 });
  });

  it('isolates a poison message: the rest of its batch is stored, it alone is retried, and on its last delivery kept sealed as a dead letter', async () => {
    await db
      .prepare(
        `CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.sender_event_id = 'g-poison' BEGIN SELECT RAISE(ABORT, 'poisoned event'); END`,
      )
      .run();
    try {
      const bodies = [msg('qg', 'g-1', 'u_qg'), msg('qg', 'g-poison', 'u_qg_poison'), msg('qg', 'g-2', 'u_qg')];
      const first = await runIntake(bodies);
      expect(first.acked).toEqual([0, 2]);
      expect(first.retried).toEqual([{ index: 1, delaySeconds: 2 }]);
      expect(await footprint('qg', 'u_qg')).toMatchObject({ purchases: 2, events: 2 });
      expect(await footprint('qg', 'u_qg_poison')).toMatchObject({ contacts: 0, events: 0 });

      const last = await runIntake([bodies[1]], { ids: [first.ids[1]!], attempts: 5 });
      expect(last).toMatchObject({ acked: [0], retried: [] });
      const letter = await db
        .prepare(`SELECT * FROM intake_dead_letters WHERE source_id = 'qg'`)
        .first<Record<string, string | number | null>>();
      expect(letter).toMatchObject({ event_ids: '["g-poison"]', attempts: 5, requeued_at: null });
      expect(letter!.reason).toContain('poisoned event');
      // the contact's name and id are personal data: sealed, not in the row's text
      expect(JSON.stringify(letter)).not.toContain('王小明');
      expect(JSON.stringify(letter)).not.toContain('u_qg_poison');
    } finally {
      await db.prepare('DROP TRIGGER poison').run();
    }
  });

  it('keeps a message it cannot read as a dead letter at once, without retrying it', async () => {
    const r = await runIntake([{ v: 2, something: 'else' }, msg('qa', 'a-3', 'u_qa3')]);
    expect(r).toMatchObject({ acked: [0, 1], retried: [] });
    expect(await n(`SELECT COUNT(*) AS n FROM intake_dead_letters WHERE reason LIKE 'unreadable%'`)).toBe(1);
    await untilStored('qa', ['a-3']);
  });

  it('dates each event by when its webhook was accepted, not by when a late run processed it', async () => {
    // accepted two hours and ten minutes ago, processed now (a backlog after an outage)
    const early = Date.now() - 2 * 3_600_000;
    const later = Date.now() - 600_000;
    const r = await runIntake([
      intakeMessage('qh', { id: 'h-1', type: 'message', contact: { externalId: 'u_qh1' } }, early),
      intakeMessage('qh', { id: 'h-2', type: 'message', contact: { externalId: 'u_qh2' } }, later),
    ]);
    expect(r.acked).toEqual([0, 1]);
    const rows = (await db.prepare("SELECT sender_event_id AS id, received_at AS at FROM events WHERE source_id = 'qh' ORDER BY id").all())
      .results;
    expect(rows).toEqual([
      { id: 'h-1', at: early },
      { id: 'h-2', at: later },
    ]);
    expect(await n("SELECT last_event_at AS n FROM event_sources WHERE id = 'qh'")).toBe(later);
  });

  it('backs off exponentially: 2, 4, 8, 16 s after the 1st to 4th failed delivery', async () => {
    const { backoffSeconds } = await import('../src/ingest/consumer');
    expect([1, 2, 3, 4].map(backoffSeconds)).toEqual([2, 4, 8, 16]);
  });
});

describe('intake dead-letter queue', () => {
  it('keeps what reaches the dead-letter queue, once even if the batch is delivered twice', async () => {
    const body = msg('qa', 'dlq-1', 'u_dlq');
    const deliver = async () => {
      const batch = createMessageBatch('segflow-intake-dead', [{ id: 'dlq-msg-1', timestamp: new Date(), attempts: 1, body }]);
      const ctx = createExecutionContext();
      await consumeIntakeDead(batch, env);
      return getQueueResult(batch, ctx);
    };
    expect((await deliver()).ackAll).toBe(true);
    expect((await deliver()).ackAll).toBe(true);
    const rows = await db.prepare(`SELECT reason, attempts, event_ids FROM intake_dead_letters WHERE message_id = 'dlq-msg-1'`).all();
    expect(rows.results).toEqual([
      { reason: expect.stringContaining('without the consumer finishing'), attempts: 5, event_ids: '["dlq-1"]' },
    ]);
  });
});

describe('dead letters API', () => {
  it('lists dead letters without their events, and requeues one once, audited; the requeued event is then stored', async () => {
    await db.prepare(`INSERT INTO event_sources (id, name, kind, secret) VALUES ('dl-api', 'd', 'generic', 's')`).run();
    const id = await newDeadLetter('dl-api', 'dl-api-1');
    const list = await api(`/api/intake/dead-letters?pending=true&pageSize=100`);
    expect(list.status).toBe(200);
    const item = list.body.items.find((i: { id: number }) => i.id === id);
    expect(item).toMatchObject({ sourceId: 'dl-api', eventIds: ['dl-api-1'], reason: 'a test', attempts: 5, requeuedAt: null });
    expect(JSON.stringify(list.body)).not.toContain('张三');

    const requeued = await api(`/api/intake/dead-letters/${id}/requeue`, { method: 'POST' });
    expect(requeued.status).toBe(200);
    expect(requeued.body).toMatchObject({ id, requeuedAt: expect.any(Number), requeuedBy: { id: 9001 } });
    await untilStored('dl-api', ['dl-api-1']);
    expect(await n(`SELECT COUNT(*) AS n FROM audit_log WHERE action = 'event_source.requeue' AND object_id = 'dl-api'`)).toBe(1);

    const twice = await api(`/api/intake/dead-letters/${id}/requeue`, { method: 'POST' });
    expect(twice.status).toBe(409);
    expect((await api(`/api/intake/dead-letters/999999/requeue`, { method: 'POST' })).status).toBe(404);
    expect((await api(`/api/intake/dead-letters/abc/requeue`, { method: 'POST' })).status).toBe(400);
    const staff = { id: 9300, role: 'staff' as const, departmentId: null };
    expect((await apiAs(staff, '/api/intake/dead-letters')).status).toBe(403);
    expect((await api(`/api/intake/dead-letters?pending=true&pageSize=100`)).body.items.some((i: { id: number }) => i.id === id)).toBe(
      false,
    );
  });
});

describe('intake producer', () => {
  it('reports a message the queue refuses (over its 128 KB limit) as IntakeUnavailable, which the routes answer 503', async () => {
    const huge = {
      id: 'huge',
      type: 'message' as const,
      occurredAt: Date.now(),
      contact: { externalId: 'u_huge' },
      text: 'x'.repeat(200_000),
    };
    await expect(enqueueEvents(env.INTAKE as Queue<IntakeMessage>, 'qa', [huge], Date.now())).rejects.toBeInstanceOf(IntakeUnavailable);
  });

  it('queues a request of 500 events in sendBatch calls within the limits, every event stored', async () => {
    const events = Array.from({ length: 500 }, (_, i) => ({
      id: `many-${i}`,
      type: 'message' as const,
      occurredAt: Date.now() - 1000,
      contact: { externalId: `u_many${i % 7}` },
      text: 'y'.repeat(1000),
    }));
    await enqueueEvents(env.INTAKE as Queue<IntakeMessage>, 'qa', events, Date.now());
    await untilStored(
      'qa',
      events.map((e) => e.id),
      30_000,
    );
    await eventually(
      'message counts',
      async () => (await n(`SELECT SUM(message_count) AS n FROM contacts WHERE external_id LIKE 'u_many%'`)) === 500,
    );
  });
});
