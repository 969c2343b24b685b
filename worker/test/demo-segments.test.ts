/**
 * The demo's segments as `npm start` seeds them (scripts/seed.ts): stored exactly as the segments
 * API stores the same graph, and their back-computed history equal to counts written here by hand
 * over the source tables (raw `events`, not the rollup the compiled SQL reads), per department.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { ACTIVITY_EVENTS, EAST_CHINA } from '@shared/demo/segments';
import { demoCompileOptions, demoSegmentInsert, demoSegments, demoSql, segmentHistory } from '@shared/demo';
import type { SegmentDetail, SegmentPreviewResponse } from '@shared/api/segments';
import type { JsonLogic } from '@shared/rules/types';
import { dayNumber, dayStartMs } from '@shared/time';
import { compileSegment } from '../src/rules/segment';
import { compileOptions, loadWorkspace } from '../src/rules/context';
import { segmentSnapshotStatements } from '../src/home/rollups';
import { runScheduled } from '../src/cron/scheduled';
import { api } from './fixtures';

const db = env.DB;
const TZ = 480; // wrangler.toml TIMEZONE = Asia/Shanghai
const NOW = Date.now(); // the demo is generated at now, as the seed does
const TODAY = dayNumber(NOW, TZ);
const HISTORY_DAYS = 40; // longer than the 30-day window, so every day's window differs

const json = (body: unknown, method = 'POST'): RequestInit => ({
  method,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

interface Seeded {
  id: number;
  name: string;
  logic: JsonLogic;
}
const seeded: Seeded[] = [];

beforeAll(async () => {
  const statements = [...demoSql({ contacts: 400, seed: 3, now: NOW, avgEvents: 10 })];
  for (let i = 0; i < statements.length; i += 50) await db.batch(statements.slice(i, i + 50).map((s) => db.prepare(s)));
  // what the seed does: compile with the API's compiler and the demo catalog's options, insert, count each day
  for (const s of demoSegments(NOW)) {
    const c = compileSegment(s.graph, demoCompileOptions(NOW));
    if (!c.ok) throw new Error(`${s.name}: ${JSON.stringify(c.errors)}`);
    const ins = demoSegmentInsert(s, c.value.logic, dayStartMs(TODAY - HISTORY_DAYS + 1, TZ));
    const row = await db
      .prepare(ins.sql)
      .bind(...ins.params)
      .first<{ id: number }>();
    seeded.push({ id: row!.id, name: s.name, logic: c.value.logic });
    const h = segmentHistory(c.value.logic, { now: NOW, days: HISTORY_DAYS, tzOffsetMinutes: TZ });
    if (!h.ok) throw new Error(JSON.stringify(h.errors));
    // the cron's own statements (worker/src/home/rollups.ts), as the seed runs their SQL
    await db.batch(h.value.flatMap((d) => segmentSnapshotStatements(db, row!.id, d.day, d.where)));
  }
});

describe('demo segments', () => {
  it('are stored exactly as the segments API stores the same graph, and preview as they count', async () => {
    const ws = await loadWorkspace(db);
    for (const s of demoSegments(NOW)) {
      const mine = (await db
        .prepare('SELECT * FROM segments WHERE name = ?')
        .bind(s.name)
        .first<{ id: number; graph: string; logic: string }>())!;
      // the route's own path: compileSegment(graph, compileOptions(loadWorkspace(db)))
      const c = compileSegment(s.graph, compileOptions(ws));
      expect(c.ok && JSON.stringify(c.value.logic), s.name).toBe(mine.logic);

      // created through the API: the same graph and predicate text
      const created = await api<SegmentDetail>(
        '/api/segments',
        json({ name: `${s.name}-api`, description: s.description, graph: s.graph, departmentId: s.departmentId }),
      );
      expect(created.status).toBe(201);
      const theirs = (await db.prepare('SELECT graph, logic, department_id FROM segments WHERE id = ?').bind(created.body.id).first<{
        graph: string;
        logic: string;
        department_id: number | null;
      }>())!;
      expect(theirs).toEqual({ graph: mine.graph, logic: mine.logic, department_id: s.departmentId });
      expect((await api(`/api/segments/${created.body.id}`, { method: 'DELETE' })).status).toBe(204);

      const preview = await api<SegmentPreviewResponse>('/api/segments/preview', json({ graph: s.graph, sampleSize: 0 }));
      if (!preview.body.ok) throw new Error(JSON.stringify(preview.body.errors));
      expect(preview.body.logic).toEqual(JSON.parse(mine.logic));
      const detail = await api<SegmentDetail>(`/api/segments/${mine.id}`);
      expect(detail.body).toMatchObject({ valid: true, errors: [], size: preview.body.size });
      expect(preview.body.size, s.name).toBeGreaterThan(0);
    }
  });

  it('have a history equal, day by day and department by department, to counts written by hand', async () => {
    const region = (list: readonly string[]) => `region IN (${list.map((r) => `'${r}'`).join(', ')})`;
    const acts = ACTIVITY_EVENTS.map((t) => `'${t}'`).join(', ');
    // binds: ?1 day end, ?2 start of the 30-day window, ?3 of the 90-day, ?4 of the 180-day
    const hand: Record<string, string> = {
      上海地区客户: `region = '上海'`,
      '近 30 天活跃': `EXISTS (SELECT 1 FROM events e WHERE e.contact_id = c.id AND e.type IN (${acts}) AND e.occurred_at BETWEEN ?2 AND ?1)`,
      '高消费客户（≥¥1,000）': 'total_spend >= 100000',
      '华东 · 复购客户': `${region(EAST_CHINA)} AND (SELECT COUNT(*) FROM events e WHERE e.contact_id = c.id AND e.type = 'purchase' AND e.occurred_at BETWEEN ?3 AND ?1) >= 2`,
      '沉默 180 天': 'created_at < ?4 AND (last_active_at IS NULL OR last_active_at < ?4 OR last_active_at > ?1)',
    };
    const sizes = new Map<string, number[]>();
    for (const s of seeded) {
      const rows = await db
        .prepare('SELECT day, department_id, size FROM segment_snapshot_departments WHERE segment_id = ? AND size > 0')
        .bind(s.id)
        .all<{ day: number; department_id: number; size: number }>();
      const totals = await db
        .prepare('SELECT day, size FROM segment_snapshots WHERE segment_id = ? ORDER BY day')
        .bind(s.id)
        .all<{ day: number; size: number }>();
      expect(totals.results.map((r) => r.day)).toEqual(Array.from({ length: HISTORY_DAYS }, (_, i) => TODAY - HISTORY_DAYS + 1 + i));
      sizes.set(
        s.name,
        totals.results.map((r) => r.size),
      );
      for (const { day, size } of totals.results) {
        const start = (n: number) => dayStartMs(day - n + 1, TZ);
        const sql = `SELECT coalesce(department_id, 0) AS department_id, COUNT(*) AS size FROM contacts c
             WHERE c.created_at <= ?1 AND ${hand[s.name]} GROUP BY 1 ORDER BY 1`;
        // D1 wants exactly as many bindings as the highest ?N the text uses
        const used = Math.max(...[...sql.matchAll(/\?(\d)/g)].map((m) => Number(m[1])));
        const expected = await db
          .prepare(sql)
          .bind(...[dayStartMs(day + 1, TZ) - 1, start(30), start(90), start(180)].slice(0, used))
          .all<{ department_id: number; size: number }>();
        const got = rows.results.filter((r) => r.day === day).map(({ department_id, size }) => ({ department_id, size }));
        expect(
          got.sort((a, b) => a.department_id - b.department_id),
          `${s.name} on day ${day}`,
        ).toEqual(expected.results);
        expect(size).toBe(expected.results.reduce((n, r) => n + r.size, 0));
      }
    }
    // the history moves: contacts arrive, and activity windows slide
    for (const [name, list] of sizes) expect(list.at(-1), name).toBeGreaterThan(0);
    expect(new Set(sizes.get('近 30 天活跃')).size).toBeGreaterThan(5);
    expect(sizes.get('上海地区客户')![0]).toBeLessThan(sizes.get('上海地区客户')!.at(-1)!);
  });

  it('leaves the cron nothing to redo today, and today counts as the cron counts it', async () => {
    const today = async () =>
      (
        await db
          .prepare('SELECT segment_id, department_id, size FROM segment_snapshot_departments WHERE day = ? ORDER BY 1, 2')
          .bind(TODAY)
          .all()
      ).results;
    const ours = await today();
    expect(ours.length).toBeGreaterThan(seeded.length);
    expect((await runScheduled(env, NOW)).snapshots).toBe(0);
    // the cron's own count of today, from scratch
    const ids = JSON.stringify(seeded.map((s) => s.id));
    await db.batch([
      db.prepare('DELETE FROM segment_snapshots WHERE day = ? AND segment_id IN (SELECT value FROM json_each(?))').bind(TODAY, ids),
      db
        .prepare('DELETE FROM segment_snapshot_departments WHERE day = ? AND segment_id IN (SELECT value FROM json_each(?))')
        .bind(TODAY, ids),
    ]);
    expect((await runScheduled(env, NOW)).snapshots).toBe(seeded.length);
    expect(await today()).toEqual(ours);
  });
});
