import { env } from 'cloudflare:workers';
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import worker from '../src/index';
import { demoSql } from '@shared/demo';
import { compileRule } from '@shared/rules/compile';
import { rolloutSql } from '@shared/rollout';
import { dayNumber } from '@shared/time';
import type { RuleGraph } from '@shared/rules/types';
import { sampleMatches } from '../src/rules/preview';
import { compileSegment } from '../src/rules/segment';
import { runScheduled } from '../src/cron/scheduled';

const db = env.DB;
/** 2026-11-24 03:00 in Shanghai (19:00 UTC the day before). */
const AT_3AM = Date.UTC(2026, 10, 23, 19, 0);
const NOW = AT_3AM - 3_600_000;

const tagId = async (group: string, name: string) =>
  (
    await db
      .prepare('SELECT t.id FROM tags t JOIN tag_groups g ON g.id = t.group_id WHERE g.name = ? AND t.name = ?')
      .bind(group, name)
      .first<{ id: number }>()
  )?.id as number;
const holders = async (tag: number) =>
  (
    await db.prepare('SELECT contact_id FROM contact_tags WHERE tag_id = ? ORDER BY contact_id').bind(tag).all<{ contact_id: number }>()
  ).results.map((r) => r.contact_id);

async function publish(id: number, graph: RuleGraph, percent = 100) {
  const compiled = compileRule(graph);
  if (!compiled.ok) throw new Error(JSON.stringify(compiled.errors));
  await db.batch([
    db
      .prepare(
        `INSERT INTO rules (id, name, status, draft_graph, published_version, created_at, updated_at) VALUES (?, ?, 'published', ?, 1, 0, 0)`,
      )
      .bind(id, `r${id}`, JSON.stringify(graph)),
    db
      .prepare(
        `INSERT INTO rule_versions (rule_id, version, graph, logic, trigger, rollout_percent, created_at, published_at) VALUES (?, 1, ?, ?, 'schedule', ?, 0, 0)`,
      )
      .bind(id, JSON.stringify(graph), JSON.stringify(compiled.value.logic), percent),
  ]);
  return compiled.value;
}

const scheduledGraph = (cron: string, condition: RuleGraph['nodes'][number], tag: number): RuleGraph => ({
  schemaVersion: 1,
  nodes: [
    { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron } },
    condition,
    { id: 'a', kind: 'action', action: { type: 'add_tag', tagId: tag } },
  ],
  edges: [
    { id: 'e1', source: 't', target: condition.id },
    { id: 'e2', source: condition.id, target: 'a', sourceHandle: 'yes' },
  ],
});

beforeAll(async () => {
  const statements = [...demoSql({ contacts: 300, seed: 5, now: NOW, avgEvents: 8 })];
  for (let i = 0; i < statements.length; i += 50) await db.batch(statements.slice(i, i + 50).map((s) => db.prepare(s)));
});

