import { env } from 'cloudflare:workers';
import { expect, it } from 'vitest';
import { ingest } from '../src/ingest/pipeline';
import type { IngestEvent } from '@shared/api/webhooks';
import { aroundBatch } from './fixtures';

/**
 * The race the guard exists for: a retry of the same event commits between this request's
 * read and its write. Simulated by a D1 wrapper that commits the competing event right after
 * the pipeline's first read batch.
 */
it('rolls back and re-reads when a concurrent request stored the same event first, counting it once', async () => {
  const db = env.DB;
  await db.batch([
    db.prepare(`INSERT INTO event_sources (id, name, kind, secret) VALUES ('race', 'r', 'generic', 's')`),
    db.prepare(
      `INSERT INTO contacts (id, kind, external_id, name, bucket, created_at, updated_at, purchase_count, total_spend) VALUES (7, 'friend', 'u_race', 'r', 1, 0, 0, 0, 0)`,
    ),
  ]);
  const events: IngestEvent[] = [
    { id: 'r-1', type: 'purchase', occurredAt: Date.now(), amount: 500, contact: { externalId: 'u_race' } },
    { id: 'r-2', type: 'purchase', occurredAt: Date.now(), amount: 700, contact: { externalId: 'u_race' } },
  ];
  let batches = 0;
  let failedWrites = 0;
  const racing = aroundBatch(db, async (stmts, batch) => {
    batches++;
    try {
      const res = await batch(stmts);
      if (batches === 1) {
        // The competitor: r-1 with its aggregates, committed after our read.
        await db.batch([
          db.prepare(
            `INSERT INTO events (source_id, sender_event_id, contact_id, type, occurred_at, received_at, amount) VALUES ('race', 'r-1', 7, 'purchase', 1, 1, 500)`,
          ),
          db.prepare(`UPDATE contacts SET purchase_count = purchase_count + 1, total_spend = total_spend + 500 WHERE id = 7`),
        ]);
      }
      return res;
    } catch (e) {
      failedWrites++;
      throw e;
    }
  });
  const res = await ingest(racing, events, {
    sourceId: 'race',
    now: Date.now(),
    tzOffsetMinutes: 480,
    defaultKind: 'friend',
    batchId: 'b',
  });
  expect(failedWrites).toBe(1);
  expect(res.results.map((r) => r.status)).toEqual(['duplicate', 'accepted']);
  const c = await db.prepare(`SELECT purchase_count, total_spend FROM contacts WHERE id = 7`).first();
  expect(c).toEqual({ purchase_count: 2, total_spend: 1200 });
  expect((await db.prepare(`SELECT COUNT(*) AS n FROM events WHERE source_id = 'race'`).first<{ n: number }>())?.n).toBe(2);
});
