import { describe, expect, it } from 'vitest';
import { compileRule, type CompiledRule } from './compile';
import { buildPreviewCountPlan, unwrapCoalesce } from './preview-counts';
import { D1_MAX_PARAMS } from './sql';
import { netPlanOver } from './net-effect';
import type { RuleEdge, RuleGraph, RuleNode } from './types';

const ctx = { now: 1_773_540_000_000, tzOffsetMinutes: 480 };
const cond = (id: string, field: string, op: string, value?: unknown, params?: { eventType: 'purchase'; days: number }): RuleNode => ({
  id,
  kind: 'condition',
  condition: { field, op, ...(value === undefined ? {} : { value }), ...(params ? { params } : {}) },
});
function chain(conds: RuleNode[]): CompiledRule {
  const edges: RuleEdge[] = [{ id: 'e0', source: 't', target: 'c1' }];
  for (let i = 1; i < conds.length; i++) edges.push({ id: `y${i}`, source: `c${i}`, target: `c${i + 1}`, sourceHandle: 'yes' });
  edges.push(
    { id: 'ein', source: `c${conds.length}`, target: 'a_in', sourceHandle: 'yes' },
    { id: 'eout', source: 'c1', target: 'a_out', sourceHandle: 'no' },
  );
  const g: RuleGraph = {
    schemaVersion: 1,
    nodes: [
      { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } },
      ...conds,
      { id: 'a_in', kind: 'action', action: { type: 'add_tag', tagId: 1 } },
      { id: 'a_out', kind: 'action', action: { type: 'remove_tag', tagId: 2 } },
    ],
    edges,
  };
  const r = compileRule(g);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
}
const five = [
  cond('c1', 'kind', 'in', ['friend', 'wecom_customer']),
  cond('c2', 'region', 'in', ['广东', '上海']),
  cond('c3', 'event.amount', 'gte', 10_000, { eventType: 'purchase', days: 30 }),
  cond('c4', 'lastActiveAt', 'within_last_days', 30),
  cond('c5', 'messageCount', 'gte', 5),
];

describe('unwrapCoalesce', () => {
  it('drops an outer COALESCE(x, 0) and nothing else', () => {
    expect(unwrapCoalesce('COALESCE(c.total_spend >= ?, 0)')).toBe('c.total_spend >= ?');
    expect(unwrapCoalesce('COALESCE(c.kind IN (SELECT value FROM json_each(?)), 0)')).toBe('c.kind IN (SELECT value FROM json_each(?))');
    // two COALESCEs side by side, another default, no COALESCE at all: unchanged
    expect(unwrapCoalesce('COALESCE(a, 0) + COALESCE(b, 0)')).toBe('COALESCE(a, 0) + COALESCE(b, 0)');
    expect(unwrapCoalesce('COALESCE(json_array_length(c.x) = 0, 1)')).toBe('COALESCE(json_array_length(c.x) = 0, 1)');
    expect(unwrapCoalesce('(c.region IS NULL OR c.region = ?)')).toBe('(c.region IS NULL OR c.region = ?)');
    expect(unwrapCoalesce("COALESCE(x IN ('a, 0)'), 0)")).toBe("x IN ('a, 0)')");
  });
});