describe('scheduled rules and snapshots', () => {
  it('runs a "no interaction for 60 days → 待激活" rule set-based at its minute, tagging exactly the preview, with ledger rows', async () => {
    const dormant = await tagId('生命周期', '待激活');
    const follow = await tagId('运营标记', '待跟进');
    const r1 = await publish(
      900,
      scheduledGraph(
        '0 3 * * *',
        { id: 'c', kind: 'condition', condition: { field: 'lastActiveAt', op: 'more_than_days_ago', value: 60 } },
        dormant,
      ),
    );
    const r2 = await publish(
      901,
      scheduledGraph('0 3 * * *', { id: 'c', kind: 'condition', condition: { field: 'messageCount', op: 'gte', value: 5 } }, follow),
      50,
    );
    const ctx = { now: AT_3AM, tzOffsetMinutes: 480 };
    const s1 = await sampleMatches(db, r1, ctx, 1000);
    const s2 = await sampleMatches(db, r2, ctx, 1000, { scope: rolloutSql(901, 50) });
    if (!s1.ok || !s2.ok) throw new Error('preview failed');
    expect(s1.value.length).toBeGreaterThan(3);
    expect(s2.value.length).toBeGreaterThan(3);
    const before1 = await holders(dormant);
    const before2 = await holders(follow);

    // 03:01 is not the rule's minute: nothing happens.
    expect((await runScheduled(env, AT_3AM + 60_000)).rules).toEqual([]);
    expect(await holders(dormant)).toEqual(before1);

    const report = await runScheduled(env, AT_3AM);
    expect(report.errors).toEqual([]);
    const union = (a: number[], b: number[]) => [...new Set([...a, ...b])].sort((x, y) => x - y);
    expect(await holders(dormant)).toEqual(
      union(
        before1,
        s1.value.map((c) => c.id),
      ),
    );
    expect(await holders(follow)).toEqual(
      union(
        before2,
        s2.value.map((c) => c.id),
      ),
    );
    const gained = s1.value.filter((c) => !before1.includes(c.id)).length;
    const ledger = await db
      .prepare(
        `SELECT COUNT(*) AS n FROM tag_ledger WHERE rule_id = 900 AND rule_version = 1 AND op = 'add' AND tag_id = ? AND batch_id = ?`,
      )
      .bind(dormant, `schedule:900:1:${AT_3AM}`)
      .first<{ n: number }>();
    expect(ledger?.n).toBe(gained);
    expect(report.rules.find((r) => r.id === 900)?.ledgerRows).toBeGreaterThanOrEqual(gained);

    // A second run the same minute changes nothing more.
    const rows = await db.prepare('SELECT COUNT(*) AS n FROM tag_ledger').first<{ n: number }>();
    await runScheduled(env, AT_3AM);
    expect((await db.prepare('SELECT COUNT(*) AS n FROM tag_ledger').first<{ n: number }>())?.n).toBe(rows?.n);
    await db.prepare(`UPDATE rules SET status = 'paused' WHERE id IN (900, 901)`).run();
  });

  it('takes one size snapshot per segment per day, through the scheduled handler', async () => {
    const seg = compileSegment({
      schemaVersion: 1,
      nodes: [
        { id: 's', kind: 'trigger', trigger: { type: 'schedule', cron: '0 0 * * *' } },
        { id: 'c', kind: 'condition', condition: { field: 'totalSpend', op: 'gte', value: 10_000 } },
        { id: 'end', kind: 'logic', op: 'or' },
      ],
      edges: [
        { id: 'e1', source: 's', target: 'c' },
        { id: 'e2', source: 'c', target: 'end', sourceHandle: 'yes' },
      ],
    });
    if (!seg.ok) throw new Error(JSON.stringify(seg.errors));
    await db
      .prepare(`INSERT INTO segments (id, name, graph, logic, created_at, updated_at) VALUES (77, '消费过百', '{}', ?, 0, 0)`)
      .bind(JSON.stringify(seg.value.logic))
      .run();
    const expected = (await db.prepare('SELECT COUNT(*) AS n FROM contacts WHERE total_spend >= 10000').first<{ n: number }>())?.n;
    expect(expected).toBeGreaterThan(0);

    const tick = async (at: number) => {
      const ctx = createExecutionContext();
      await worker.scheduled(createScheduledController({ scheduledTime: at, cron: '* * * * *' }), env, ctx);
      await waitOnExecutionContext(ctx);
    };
    await tick(AT_3AM + 5 * 60_000);
    await tick(AT_3AM + 6 * 60_000);
    const day = dayNumber(AT_3AM, 480);
    const snaps = await db.prepare('SELECT day, size FROM segment_snapshots WHERE segment_id = 77').all();
    expect(snaps.results).toEqual([{ day, size: expected }]);
    await tick(AT_3AM + 86_400_000);
    expect((await db.prepare('SELECT COUNT(*) AS n FROM segment_snapshots WHERE segment_id = 77').first<{ n: number }>())?.n).toBe(2);
  });
});
