import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUCKETS } from '@shared/domain';
import { inRollout, rolloutSql } from '@shared/rollout';

// One contact per bucket: the SQL share must pick exactly the buckets the JS share picks.
beforeAll(async () => {
  await env.DB.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${BUCKETS - 1})
     INSERT INTO contacts (kind, external_id, name, bucket, created_at, updated_at)
     SELECT 'friend', 'b' || i, 'c' || i, i, 0, 0 FROM n`,
  ).run();
});

describe('gray release share', () => {
  it.each([
    [1, 1],
    [1, 20],
    [42, 20],
    [42, 55],
    [9999, 99],
    [3, 100],
  ])('rule %i at %i%%: SQL selects exactly the buckets inRollout selects', async (ruleId, percent) => {
    const where = rolloutSql(ruleId, percent);
    const { results } = await env.DB.prepare(`SELECT c.bucket FROM contacts c WHERE ${where.sql} ORDER BY c.bucket`)
      .bind(...where.params)
      .all<{ bucket: number }>();
    const js = Array.from({ length: BUCKETS }, (_, b) => b).filter((b) => inRollout(b, ruleId, percent));
    expect(results.map((r) => r.bucket)).toEqual(js);
    expect(js.length).toBe(percent * 100);
  });

  it('gives two rules at the same share different contacts', () => {
    const pick = (ruleId: number) => Array.from({ length: BUCKETS }, (_, b) => b).filter((b) => inRollout(b, ruleId, 10));
    const a = new Set(pick(1));
    const overlap = pick(2).filter((b) => a.has(b)).length;
    expect(overlap).toBeLessThan(1000);
  });
});
