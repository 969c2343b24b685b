/**
 * The home (`GET /api/home`): every series equals a count written here in SQL over the source
 * tables (contacts, contact_tags, tag_ledger, events, dead letters), not over the rollups the
 * home reads; and a department admin and a staff member see only their subtree's numbers.
 *
 * The world: 300 demo contacts across the demo's departments (华东大区 2 › its teams, 华南大区 7 …),
 * segments owned by 华东, 华南 and the company, snapshotted by the real cron on three days with
 * contacts changed between runs; rule ledger rows and events written as the app writes them
 * (the triggers of migration 0020 keep the hourly rollups).
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { demoSql } from '@shared/demo';
import { dayNumber, dayStartMs } from '@shared/time';
import type { HomeResponse } from '@shared/api/home';
import type { RuleGraph, RuleNode } from '@shared/rules/types';
import { runScheduled } from '../src/cron/scheduled';
import { anonApi, api, apiAs, newDeadLetter, seedDeadLetter, type TestUser } from './fixtures';

const db = env.DB;
const TZ = 480; // wrangler.toml TIMEZONE = Asia/Shanghai
const DAY = 86_400_000;
const HOUR = 3_600_000;
const EAST = 2; // 华东大区 and its teams
const SOUTH = 7; // 华南大区
const ADMIN: TestUser = { id: 9301, role: 'dept_admin', departmentId: EAST };
const STAFF: TestUser = { id: 9302, role: 'staff', departmentId: SOUTH };

const json = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

const start: RuleNode = { id: 'start', kind: 'trigger', trigger: { type: 'schedule', cron: 'segment' } };
const end: RuleNode = { id: 'end', kind: 'logic', op: 'or' };
/** Start → spend ≥ `fen`? yes → End. */
function spenders(fen: number): RuleGraph {
  return {
    schemaVersion: 1,
    nodes: [start, { id: 'c', kind: 'condition', condition: { field: 'totalSpend', op: 'gte', value: fen } }, end],
    edges: [
      { id: 'e1', source: 'start', target: 'c' },
      { id: 'e2', source: 'c', target: 'end', sourceHandle: 'yes' },
    ],
  };
}

/** Department ids of a subtree, or null for everyone (a super admin). */
async function subtree(dept: number | null): Promise<number[] | null> {
  if (dept === null) return null;
  const path = (await db.prepare('SELECT path FROM departments WHERE id = ?').bind(dept).first<string>('path'))!;
  return (await db.prepare('SELECT id FROM departments WHERE instr(path, ?) = 1').bind(path).all<{ id: number }>()).results.map(
    (r) => r.id,
  );
}
const inDepts = (col: string, ids: number[] | null) => (ids === null ? '1' : `${col} IN (${ids.join(',') || 'NULL'})`);

const now = Date.now();
const today = dayNumber(now, TZ);
/** the cron runs: two days ago, yesterday, now */
const RUNS = [now - 2 * DAY, now - DAY, now];
const segmentIds: Record<'east' | 'south' | 'company', number> = { east: 0, south: 0, company: 0 };
const THRESHOLD: Record<keyof typeof segmentIds, number> = { east: 10_000, south: 1, company: 50_000 };
/** hand counts per run (by day), per segment, per viewer */
const expected = new Map<string, number>();
const key = (seg: number, day: number, viewer: string) => `${seg}|${day}|${viewer}`;
const VIEWERS: Record<string, number | null> = { root: null, admin: EAST, staff: SOUTH };

beforeAll(async () => {
  const statements = [...demoSql({ contacts: 300, seed: 11, now, avgEvents: 6 })];
  for (let i = 0; i < statements.length; i += 50) await db.batch(statements.slice(i, i + 50).map((s) => db.prepare(s)));
  // the demo loads its events by SQL: the intake trigger counted them; start the intake chart from nothing
  await db.prepare('DELETE FROM intake_hourly').run();

  for (const [name, dept] of [
    ['east', EAST],
    ['south', SOUTH],
    ['company', null],
  ] as const) {
    const r = await api<{ id: number }>(
      '/api/segments',
      json({ name: `home-${name}`, graph: spenders(THRESHOLD[name]), departmentId: dept ?? undefined }),
    );
    expect(r.status).toBe(201);
    segmentIds[name] = r.body.id;
  }
  for (const [i, at] of RUNS.entries()) {
    // contacts change between runs, so each day's size differs
    if (i > 0) await db.prepare('UPDATE contacts SET total_spend = total_spend + 20000 WHERE id % 7 = ?').bind(i).run();
    for (const [viewer, dept] of Object.entries(VIEWERS)) {
      const ids = await subtree(dept);
      for (const [name, seg] of Object.entries(segmentIds)) {
        const n = await db
          .prepare(`SELECT COUNT(*) AS n FROM contacts WHERE total_spend >= ? AND ${inDepts('department_id', ids)}`)
          .bind(THRESHOLD[name as keyof typeof segmentIds])
          .first<number>('n');
        expected.set(key(seg, dayNumber(at, TZ), viewer), n!);
      }
    }
    const report = await runScheduled(env, at);
    expect(report.errors).toEqual([]);
    expect(report.snapshots).toBe(3);
    expect(report.coverage).toBe(true);
  }
});

