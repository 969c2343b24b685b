/**
 * The demo's published rules as `npm start` seeds them (scripts/seed.ts): a rule made from its
 * template with the demo's tags, its scheduled runs back-computed with `pastRunStatements`. The
 * runs write only the rule's department's contacts that existed by then, the home's activity
 * rollup matches the ledger, and once run at now the rule is where it would be published: a
 * preview of it changes nothing.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { demoRules, demoSql, scheduledRuns } from '@shared/demo';
import type { RulePreviewResponse } from '@shared/api/rules';
import { compileRule, type CompiledRule } from '@shared/rules/compile';
import { netPlanOver, type NetPlan } from '@shared/rules/net-effect';
import { templateById } from '@shared/templates/templates';
import { dayNumber } from '@shared/time';
import { compileOptions, loadWorkspace } from '../src/rules/context';
import { pastRunStatements } from '../src/rules/past-runs';
import { api } from './fixtures';

const db = env.DB;
const TZ = 480;
const NOW = Date.now();
const TODAY = dayNumber(NOW, TZ);
const DAYS = 12;
const EAST_PATH = '/1/2/';

let ruleId = 0;
let graph: unknown;
let runs: number[] = [];

beforeAll(async () => {
  const statements = [...demoSql({ contacts: 400, seed: 5, now: NOW, avgEvents: 10 })];
  for (let i = 0; i < statements.length; i += 50) await db.batch(statements.slice(i, i + 50).map((s) => db.prepare(s)));
  const spec = demoRules(NOW).find((r) => r.template === 'lifecycle')!;
  expect(spec.departmentId).toBe(2);
  const template = templateById(spec.template)!;
  const ws = await loadWorkspace(db);
  const ids = new Map(template.tags.map((t) => [t.key, ws.tags.find((x) => x.groupName === t.group && x.name === t.name)!.id]));
  graph = template.build({ tagId: (k) => ids.get(k)!, notifyDestinationId: null });
  const compiled = compileRule(graph, compileOptions(ws));
  if (!compiled.ok) throw new Error(JSON.stringify(compiled.errors));
  const rule: CompiledRule = compiled.value;
  const net: NetPlan = netPlanOver(
    rule.actions,
    ws.tags.map((t) => ({ id: t.id, groupId: t.groupId, exclusive: t.groupExclusive })),
  );
  const row = await db
    .prepare(
      `INSERT INTO rules (name, department_id, status, draft_graph, published_version, created_by, created_at, updated_at)
       VALUES (?, 2, 'published', ?, 1, NULL, 1, 1) RETURNING id`,
    )
    .bind(spec.name, JSON.stringify(graph))
    .first<{ id: number }>();
  ruleId = row!.id;
  await db
    .prepare(
      `INSERT INTO rule_versions (rule_id, version, graph, logic, trigger, created_at, published_at) VALUES (?, 1, ?, ?, 'schedule', 1, 1)`,
    )
    .bind(ruleId, JSON.stringify(graph), JSON.stringify(rule.logic))
    .run();
  runs = [...scheduledRuns('0 3 * * *', TODAY - DAYS + 1, NOW, TZ), NOW];
  for (const at of runs) {
    const s = pastRunStatements(db, rule, net, {
      ruleId,
      ruleVersion: 1,
      at,
      tzOffsetMinutes: TZ,
      departmentPath: EAST_PATH,
      batchId: `t:${at}`,
    });
    if (!s.ok) throw new Error(JSON.stringify(s.errors));
    await db.batch(s.value);
  }
});

describe('demo rule history', () => {
  it('writes ledger rows at the runs, only for contacts of the department that existed by then', async () => {
    const rows = (
      await db
        .prepare(
          `SELECT l.at, l.op, c.created_at, d.path FROM tag_ledger l JOIN contacts c ON c.id = l.contact_id
           LEFT JOIN departments d ON d.id = c.department_id WHERE l.rule_id = ?`,
        )
        .bind(ruleId)
        .all<{ at: number; op: string; created_at: number; path: string | null }>()
    ).results;
    expect(rows.length).toBeGreaterThan(0);
    const runSet = new Set(runs);
    expect(rows.filter((r) => !runSet.has(r.at))).toEqual([]);
    expect(rows.filter((r) => !r.path?.startsWith(EAST_PATH))).toEqual([]);
    expect(rows.filter((r) => r.created_at > r.at)).toEqual([]);
    // the first run tags the department; later runs move some contacts between stages
    expect(new Set(rows.map((r) => dayNumber(r.at, TZ))).size).toBeGreaterThan(1);
  });

  it('keeps the home’s activity rollup equal to the ledger, hour by hour', async () => {
    const ledger = (
      await db
        .prepare(
          `SELECT at / 3600000 AS hour, sum(op = 'add') AS added, sum(op = 'remove') AS removed FROM tag_ledger WHERE rule_id = ? GROUP BY 1 ORDER BY 1`,
        )
        .bind(ruleId)
        .all()
    ).results;
    const rollup = (
      await db.prepare('SELECT hour, added, removed FROM rule_activity_hourly WHERE rule_id = ? ORDER BY hour').bind(ruleId).all()
    ).results;
    expect(rollup).toEqual(ledger);
  });

  it('leaves the rule where publishing it now would: its preview changes nothing', async () => {
    const r = await api<RulePreviewResponse>('/api/rules/preview', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ graph, ruleId, sampleSize: 0 }),
    });
    expect(r.status).toBe(200);
    if (!r.body.ok) throw new Error(JSON.stringify(r.body.errors));
    expect(r.body.counts.tags.length).toBeGreaterThan(0);
    for (const t of r.body.counts.tags) expect([t.tagId, t.gain, t.lose]).toEqual([t.tagId, 0, 0]);
  });
});
