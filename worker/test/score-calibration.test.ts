import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { dayNumber } from '@shared/time';
import type { RulePreviewResponse } from '@shared/api/rules';
import type { ScoreCalibrationResponse } from '@shared/api/score-calibration';
import { api, apiAs, type TestUser } from './fixtures';

/**
 * Caps from the workspace (issue 18): each factor's spread over the contacts the caller may see,
 * and a cap that gives the full weight to the contacts at or above the percentile. The world:
 * 100 contacts with 1…100 messages (ids 1001–1100; the first 40 in 华东, the rest in 华南), 10
 * of them with 1…10 violations, and article opens (an event count) for every fourth.
 */
const json = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
const HUADONG_ADMIN: TestUser = { id: 9301, role: 'dept_admin', departmentId: 2 };
const today = dayNumber(Date.now(), 480);
const N = 100;
const messages = Array.from({ length: N }, (_, i) => i + 1);
const violations = messages.map((m) => (m > 90 ? m - 90 : 0));
const opens = messages.map((m) => (m % 4 === 0 ? m / 4 : 0));

/** Nearest rank from below, as the API documents it: the value `(n − 1) · p / 100` rows from the smallest. */
const atPercentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.floor(((values.length - 1) * p) / 100)]!;

beforeAll(async () => {
  const rows = messages.map(
    (m, i) => `(${1001 + i}, 'group_member', 'cal_${i}', '成员${i}', ${i < 40 ? 2 : 4}, ${i}, 0, 0, ${m}, ${violations[i]})`,
  );
  const stats = messages.flatMap((_, i) => (opens[i]! > 0 ? [`(${1001 + i}, 'article_open', ${today - 3}, ${opens[i]}, 0)`] : []));
  await env.DB.batch([
    env.DB.prepare(
      `insert into departments (id, name, parent_id, path) values (1, '总部', null, '/1/'), (2, '华东', 1, '/1/2/'), (4, '华南', 1, '/1/4/')`,
    ),
    env.DB.prepare(
      `insert into contacts (id, kind, external_id, name, department_id, bucket, created_at, updated_at, message_count, violation_count) values ${rows.join(', ')}`,
    ),
    env.DB.prepare(`insert into tag_groups (id, name, color, exclusive, sort_order) values (1, '成员分层', '#e6a23c', 1, 1)`),
    env.DB.prepare(
      `insert into tags (id, group_id, parent_id, level, name, status) values (1, 1, null, 1, '核心', 'active'), (2, 1, null, 1, '其他', 'active')`,
    ),
    env.DB.prepare(`insert into contact_daily_stats (contact_id, type, day, count, amount) values ${stats.join(', ')}`),
  ]);
});

const factors = [
  { field: 'messageCount' },
  { field: 'violationCount' },
  { field: 'event.count', params: { eventType: 'article_open', days: 30 } },
];

describe('POST /api/score-calibration', () => {
  it("gives each factor's percentile, largest value, contacts above 0 and the cap that follows", async () => {
    const res = await api<ScoreCalibrationResponse>('/api/score-calibration', json({ metrics: factors }));
    expect(res.status).toBe(200);
    expect(res.body.percentile).toBe(90);
    expect(res.body.total).toBe(N);
    const [msg, vio, open] = res.body.factors;
    expect(msg).toEqual({ atPercentile: atPercentile(messages, 90), max: 100, positive: 100, suggestedCap: atPercentile(messages, 90) });
    // most contacts have no violation: the cap comes from the contacts that have one
    const someViolations = violations.filter((v) => v > 0);
    expect(vio).toEqual({ atPercentile: 0, max: 10, positive: 10, suggestedCap: atPercentile(someViolations, 90) });
    expect(open!.max).toBe(25);
    expect(open!.positive).toBe(25);
    expect(open!.atPercentile).toBe(atPercentile(opens, 90));
    expect(open!.suggestedCap).toBe(Math.ceil(atPercentile(opens, 90)));
  });

  it('takes another percentile', async () => {
    const res = await api<ScoreCalibrationResponse>('/api/score-calibration', json({ metrics: [factors[0]], percentile: 50 }));
    expect(res.body.factors[0]!.suggestedCap).toBe(atPercentile(messages, 50));
  });

  it('gives the full weight to exactly the contacts at or above the suggested cap, as the preview counts them', async () => {
    const res = await api<ScoreCalibrationResponse>('/api/score-calibration', json({ metrics: [factors[0]] }));
    const cap = res.body.factors[0]!.suggestedCap!;
    const graph = {
      schemaVersion: 1,
      nodes: [
        { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } },
        {
          id: 's',
          kind: 'band',
          metrics: [{ field: 'messageCount', weight: 100, cap }],
          bands: [
            { id: 'full', min: 100, max: null, tagId: 1 },
            { id: 'rest', min: 0, max: 100, tagId: 2 },
          ],
        },
      ],
      edges: [{ id: 'e1', source: 't', target: 's' }],
    };
    const preview = await api<RulePreviewResponse>('/api/rules/preview', json({ graph, sampleSize: 0 }));
    if (!preview.body.ok) throw new Error(JSON.stringify(preview.body.errors));
    expect(preview.body.counts.nodes['s:full']).toBe(messages.filter((m) => m >= cap).length);
    expect(preview.body.counts.nodes['s:full']).toBe(11);
  });

  it("counts only the contacts of the caller's department subtree", async () => {
    const res = await apiAs<ScoreCalibrationResponse>(HUADONG_ADMIN, '/api/score-calibration', json({ metrics: [factors[0]] }));
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(40);
    expect(res.body.factors[0]).toMatchObject({ max: 40, suggestedCap: atPercentile(messages.slice(0, 40), 90) });
  });

  it('says null when no contact is above 0, so the cap in place stays', async () => {
    const res = await apiAs<ScoreCalibrationResponse>(HUADONG_ADMIN, '/api/score-calibration', json({ metrics: [factors[1]] }));
    expect(res.body.factors[0]).toEqual({ atPercentile: 0, max: 0, positive: 0, suggestedCap: null });
  });

  it('refuses what is not a score factor with a 400 naming it, never a 500', async () => {
    const cases: [unknown, string][] = [
      [{ metrics: [{ field: 'region' }] }, 'metrics.0.field'],
      [{ metrics: [{ field: 'nope' }] }, 'metrics.0.field'],
      [{ metrics: [{ field: 'event.count' }] }, 'metrics.0.params'],
      [{ metrics: [{ field: 'event.amount' }] }, 'metrics.0.params'],
      [{ metrics: [] }, 'metrics'],
      [{ metrics: [factors[0]], percentile: 100 }, 'percentile'],
      [{ metrics: [factors[0]], extra: 1 }, ''],
      [{ metrics: [{ field: 'messageCount', weight: 10 }] }, 'weight'],
    ];
    for (const [body, path] of cases) {
      const res = await api('/api/score-calibration', json(body));
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(JSON.stringify(res.body.error), JSON.stringify(body)).toContain(path);
    }
    const broken = await api('/api/score-calibration', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"metrics": [',
    });
    expect(broken.status).toBe(400);
  });
});
