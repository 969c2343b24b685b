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

describe('explainRule: 所属部门 and below, in segment', () => {
  const seg: RuleGraph = {
    schemaVersion: 1,
    nodes: [
      { id: 's', kind: 'trigger', trigger: { type: 'schedule', cron: 'segment' } },
      { id: 'big', kind: 'condition', condition: { field: 'totalSpend', op: 'gte', value: 100000 } },
      { id: 'end', kind: 'logic', op: 'or' },
    ],
    edges: [
      { id: 'e1', source: 's', target: 'big' },
      { id: 'e2', source: 'big', target: 'end', sourceHandle: 'yes' },
    ],
  };
  const rule = (condition: RuleGraph['nodes'][number] & { kind: 'condition' }): RuleGraph => ({
    schemaVersion: 1,
    nodes: [
      { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } },
      condition,
      { id: 'a', kind: 'action', action: { type: 'add_tag', tagId: 1 } },
    ],
    edges: [
      { id: 'e1', source: 't', target: condition.id },
      { id: 'e2', source: condition.id, target: 'a', sourceHandle: 'yes' },
    ],
  });
  const segments = { get: (id: number) => (id === 7 ? { id: 7, name: '高消费', graph: seg } : undefined) };

  it('says 在分群「X」中: 是/否, and what "not in" asked', () => {
    const inIt = compileRule(rule({ id: 'c', kind: 'condition', condition: { field: 'segment', op: 'in_segment', value: 7 } }), {
      segments,
    });
    const notIn = compileRule(rule({ id: 'c', kind: 'condition', condition: { field: 'segment', op: 'not_in_segment', value: 7 } }), {
      segments,
    });
    if (!inIt.ok || !notIn.ok) throw new Error('does not compile');
    const rich = { contact: { totalSpend: 200000 }, now: NOW };
    const poor = { contact: { totalSpend: 100 }, now: NOW };
    expect(explainRule(inIt.value, rich).conditions[0]?.text).toEqual({ zh: '在分群「高消费」中: 是 ✓', en: 'In segment "高消费": yes ✓' });
    expect(explainRule(inIt.value, poor).conditions[0]?.text.zh).toBe('在分群「高消费」中: 否 ✗');
    expect(explainRule(notIn.value, poor).conditions[0]?.text).toEqual({
      zh: '在分群「高消费」中: 否（条件: 不在其中） ✓',
      en: 'In segment "高消费": no (condition: not in it) ✓',
    });
    expect(explainRule(notIn.value, rich).conditions[0]).toMatchObject({ held: false, actual: true });
  });

  it('says the chosen department "or below", with names', () => {
    const r = compileRule(rule({ id: 'c', kind: 'condition', condition: { field: 'departmentId', op: 'in_department_tree', value: 2 } }));
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    const names = {
      departmentId: new Map([
        [2, '华东大区'],
        [3, '上海一组'],
      ]),
    };
    const ex = explainRule(r.value, { contact: { departmentId: 3, departmentPath: '/1/2/3/' }, now: NOW }, [], names);
    expect(ex.conditions[0]?.text).toEqual({
      zh: '所属部门 = 上海一组 属于「华东大区」或其下级部门 ✓',
      en: 'Department = 上海一组 is 华东大区 or a department under it ✓',
    });
  });
});