describe('buildPreviewCountPlan', () => {
  it('groups an aggregate once in a statement that compares it at two thresholds (a learned tree splits one amount twice)', () => {
    const rule = chain([
      cond('c1', 'event.amount', 'gte', 20_000, { eventType: 'purchase', days: 60 }),
      cond('c2', 'event.amount', 'lt', 20_700, { eventType: 'purchase', days: 60 }),
    ]);
    const plan = buildPreviewCountPlan(rule, ctx, { rounds: 1 });
    if (!plan?.ok) throw new Error('no plan');
    const sql = plan.value.first.statements.map((s) => s.sql).join('\n');
    // one shared window CTE, two threshold sets read from it, and no second GROUP BY over the rollup
    expect(sql).toContain('w0 AS MATERIALIZED');
    expect(sql.match(/FROM w0 /g)?.length).toBe(2);
    expect(sql.match(/GROUP BY/g)?.length).toBe(1);
    // one threshold alone keeps filtering while it groups
    const single = buildPreviewCountPlan(chain([cond('c1', 'event.amount', 'gte', 20_000, { eventType: 'purchase', days: 60 })]), ctx, {
      rounds: 1,
    });
    if (!single?.ok) throw new Error('no plan');
    expect(single.value.first.statements.map((s) => s.sql).join('\n')).not.toContain('w0');
  });

  it('counts a chain of five conditions with prefix counts, the no-sides by subtraction', () => {
    const plan = buildPreviewCountPlan(chain(five), ctx, { rounds: 1 });
    if (!plan?.ok) throw new Error('no plan');
    const { columns, combos } = plan.value;
    const { statements, perStatement } = plan.value.first;
    // total, 5 prefixes, two holder counts, two holders ∧ prefix: 10 counts for 22 columns (gain,
    // lose and kept of the added tag, gain and lose of the removed one among them).
    expect(perStatement.reduce((a, b) => a + b, 0)).toBe(10);
    expect(columns.length).toBe(22);
    expect(statements.length).toBe(1);
    const sql = statements[0]?.sql ?? '';
    // the aggregate is one set, computed once; comparisons are bare (indexable) in the WHEREs
    expect(sql.match(/AS MATERIALIZED/g)?.length).toBe(1);
    expect(sql).toContain('c.id IN a0');
    expect(sql).toContain('c.kind IN (SELECT value FROM json_each(');
    expect(sql).not.toMatch(/COALESCE\(c\.kind/);
    // the no edge of c1 is total − count(c1)
    const noEdge = columns.findIndex((c) => c.kind === 'edge' && c.edgeId === 'eout');
    expect(combos[noEdge]?.map((t) => t.coeff).sort()).toEqual([-1, 1]);
    expect(statements.every((s) => s.params.length <= D1_MAX_PARAMS)).toBe(true);
  });

  it('counts the held tags in a second round, each from its smaller side, and skips an empty side', () => {
    const plan = buildPreviewCountPlan(chain([cond('c1', 'kind', 'eq', 'wecom_customer')]), ctx, { countsPerStatement: 1 });
    if (!plan?.ok) throw new Error('no plan');
    const { first, second, size } = plan.value;
    // round 1: total, c1 and the two tags' holder counts on the tag index; no conjunction with a tag
    expect(first.fills.length).toBe(4);
    expect(first.statements.some((s) => /EXISTS|contact_tags ht|c\.id IN \(SELECT contact_id/.test(s.sql))).toBe(false);
    if (!second) throw new Error('no second round');
    /** The second round when every tag has `holders` holders and every other count is `others`. */
    const sized = (holders: number, others: number) => {
      const counts = new Array<number>(size).fill(others);
      first.statements.forEach((s, i) => {
        if (s.sql.includes('FROM contact_tags WHERE tag_id')) counts[first.fills[i] as number] = holders;
      });
      return second(counts);
    };
    // c1 ∧ holds tag 1 (gain, holders not matched) and ¬c1 ∧ holds tag 2 = holds 2 − c1 ∧ holds 2 (lose)
    // both probed from c1's few contacts: one pass over them looks both tags up
    const few = sized(1000, 10);
    expect(few.fills.length).toBe(2);
    expect(few.statements).toHaveLength(1);
    expect(few.statements[0]?.sql).toContain(
      'FROM contacts c JOIN contact_tags ht ON ht.contact_id = c.id AND ht.tag_id IN (SELECT value FROM json_each(',
    );
    expect(few.statements[0]?.sql).not.toContain('CROSS JOIN');
    const many = sized(10, 1000);
    expect(many.fills.length).toBe(2);
    expect(many.statements.every((s) => s.sql.includes('FROM contact_tags ht CROSS JOIN contacts c') && !s.sql.includes('EXISTS'))).toBe(
      true,
    );
    // an equality read off its own index, of about the holders' size: both id lists merged
    const near = sized(1000, 300);
    expect(near.fills.length).toBe(2);
    expect(
      near.statements.every((s) =>
        /FROM contacts c WHERE \(c\.kind = \?\d+\) INTERSECT SELECT ht\.contact_id FROM contact_tags ht WHERE ht\.tag_id = \?\d+ ORDER BY 1/.test(
          s.sql,
        ),
      ),
    ).toBe(true);
    // a conjunction with an empty side is 0 without a query
    expect(sized(0, 1000).statements).toEqual([]);
    expect(sized(1000, 0).statements).toEqual([]);
  });

  it('counts every conjunction over the aggregate set in one pass over its smallest one, in the first round', () => {
    const plan = buildPreviewCountPlan(chain(five), ctx);
    if (!plan?.ok) throw new Error('no plan');
    const { first, second, size } = plan.value;
    expect(size).toBe(10);
    // total, c1, c1 ∧ c2, one pass over c1 ∧ c2 ∧ c3 (with c4, c4 ∧ c5 and c4 ∧ c5 ∧ holds tag 1
    // riding on it), the two holder counts
    expect(first.fills.length).toBe(9);
    const sql = first.statements.map((s) => s.sql).join(';');
    expect(sql.match(/IN a0/g)?.length).toBe(1);
    expect(sql.match(/sum\(CASE WHEN/g)?.length).toBe(3);
    expect(sql).toContain('EXISTS (SELECT 1 FROM contact_tags ct WHERE ct.contact_id = c.id');
    // c1 ∧ holds tag 2 alone is left for the second round
    expect(second?.(new Array<number>(size).fill(5)).fills.length).toBe(1);
  });

  it('counts a chain after a test no index can narrow in one pass over that test, and a chain after an indexed test count by count', () => {
    // a learned tree's first split: source channel (in no index of its own), then region (indexed)
    const learned = buildPreviewCountPlan(
      chain([
        cond('c1', 'sourceChannel', 'in', ['朋友推荐', '企微活动']),
        cond('c2', 'region', 'in', ['上海', '江苏']),
        cond('c3', 'gender', 'eq', 'female'),
      ]),
      ctx,
      { nodesOnly: true },
    );
    if (!learned?.ok) throw new Error('no plan');
    const sql = learned.value.first.statements.map((s) => s.sql).join(';');
    // total, and one pass over c1 counting c1, c1 ∧ c2 and c1 ∧ c2 ∧ c3: never c1 ∧ c2 through the region index
    expect(learned.value.first.fills.length).toBe(4);
    expect(sql.match(/FROM contacts c WHERE/g)?.length).toBe(1);
    expect(sql.match(/sum\(CASE WHEN/g)?.length).toBe(2);
    expect(sql).toMatch(/FROM contacts c WHERE \(?c\.source_channel IN/);
    // led by an indexed test, each prefix is its own count (an index may answer it)
    const indexed = buildPreviewCountPlan(
      chain([cond('c1', 'region', 'in', ['上海']), cond('c2', 'sourceChannel', 'eq', '朋友推荐')]),
      ctx,
      {
        nodesOnly: true,
      },
    );
    if (!indexed?.ok) throw new Error('no plan');
    expect(indexed.value.first.statements.map((s) => s.sql).join(';')).not.toContain('sum(CASE WHEN');
  });

  it('merges a short IN list on an id-ordered column value by value, each value once', () => {
    const plan = buildPreviewCountPlan(chain([cond('c1', 'kind', 'in', ['friend', 'wecom_customer', 'friend'])]), ctx, { held: 'merge' });
    if (!plan?.ok) throw new Error('no plan');
    const later = plan.value.second?.(new Array<number>(plan.value.size).fill(5));
    const sql = later?.statements.map((s) => s.sql).join(';') ?? '';
    // two held conjunctions (gain / holders of tag 1, lose of tag 2), two distinct kinds each
    // (not three: the repeated value would be counted twice)
    expect(sql.match(/INTERSECT/g)?.length).toBe(4);
    expect(sql).not.toContain('json_each');
  });

  it('sizes a held tag within a scope by its holders anywhere against the contacts in scope', () => {
    const scope = { sql: 'c.department_id = ?', params: [7] };
    const plan = buildPreviewCountPlan(chain([cond('c1', 'kind', 'eq', 'wecom_customer')]), ctx, { scope, countsPerStatement: 1 });
    if (!plan?.ok) throw new Error('no plan');
    const { first, second, size } = plan.value;
    // total and c1 (in scope), and the two holder counts (the tag index, no scope): nothing else
    expect(first.fills.length).toBe(4);
    const holderStatements = first.statements.filter((s) => s.sql.includes('FROM contact_tags WHERE tag_id'));
    expect(holderStatements.length).toBe(2);
    expect(holderStatements.some((s) => s.sql.includes('department_id'))).toBe(false);
    // round 2: holders of each tag in scope, and c1 ∧ holds each tag, all with the scope
    const later = second?.(new Array<number>(size).fill(5));
    expect(later?.fills.length).toBe(4);
    expect(later?.statements.every((s) => s.sql.includes('c.department_id = ?'))).toBe(true);
    // within a scope the merge's other side would not come in id order: never merged
    expect(later?.statements.some((s) => s.sql.includes('INTERSECT'))).toBe(false);
  });

  it('counts an aggregate test that a contact without events passes as 1 − (IN the failing set)', () => {
    const plan = buildPreviewCountPlan(chain([cond('c1', 'event.amount', 'lt', 10_000, { eventType: 'purchase', days: 30 })]), ctx);
    if (!plan?.ok) throw new Error('no plan');
    const sql = plan.value.first.statements.map((s) => s.sql).join(';');
    // the set holds the contacts that fail (amount ≥ ¥100); no pass over everyone with NOT IN
    expect(sql).toMatch(/WHERE NOT /);
    expect(sql).toContain('c.id IN a0');
    expect(sql).not.toContain('NOT IN');
    // the yes edge (c1 → a_in) is the total minus the set's count
    const yes = plan.value.columns.findIndex((c) => c.kind === 'edge' && c.edgeId === 'ein');
    expect(plan.value.combos[yes]?.map((t) => t.coeff).sort()).toEqual([-1, 1]);
  });

  it('gives up (null) when the counts would be too many, so the one statement is used', () => {
    const cases = Array.from({ length: 9 }, (_x, i) => ({ id: `k${i}`, condition: { field: 'messageCount', op: 'gte', value: i * 10 } }));
    const g: RuleGraph = {
      schemaVersion: 1,
      nodes: [
        { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } },
        { id: 'b', kind: 'branch', cases },
        { id: 'a', kind: 'action', action: { type: 'add_tag', tagId: 1 } },
      ],
      edges: [
        { id: 'e0', source: 't', target: 'b' },
        { id: 'e1', source: 'b', target: 'a', sourceHandle: 'else' },
      ],
    };
    const r = compileRule(g);
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(buildPreviewCountPlan(r.value, ctx)).toBeNull();
  });

  it('splits the counts over several statements rather than pass D1’s 100 parameters', () => {
    // A chain of 20 conditions to an action and a dead-end chain of 32 (the last one's test feeds no count): 102 distinct bounds in
    // all, at most 62 in any one count.
    const nodes: RuleNode[] = [
      { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } },
      { id: 'a', kind: 'action', action: { type: 'add_tag', tagId: 1 } },
    ];
    const edges: RuleEdge[] = [];
    const line = (prefix: string, n: number, field: string, top: number, end?: string, bottom = 0) => {
      for (let i = 1; i <= n; i++) {
        nodes.push(cond(`${prefix}${i}`, field, 'between', [bottom + i, top + i]));
        edges.push({
          id: `${prefix}e${i}`,
          source: i === 1 ? 't' : `${prefix}${i - 1}`,
          target: `${prefix}${i}`,
          ...(i === 1 ? {} : { sourceHandle: 'yes' }),
        });
      }
      if (end) edges.push({ id: `${prefix}end`, source: `${prefix}${n}`, target: end, sourceHandle: 'yes' });
    };
    line('c', 20, 'messageCount', 1000, 'a');
    line('d', 32, 'totalSpend', 5000, undefined, 200);
    const r = compileRule({ schemaVersion: 1, nodes, edges });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    const plan = buildPreviewCountPlan(r.value, ctx);
    if (!plan?.ok) throw new Error('no plan');
    const { first, second } = plan.value;
    expect(first.statements.length).toBeGreaterThan(1);
    expect(first.statements.every((s) => s.params.length <= D1_MAX_PARAMS)).toBe(true);
    // total, 20 + 31 prefixes and the holder count; the chain ∧ holds in the second round
    expect(first.perStatement.reduce((a, b) => a + b, 0)).toBe(1 + 20 + 31 + 1);
    const later = second?.(new Array<number>(plan.value.size).fill(1));
    expect(later?.perStatement.reduce((a, b) => a + b, 0)).toBe(1);
    expect(later?.statements.every((s) => s.params.length <= D1_MAX_PARAMS)).toBe(true);
  });

  it('binds user values as parameters, never as SQL text', () => {
    const evil = "x'); DROP TABLE contacts; --";
    const plan = buildPreviewCountPlan(chain([cond('c1', 'region', 'in', [evil])]), ctx);
    if (!plan?.ok) throw new Error('no plan');
    const later = plan.value.second?.(new Array<number>(plan.value.size).fill(1))?.statements ?? [];
    const all = [...plan.value.first.statements, ...later];
    expect(all.some((s) => s.sql.includes('DROP'))).toBe(false);
    expect(all.flatMap((s) => s.params)).toContain(JSON.stringify([evil]));
  });
});

describe('score bands into an exclusive group', () => {
  it('drops products of two disjoint bands of one score, and keeps those of overlapping ones', () => {
    const graph = (bands: { id: string; min: number; max: number | null }[]): CompiledRule => {
      const g: RuleGraph = {
        schemaVersion: 1,
        nodes: [
          { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } },
          { id: 's', kind: 'score', metrics: [{ field: 'messageCount', weight: 100, cap: 50 }], bands },
          ...bands.map((_, i) => ({ id: `a${i}`, kind: 'action' as const, action: { type: 'add_tag' as const, tagId: 10 + i } })),
        ],
        edges: [
          { id: 'e', source: 't', target: 's' },
          ...bands.map((b, i) => ({ id: `e${i}`, source: 's', target: `a${i}`, sourceHandle: b.id })),
        ],
      };
      const r = compileRule(g);
      if (!r.ok) throw new Error(JSON.stringify(r.errors));
      return r.value;
    };
    const tags = [10, 11, 12, 13].map((id) => ({ id, groupId: 1, exclusive: true }));
    const disjoint = graph([
      { id: 'core', min: 80, max: null },
      { id: 'active', min: 60, max: 80 },
      { id: 'normal', min: 40, max: 60 },
      { id: 'watch', min: 0, max: 40 },
    ]);
    const plan = buildPreviewCountPlan(disjoint, ctx, { rounds: 1, bandPasses: false, net: netPlanOver(disjoint.actions, tags) });
    if (!plan?.ok) throw new Error('no plan');
    const sql = plan.value.first.statements.map((s) => s.sql).join(';');
    // no count asks for a contact in two bands: each band alone, and with each held tag
    const bandsPerCount = sql
      .split('(SELECT count(*)')
      .slice(1)
      .map((q) => (q.match(/>= \?\d+/g) ?? []).length);
    expect(Math.max(...bandsPerCount)).toBeLessThanOrEqual(1);
    expect(plan.value.size).toBeLessThanOrEqual(1 + 4 + 4 + 16);
    // overlapping bands can hold one contact twice: their product is counted
    const overlapping = graph([
      { id: 'hi', min: 50, max: null },
      { id: 'mid', min: 40, max: 60 },
    ]);
    const both = buildPreviewCountPlan(overlapping, ctx, { rounds: 1, bandPasses: false, net: netPlanOver(overlapping.actions, tags) });
    if (!both?.ok) throw new Error('no plan');
    const counts = both.value.first.statements
      .map((s) => s.sql)
      .join(';')
      .split('(SELECT count(*)')
      .slice(1);
    expect(counts.some((q) => (q.match(/>= \?\d+/g) ?? []).length === 2)).toBe(true);

    // By default the bands' counts share passes computing the score once per contact: one over
    // every contact, one over each tag's holders (the tag index walked).
    const passes = buildPreviewCountPlan(disjoint, ctx, { net: netPlanOver(disjoint.actions, tags) });
    if (!passes?.ok) throw new Error('no plan');
    const texts = passes.value.first.statements.map((s) => s.sql).join(';');
    expect(texts.match(/AS v FROM contacts c/g)).toHaveLength(1);
    expect(texts.match(/AS v FROM contact_tags ht CROSS JOIN contacts c/g)).toHaveLength(4);
    expect(passes.value.second).toBeUndefined();
  });
});

describe('calls of outbound nodes', () => {
  it('counts a call node as its reach times "re-tagged": 1 − Π over tags of (1 − gains − loses)', () => {
    const g: RuleGraph = {
      schemaVersion: 1,
      nodes: [
        { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } },
        cond('c1', 'kind', 'eq', 'friend'),
        { id: 'a', kind: 'action', action: { type: 'add_tag', tagId: 1 } },
        { id: 'w', kind: 'action', action: { type: 'call_webhook', destinationId: 3 } },
      ],
      edges: [
        { id: 'e0', source: 't', target: 'c1' },
        { id: 'e1', source: 'c1', target: 'a', sourceHandle: 'yes' },
        { id: 'e2', source: 't', target: 'w' },
      ],
    };
    const r = compileRule(g);
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    const plan = buildPreviewCountPlan(r.value, ctx, {
      rounds: 1,
      net: netPlanOver(r.value.actions, [{ id: 1, groupId: 1, exclusive: false }]),
    });
    if (!plan?.ok) throw new Error('no plan');
    const calls = plan.value.columns.findIndex((c) => c.kind === 'calls' && c.nodeId === 'w');
    const gain = plan.value.columns.findIndex((c) => c.kind === 'tag_gain' && c.tagId === 1);
    // w reaches everyone, and only tag 1's gain changes anyone: the calls are the gain, term for term
    const sorted = (i: number) => [...(plan.value.combos[i] ?? [])].sort((x, y) => x.index - y.index);
    expect(calls).toBeGreaterThan(-1);
    expect(sorted(calls)).toEqual(sorted(gain));
  });
});