describe('GET /api/home', () => {
  it('draws each visible segment one point a day: the cron snapshots, equal to the contacts counted by hand', async () => {
    for (const [viewer, user] of [
      ['root', null],
      ['admin', ADMIN],
      ['staff', STAFF],
    ] as const) {
      const { status, body } = user ? await apiAs<HomeResponse>(user, '/api/home') : await api<HomeResponse>('/api/home');
      expect(status).toBe(200);
      expect(body.today).toBe(today);
      expect(body.segments.days).toHaveLength(90);
      expect(body.segments.days.at(-1)).toBe(today);
      const visible = viewer === 'root' ? Object.values(segmentIds) : viewer === 'admin' ? [segmentIds.east] : [segmentIds.south];
      const shown = [...body.segments.top.map((s) => s.id), ...body.segments.rest.map((s) => s.id)];
      expect(shown.sort()).toEqual([...visible].sort());
      for (const s of body.segments.top) {
        const points = body.segments.days.map((d, i) => [d, s.sizes[i]] as const).filter(([, size]) => size !== null);
        expect(points.map(([d]) => d)).toEqual(RUNS.map((at) => dayNumber(at, TZ)));
        for (const [d, size] of points) expect(size, `${viewer} segment ${s.id} day ${d}`).toBe(expected.get(key(s.id, d, viewer)));
        expect(s.latest).toBe(expected.get(key(s.id, today, viewer)));
      }
      // sizes changed between runs: the lines are not flat
      const east = body.segments.top.find((s) => s.id === segmentIds.east);
      if (east) expect(new Set(east.sizes.filter((x) => x !== null)).size).toBeGreaterThan(1);
    }
  });

  it('counts tag coverage per group and the untagged share as SQL over contact_tags does, within the viewer’s departments', async () => {
    for (const [user, dept] of [
      [null, null],
      [ADMIN, EAST],
      [STAFF, SOUTH],
    ] as const) {
      const ids = await subtree(dept);
      const { body } = user ? await apiAs<HomeResponse>(user, '/api/home') : await api<HomeResponse>('/api/home');
      expect(body.coverage.day).toBe(today);
      const contacts = await db.prepare(`SELECT COUNT(*) AS n FROM contacts c WHERE ${inDepts('c.department_id', ids)}`).first<number>('n');
      const untagged = await db
        .prepare(
          `SELECT COUNT(*) AS n FROM contacts c WHERE ${inDepts('c.department_id', ids)} AND NOT EXISTS
           (SELECT 1 FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id WHERE ct.contact_id = c.id AND t.status = 'active')`,
        )
        .first<number>('n');
      expect(body.coverage.contacts).toBe(contacts);
      expect(body.coverage.untagged).toBe(untagged);
      const groups = (await db.prepare('SELECT id FROM tag_groups ORDER BY sort_order, id').all<{ id: number }>()).results;
      expect(body.coverage.groups.map((g) => g.id)).toEqual(groups.map((g) => g.id));
      let nonZero = 0;
      for (const g of body.coverage.groups) {
        const n = await db
          .prepare(
            `SELECT COUNT(DISTINCT ct.contact_id) AS n FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id JOIN contacts c ON c.id = ct.contact_id
             WHERE t.group_id = ? AND t.status = 'active' AND ${inDepts('c.department_id', ids)}`,
          )
          .bind(g.id)
          .first<number>('n');
        expect(g.contacts, `group ${g.name}`).toBe(n);
        if (n) nonZero++;
      }
      expect(nonZero).toBeGreaterThan(1);
    }
  });

  it('counts tags added and removed per rule per day from the ledger (source rule only), for the rules the viewer may see', async () => {
    const ruleIds = { east: 8101, south: 8102 };
    const graph = JSON.stringify(spenders(1));
    for (const [name, dept] of [
      ['east', EAST],
      ['south', SOUTH],
    ] as const)
      await db
        .prepare(
          `INSERT INTO rules (id, name, department_id, status, draft_graph, created_at, updated_at) VALUES (?, ?, ?, 'published', ?, 0, 0)`,
        )
        .bind(ruleIds[name], `home-rule-${name}`, dept, graph)
        .run();
    // ledger rows at a few local days and hours (one before the window, one from a rollback: not counted)
    const dayAt = (daysAgo: number, hour: number) => dayStartMs(today - daysAgo, TZ) + hour * HOUR + 60_000;
    const rows: [number, 'add' | 'remove', string, number][] = [];
    for (let k = 0; k < 40; k++) rows.push([ruleIds.east, k % 3 ? 'add' : 'remove', 'rule', dayAt(k % 5, (k * 5) % 24)]);
    for (let k = 0; k < 12; k++) rows.push([ruleIds.south, 'add', 'rule', dayAt(k % 2, 23)]);
    rows.push([ruleIds.east, 'add', 'rule', dayAt(31, 1)], [ruleIds.east, 'remove', 'rollback', dayAt(1, 2)]);
    await db.batch(
      rows.map(([rule, op, source, at], i) =>
        db
          .prepare('INSERT INTO tag_ledger (contact_id, tag_id, op, source, rule_id, rule_version, at) VALUES (?, 1, ?, ?, ?, 1, ?)')
          .bind(1 + i, op, source, rule, at),
      ),
    );

    const handCount = async (rule: number, day: number, op: string) =>
      (await db
        .prepare(`SELECT COUNT(*) AS n FROM tag_ledger WHERE rule_id = ? AND source = 'rule' AND op = ? AND at >= ? AND at < ?`)
        .bind(rule, op, dayStartMs(day, TZ), dayStartMs(day + 1, TZ))
        .first<number>('n'))!;
    for (const [user, visible] of [
      [null, [ruleIds.east, ruleIds.south]],
      [ADMIN, [ruleIds.east]],
      [STAFF, [ruleIds.south]],
    ] as const) {
      const { body } = user ? await apiAs<HomeResponse>(user, '/api/home') : await api<HomeResponse>('/api/home');
      expect(body.rules.days).toHaveLength(30);
      expect(body.rules.series.map((s) => s.id).sort()).toEqual([...visible].sort());
      for (const s of body.rules.series) {
        for (const [i, d] of body.rules.days.entries()) {
          expect(s.added[i], `rule ${s.id} day ${d} added`).toBe(await handCount(s.id, d, 'add'));
          expect(s.removed[i], `rule ${s.id} day ${d} removed`).toBe(await handCount(s.id, d, 'remove'));
        }
        expect(s.totalAdded).toBe(s.added.reduce((a, b) => a + b, 0));
      }
      expect(body.rules.published).toBe(visible.length);
    }
    const east = (await api<HomeResponse>('/api/home')).body.rules.series.find((s) => s.id === ruleIds.east)!;
    expect(east.totalAdded + east.totalRemoved).toBe(40); // the 31-day-old row and the rollback's are not counted
  });

  it('shows super admins events per source per hour, intake dead letters and outbound failures; no one else', async () => {
    await db.prepare(`INSERT INTO event_sources (id, name, kind, secret) VALUES ('home-crm', '商城 CRM', 'generic', 's')`).run();
    const hourAt = (hoursAgo: number) => (Math.floor(now / HOUR) - hoursAgo) * HOUR + 1_000;
    const events: [string, number][] = [];
    for (let k = 0; k < 30; k++) events.push(['home-crm', hourAt(k % 6)]);
    for (let k = 0; k < 5; k++) events.push(['unregistered', hourAt(47)]);
    events.push(['home-crm', hourAt(48)]); // outside the 48 hours
    await db.batch(
      events.map(([source, at], i) =>
        db
          .prepare(
            `INSERT INTO events (source_id, sender_event_id, contact_id, type, occurred_at, received_at) VALUES (?, ?, 1, 'message', ?, ?)`,
          )
          .bind(source, `home-${i}`, at, at),
      ),
    );
    // the same event id again: a duplicate is not stored, so not counted
    await db
      .prepare(
        `INSERT INTO events (source_id, sender_event_id, contact_id, type, occurred_at, received_at) VALUES ('home-crm', 'home-0', 1, 'message', ?, ?) ON CONFLICT DO NOTHING`,
      )
      .bind(hourAt(0), hourAt(0))
      .run();
    await newDeadLetter('home-crm');
    await newDeadLetter('home-crm');
    await seedDeadLetter();

    const { body } = await api<HomeResponse>('/api/home');
    const intake = body.intake!;
    expect(intake.hours).toHaveLength(48);
    expect(intake.hours.at(-1)).toBe(Math.floor(now / HOUR) * HOUR);
    for (const s of intake.sources) {
      for (const [i, h] of intake.hours.entries()) {
        const n = await db
          .prepare('SELECT COUNT(*) AS n FROM events WHERE source_id = ? AND received_at >= ? AND received_at < ?')
          .bind(s.id, h, h + HOUR)
          .first<number>('n');
        expect(s.counts[i], `${s.id} at ${new Date(h).toISOString()}`).toBe(n);
      }
    }
    expect(intake.sources.map((s) => [s.id, s.name, s.total])).toEqual([
      ['home-crm', '商城 CRM', 30],
      ['unregistered', null, 5],
    ]);
    const dead = await db.prepare('SELECT COUNT(*) AS n FROM intake_dead_letters WHERE requeued_at IS NULL').first<number>('n');
    expect(intake.intakeDeadLetters).toEqual({ open: dead, recent: dead });
    expect(intake.intakeDeadLetters.open).toBe(2);
    const outboundDead = await db.prepare(`SELECT COUNT(*) AS n FROM deliveries WHERE status = 'dead'`).first<number>('n');
    expect(intake.outbound.dead).toBe(outboundDead);
    expect(intake.outbound.dead).toBeGreaterThan(0);
    expect(intake.queueDepth).toBeNull();

    for (const user of [ADMIN, STAFF]) expect((await apiAs<HomeResponse>(user, '/api/home')).body.intake).toBeNull();
  });

  it('answers 401 without a session', async () => {
    expect((await anonApi('/api/home')).status).toBe(401);
  });
});
