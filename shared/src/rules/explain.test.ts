import { describe, expect, it } from 'vitest';
import { compileRule } from './compile';
import { explainRule, formatFen, formatLocalTime } from './explain';
import type { RuleGraph } from './types';

const NOW = 1_773_540_000_000; // 2026-03-15 10:00 Asia/Shanghai
const TODAY = 20527;

const graph: RuleGraph = {
  schemaVersion: 1,
  nodes: [
    { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } },
    {
      id: 'spend',
      kind: 'condition',
      condition: { field: 'event.amount', op: 'gte', value: 100000, params: { eventType: 'purchase', days: 30 } },
    },
    { id: 'dept', kind: 'condition', condition: { field: 'departmentId', op: 'lt', value: 5 } },
    { id: 'a', kind: 'action', action: { type: 'add_tag', tagId: 1 } },
  ],
  edges: [
    { id: 'e1', source: 't', target: 'spend' },
    { id: 'e2', source: 'spend', target: 'a', sourceHandle: 'yes' },
    { id: 'e3', source: 't', target: 'dept' },
  ],
};

describe('explainRule', () => {
  const compiled = compileRule(graph);
  if (!compiled.ok) throw new Error(JSON.stringify(compiled.errors));
  const data = {
    contact: { departmentId: null },
    stats: [
      { type: 'purchase' as const, day: TODAY, count: 1, amount: 100000 },
      { type: 'purchase' as const, day: TODAY - 3, count: 1, amount: 28000 },
    ],
    now: NOW,
  };
  const ex = explainRule(compiled.value, data);

  it('says which condition held, with the contact’s value in yuan', () => {
    const spend = ex.conditions.find((c) => c.nodeId === 'spend');
    expect(spend).toMatchObject({ held: true, actual: 128000, expected: 100000 });
    expect(spend?.text.en).toBe('Purchase amount in the last 30 days = ¥1,280.00 ≥ ¥1,000.00 ✓');
    // the event type in words, never its stored name, in Chinese too
    expect(spend?.text.zh).toBe('近30天购买金额合计 = ¥1,280.00 ≥ ¥1,000.00 ✓');
  });

  it('names stored values in words: an event count, a contact kind, a days-ago condition', () => {
    const g: RuleGraph = {
      schemaVersion: 1,
      nodes: [
        { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } },
        {
          id: 'msgs',
          kind: 'condition',
          condition: { field: 'event.count', op: 'gte', value: 1, params: { eventType: 'message', days: 7 } },
        },
        { id: 'kind', kind: 'condition', condition: { field: 'kind', op: 'eq', value: 'group_member' } },
        { id: 'quiet', kind: 'condition', condition: { field: 'lastActiveAt', op: 'more_than_days_ago', value: 180 } },
        { id: 'a', kind: 'action', action: { type: 'add_tag', tagId: 1 } },
      ],
      edges: [
        { id: 'e1', source: 't', target: 'msgs' },
        { id: 'e2', source: 'msgs', target: 'kind', sourceHandle: 'yes' },
        { id: 'e3', source: 'kind', target: 'quiet', sourceHandle: 'yes' },
        { id: 'e4', source: 'quiet', target: 'a', sourceHandle: 'yes' },
      ],
    };
    const c = compileRule(g);
    if (!c.ok) throw new Error(JSON.stringify(c.errors));
    const e = explainRule(c.value, { contact: { kind: 'group_member', lastActiveAt: null }, stats: [], now: NOW });
    const text = (id: string) => e.conditions.find((x) => x.nodeId === id)!.text;
    expect(text('msgs').zh).toBe('近7天发消息次数 = 0 ≥ 1 ✗');
    expect(text('msgs').en).toBe('Message count in the last 7 days = 0 ≥ 1 ✗');
    expect(text('kind').zh).toBe('联系人类型 = “群成员” = “群成员” ✓');
    expect(text('kind').en).toContain('“Group member”');
    expect(text('quiet').zh).toContain('距今超过 180 天');
    expect(text('quiet').en).toContain('more than 180 days ago');
    for (const t of e.conditions.map((x) => x.text.zh)) expect(t).not.toMatch(/message|group_member|more_than/);
  });

  it('shows a missing value as missing and the comparison as not held', () => {
    const dept = ex.conditions.find((c) => c.nodeId === 'dept');
    expect(dept).toMatchObject({ held: false, actual: null });
    expect(dept?.text.zh).toBe('所属部门 = （空） < 5 ✗');
  });

  it('reports fired actions and per-node reach', () => {
    expect(ex.fired).toEqual(['a']);
    expect(ex.reached).toMatchObject({ t: true, spend: true, dept: true, a: true });
  });
});

describe('formatting', () => {
  it('formats fen as yuan with separators, including negatives and small amounts', () => {
    expect(formatFen(123456789)).toBe('¥1,234,567.89');
    expect(formatFen(5)).toBe('¥0.05');
    expect(formatFen(-100)).toBe('-¥1.00');
  });
  it('formats times in the evaluation zone: 16:00 UTC is 00:00 the next day in Shanghai', () => {
    expect(formatLocalTime(Date.UTC(2026, 2, 14, 16, 0), 480)).toBe('2026-03-15 00:00');
  });
});
