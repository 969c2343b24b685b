import { describe, expect, it } from 'vitest';
import { compileRule } from './compile';
import { explainRule } from './explain';
import { netChange, netPlanOver } from './net-effect';
import { compileRulePlan } from './evaluate';
import type { BandNode, RuleGraph } from './types';

const NOW = 1_773_540_000_000; // 2026-03-15 10:00 Asia/Shanghai
const TODAY = 20527;

// Seed 003's member score on one band node: group 7 is exclusive and holds tags 11–14.
const band: BandNode = {
  id: 'b',
  kind: 'band',
  metrics: [
    { field: 'messageCount', weight: 30, cap: 60 },
    { field: 'event.count', params: { eventType: 'article_open', days: 30 }, weight: 25, cap: 5 },
    { field: 'event.count', params: { eventType: 'group_join', days: 90 }, weight: 20, cap: 2 },
    { field: 'inviteCount', weight: 15, cap: 5 },
    { field: 'violationCount', weight: -10, cap: 3 },
  ],
  bands: [
    { id: 'core', label: '核心', min: 80, max: null, tagId: 11 },
    { id: 'active', min: 60, max: 80, tagId: 12 },
    { id: 'normal', min: 40, max: 60, tagId: 13 },
    { id: 'watch', min: -10, max: 40, tagId: 14 },
  ],
};
const graphOf = (b: BandNode): RuleGraph => ({
  schemaVersion: 1,
  nodes: [{ id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * 1' } }, b],
  edges: [{ id: 'e', source: 't', target: 'b' }],
});
const GROUPS = new Map([
  [11, { groupId: 7, exclusive: true }],
  [12, { groupId: 7, exclusive: true }],
  [13, { groupId: 7, exclusive: true }],
  [14, { groupId: 7, exclusive: true }],
  [15, { groupId: 8, exclusive: true }],
  [21, { groupId: 9, exclusive: false }],
  [22, { groupId: 9, exclusive: false }],
]);
const opts = { tagGroup: (id: number) => GROUPS.get(id) };

function errorsOf(b: BandNode) {
  const r = compileRule(graphOf(b), opts);
  if (r.ok) throw new Error('expected errors');
  return r.errors.map((e) => ({ nodeId: e.nodeId, code: e.code, message: e.message }));
}

describe('band node', () => {
  it('lowers to a score plus one add-tag action per band, in the node’s place', () => {
    const r = compileRule(graphOf(band), opts);
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.value.actions).toEqual([
      { nodeId: 'b:core', action: { type: 'add_tag', tagId: 11 } },
      { nodeId: 'b:active', action: { type: 'add_tag', tagId: 12 } },
      { nodeId: 'b:normal', action: { type: 'add_tag', tagId: 13 } },
      { nodeId: 'b:watch', action: { type: 'add_tag', tagId: 14 } },
    ]);
    expect(r.value.tests.find((t) => t.nodeId === 'b')?.kind).toBe('number');
    // the bands never overlap, so the net plan has no exclusive conflicts between them
    const plan = netPlanOver(
      r.value.actions,
      [...GROUPS].map(([id, g]) => ({ id, ...g })),
    );
    const fired = compileRulePlan(r.value)({ contact: { messageCount: 60, inviteCount: 5 }, now: NOW });
    expect(fired).toEqual(['b:normal']); // 30 + 15 = 45
    expect(netChange(plan, fired)).toEqual({ add: [13], remove: [] });
  });

  it('refuses overlapping bands, naming both', () => {
    const b = { ...band, bands: band.bands.map((x) => (x.id === 'active' ? { ...x, max: 85 } : x)) };
    expect(errorsOf(b)).toEqual([{ nodeId: 'b', code: 'bad_bands', message: 'bands "active" (60–85) and "core" (80–∞) overlap' }]);
  });

  it('refuses a gap between bands', () => {
    const b = { ...band, bands: band.bands.map((x) => (x.id === 'normal' ? { ...x, min: 45 } : x)) };
    expect(errorsOf(b)).toEqual([
      { nodeId: 'b', code: 'bad_bands', message: 'bands "watch" (-10–40) and "normal" (45–60) leave a gap from 40 to 45' },
    ]);
  });

  it('refuses an open-ended band below another', () => {
    const b = { ...band, bands: band.bands.map((x) => (x.id === 'active' ? { ...x, max: null } : x)) };
    expect(errorsOf(b).map((e) => e.code)).toEqual(['bad_bands']);
  });

  it('refuses a tag twice, a tag of another group, and a group that is not exclusive', () => {
    const twice = { ...band, bands: band.bands.map((x) => (x.id === 'active' ? { ...x, tagId: 11 } : x)) };
    expect(errorsOf(twice)).toEqual([{ nodeId: 'b', code: 'bad_bands', message: 'bands "core" and "active" add the same tag 11' }]);
    const other = { ...band, bands: band.bands.map((x) => (x.id === 'watch' ? { ...x, tagId: 15 } : x)) };
    expect(errorsOf(other)).toEqual([
      {
        nodeId: 'b',
        code: 'band_group',
        message: `band "watch": tag 15 is not in the group of band "core"'s tag 11: one group per band node`,
      },
    ]);
    const plain: BandNode = {
      ...band,
      bands: [
        { id: 'hi', min: 50, max: null, tagId: 21 },
        { id: 'lo', min: 0, max: 50, tagId: 22 },
      ],
    };
    expect(errorsOf(plain).map((e) => e.code)).toEqual(['band_group']);
  });

  it('refuses a band whose tag is unknown, like an action', () => {
    const r = compileRule(graphOf(band), { ...opts, tagExists: (id) => id !== 14 });
    expect(r.ok ? [] : r.errors.map((e) => [e.nodeId, e.code])).toEqual([['b:watch', 'unknown_tag']]);
  });

  it('explains each factor’s value, weight, contribution, the total and the band', () => {
    const r = compileRule(graphOf(band), opts);
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    const data = {
      contact: { messageCount: 90, inviteCount: 2, violationCount: 1 },
      stats: [
        { type: 'article_open' as const, day: TODAY, count: 4, amount: 0 },
        { type: 'group_join' as const, day: TODAY - 100, count: 2, amount: 0 },
      ],
      now: NOW,
    };
    const ex = explainRule(r.value, data);
    const d = ex.scoreDetails.b;
    expect(d?.factors.map((f) => [f.label.zh, f.value, f.weight, f.contribution])).toEqual([
      ['消息数', 90, 30, 30],
      ['近30天打开文章次数', 4, 25, 20],
      ['近90天入群次数', 0, 20, 0],
      ['邀请人数', 2, 15, 6],
      ['违规次数', 1, -10, -10 / 3],
    ]);
    expect(d?.total).toBe(ex.scores.b);
    expect(d?.total).toBeCloseTo(30 + 20 + 6 - 10 / 3, 12);
    expect(d?.band).toEqual({ id: 'normal', min: 40, max: 60, tagId: 13 });
    expect(ex.fired).toEqual(['b:normal']);
    // a date factor is the days since, named so; a missing factor is null and adds 0
    const stale = compileRule(
      graphOf({ ...band, metrics: [{ field: 'lastActiveAt', weight: -50, cap: 10 }, ...band.metrics.slice(0, 1)] }),
      opts,
    );
    if (!stale.ok) throw new Error(JSON.stringify(stale.errors));
    const days = explainRule(stale.value, { contact: { lastActiveAt: NOW - 4 * 86_400_000, messageCount: 60 }, now: NOW }).scoreDetails.b;
    expect(days?.factors[0]).toMatchObject({
      label: { zh: '最近活跃距今天数', en: 'Days since last active' },
      value: 4,
      contribution: -20,
    });
    expect(days?.total).toBe(10);
    const empty = explainRule(r.value, { contact: { messageCount: null }, now: NOW }).scoreDetails.b;
    expect(empty?.factors[0]).toMatchObject({ value: null, contribution: 0 });
    expect(empty?.band?.id).toBe('watch');
  });
});
