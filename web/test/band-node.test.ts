import { beforeEach, describe, expect, it, vi } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { EVENT_TYPES } from '@shared/domain';
import type { RuleGraph } from '@shared/rules/types';
import { MEMBER_SCORE_BANDS, MEMBER_SCORE_METRICS } from '@shared/templates/templates';
import { factorOf, measureOf, measures } from '../src/features/rule-builder/band-measures';
import { createNode } from '../src/features/rule-builder/rule-graph';
import { matchQuickAdd, quickAddItems } from '../src/features/rule-builder/quick-add';
import { paletteItem } from '../src/features/rule-builder/palette';
import { useRuleDocStore } from '../src/features/rule-builder/useRuleDocStore';

// band-text reads the app's i18n, which reads the saved language and the browser's at import
vi.stubGlobal('localStorage', { getItem: () => 'zh-CN', setItem: () => undefined });
vi.stubGlobal('navigator', { languages: ['zh-CN'], language: 'zh-CN' });
const { bandRangeText, firedAction } = await import('../src/features/rule-builder/band-text');

const custom = [
  { key: 'points', labelZh: '积分', labelEn: 'Points', type: 'number' as const },
  { key: 'vip', labelZh: '会员', labelEn: 'VIP', type: 'boolean' as const },
];

describe('band node measures', () => {
  it('offers every event type, the numeric, yes/no and date contact fields (no ids), custom ones too', () => {
    const ids = measures(custom).map((m) => m.id);
    for (const e of EVENT_TYPES) expect(ids).toContain(`count:${e}`);
    expect(ids).toContain('field:messageCount');
    expect(ids).toContain('field:custom.points');
    expect(ids).toContain('amount:purchase');
    expect(ids).not.toContain('field:departmentId');
    // a yes/no counts 1 / 0, a date the days since (staleness a penalty)
    expect(ids).toContain('field:custom.vip');
    const all = measures(custom);
    expect(all.find((m) => m.id === 'field:custom.vip')).toMatchObject({ group: 'custom', cap: 1, penalty: false });
    expect(all.find((m) => m.id === 'field:lastActiveAt')).toMatchObject({ group: 'days', cap: 180, penalty: true });
    expect(ids).not.toContain('field:region');
  });

  it('starts violations as a penalty, with a 30-day window for event counts, and round-trips its measure', () => {
    const all = measures([]);
    const violations = factorOf(all.find((m) => m.id === 'field:violationCount')!);
    expect(violations.weight).toBe(-10);
    const articles = factorOf(all.find((m) => m.id === 'count:article_open')!);
    expect(articles).toMatchObject({ field: 'event.count', params: { eventType: 'article_open', days: 30 }, weight: 10 });
    expect(measureOf(articles)).toBe('count:article_open');
    expect(measureOf(violations)).toBe('field:violationCount');
  });
});

describe('band node in the palette and quick add', () => {
  const words = {
    kind: (k: string) => ({ band: '评分分层' })[k] ?? k,
    kindHint: () => '',
    preset: (p: string) => p,
    presetHint: () => '',
    field: (f: { label: { zh: string } }) => f.label.zh,
    condition: '',
  };
  it('is offered to rules, found by its name in both languages, and not offered to segments', () => {
    expect(paletteItem('band')).toEqual({ kind: 'band' });
    const rule = quickAddItems([], words, { segment: false, eventTriggered: false });
    expect(matchQuickAdd(rule, '分层').map((i) => i.id)).toEqual(['kind:band']);
    expect(matchQuickAdd(rule, 'band').map((i) => i.id)).toContain('kind:band');
    const segment = quickAddItems([], words, { segment: true, eventTriggered: false });
    expect(segment.map((i) => i.id)).not.toContain('kind:band');
  });
});

describe('band node in the editor', () => {
  beforeEach(() => setActivePinia(createPinia()));
  const graph = (weights: number[]): RuleGraph => ({
    schemaVersion: 1,
    nodes: [
      { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } },
      {
        id: 'b',
        kind: 'band',
        metrics: MEMBER_SCORE_METRICS.map((m, i) => ({ ...m, weight: weights[i]! })),
        bands: MEMBER_SCORE_BANDS.map((x, i) => ({ ...x, tagId: 11 + i })),
      },
    ],
    edges: [{ id: 'e', source: 't', target: 'b' }],
  });

  it('starts with seed 003’s bands, contiguous, no tags and no factors yet', () => {
    const n = createNode('band', { x: 0, y: 0 });
    expect(n.kind === 'band' && n.bands.map((b) => [b.min, b.max, b.tagId])).toEqual([
      [80, null, 0],
      [60, 80, 0],
      [40, 60, 0],
      [-100, 40, 0],
    ]);
  });

  it('checks the weights like a score and compiles with no error', () => {
    const doc = useRuleDocStore();
    doc.load(graph(MEMBER_SCORE_METRICS.map((m) => m.weight)));
    expect(doc.errors).toEqual([]);
    doc.load(graph([30, 25, 20, 15, -20]));
    expect(doc.errors.map((e) => [e.nodeId, e.code])).toEqual([['b', 'weights_sum']]);
  });

  it('reads band ranges as a marketer does: ≥ 80, 60 – 80, and < 40 for the lowest from −100', () => {
    expect(bandRangeText({ min: 80, max: null })).toBe('≥ 80');
    expect(bandRangeText({ min: 60, max: 80 })).toBe('60 – 80');
    expect(bandRangeText({ min: -100, max: 40 }, true)).toBe('< 40');
    expect(bandRangeText({ min: 0, max: 40 }, true)).toBe('0 – 40');
  });

  it('reads a fired band as the add-tag action it compiles to', () => {
    const doc = useRuleDocStore();
    doc.load(graph(MEMBER_SCORE_METRICS.map((m) => m.weight)));
    expect(firedAction(doc.nodeById, 'b:active')).toEqual({ id: 'b:active', kind: 'action', action: { type: 'add_tag', tagId: 12 } });
    expect(firedAction(doc.nodeById, 'b:nope')).toBeUndefined();
    expect(firedAction(doc.nodeById, 't')).toBeUndefined();
  });
});
