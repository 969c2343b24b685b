import { describe, expect, it } from 'vitest';
import jsonLogic from 'json-logic-js';
import { compileRule } from './compile';
import { applyReference } from './jsonlogic';
import { upgradeGraph } from './upgrade';
import { fieldCatalog } from './fields';
import type { RuleEdge, RuleGraph, RuleNode } from './types';

const trigger: RuleNode = { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } };
const spend: RuleNode = { id: 'c', kind: 'condition', condition: { field: 'totalSpend', op: 'gte', value: 100000 } };
const add: RuleNode = { id: 'a', kind: 'action', action: { type: 'add_tag', tagId: 1 } };
const graph = (nodes: RuleNode[], edges: RuleEdge[]): RuleGraph => ({ schemaVersion: 1, nodes, edges });
const ok = graph(
  [trigger, spend, add],
  [
    { id: 'e1', source: 't', target: 'c' },
    { id: 'e2', source: 'c', target: 'a', sourceHandle: 'yes' },
  ],
);

function errorsOf(input: unknown, opts = {}) {
  const r = compileRule(input, opts);
  if (r.ok) throw new Error('expected errors');
  return r.errors.map((e) => ({ nodeId: e.nodeId, code: e.code }));
}

describe('compileRule', () => {
  it('compiles a valid graph to JSON Logic listing the fired actions', () => {
    const r = compileRule(ok);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const data = { contact: { totalSpend: 100000 }, now: 0 };
    expect(applyReference(r.value.logic, data)).toEqual(['a']);
    expect(applyReference(r.value.logic, { ...data, contact: { totalSpend: 1 } })).toEqual([]);
    expect(Object.keys(r.value.nodeLogic).sort()).toEqual(['a', 'c', 't']);
  });

  it('refuses a schedule the cron cannot run, on the trigger, beside the other errors', () => {
    const schedule = (cron: string): RuleNode => ({ id: 's', kind: 'trigger', trigger: { type: 'schedule', cron } });
    const edges = [
      { id: 'e1', source: 's', target: 'c' },
      { id: 'e2', source: 'c', target: 'a', sourceHandle: 'yes' },
    ];
    expect(compileRule(graph([schedule('0 3 * * *'), spend, add], edges)).ok).toBe(true);
    expect(errorsOf(graph([schedule('0 25 * * *'), spend, add], edges))).toEqual([{ nodeId: 's', code: 'bad_schedule' }]);
    // a segment's Start node means "all contacts": its cron is not read
    expect(compileRule(graph([schedule('segment'), spend, add], edges), { segment: true }).ok).toBe(true);
    expect(errorsOf(graph([schedule('每天'), spend], edges.slice(0, 1)))).toEqual([
      { nodeId: 's', code: 'bad_schedule' },
      { nodeId: null, code: 'no_actions' },
    ]);
  });

  it('pins a cycle to the nodes on it', () => {
    const c2: RuleNode = { id: 'c2', kind: 'condition', condition: { field: 'region', op: 'eq', value: '广东' } };
    const errs = errorsOf(
      graph(
        [trigger, spend, c2, add],
        [
          { id: 'e1', source: 't', target: 'c' },
          { id: 'e2', source: 'c', target: 'c2' },
          { id: 'e3', source: 'c2', target: 'c' },
          { id: 'e4', source: 'c2', target: 'a' },
        ],
      ),
    );
    expect(errs).toEqual(
      expect.arrayContaining([
        { nodeId: 'c', code: 'cycle' },
        { nodeId: 'c2', code: 'cycle' },
      ]),
    );
  });

  it('reports an edge to a missing node', () => {
    const errs = errorsOf(graph([trigger, spend, add], [...ok.edges, { id: 'e9', source: 'c', target: 'ghost' }]));
    expect(errs).toContainEqual({ nodeId: 'c', code: 'dangling_edge' });
  });

  it('reports an action nothing leads to, and an unreachable condition', () => {
    const lone: RuleNode = { id: 'a2', kind: 'action', action: { type: 'add_tag', tagId: 2 } };
    const island: RuleNode = { id: 'c9', kind: 'condition', condition: { field: 'region', op: 'eq', value: 'x' } };
    const errs = errorsOf(graph([trigger, spend, add, lone, island], ok.edges));
    expect(errs).toContainEqual({ nodeId: 'a2', code: 'action_no_path' });
    expect(errs).toContainEqual({ nodeId: 'c9', code: 'unreachable' });
  });

  it('rejects a wrong value type, a missing value, an unknown field and a bad operator, each on its node', () => {
    const bad = (id: string, condition: object): RuleNode => ({ id, kind: 'condition', condition }) as RuleNode;
    const nodes = [
      trigger,
      bad('c1', { field: 'totalSpend', op: 'gte', value: '100' }),
      bad('c2', { field: 'region', op: 'eq' }),
      bad('c3', { field: 'shoeSize', op: 'eq', value: 1 }),
      bad('c4', { field: 'region', op: 'gt', value: 'a' }),
      add,
    ];
    const edges = nodes.slice(1).map((n, i) => ({ id: `e${i}`, source: i === 0 ? 't' : (nodes[i]?.id as string), target: n.id }));
    const errs = errorsOf(graph(nodes, edges));
    expect(errs).toEqual(
      expect.arrayContaining([
        { nodeId: 'c1', code: 'wrong_value_type' },
        { nodeId: 'c2', code: 'missing_value' },
        { nodeId: 'c3', code: 'unknown_field' },
        { nodeId: 'c4', code: 'bad_operator' },
      ]),
    );
  });

  it('rejects an unknown tag in a condition and in an action when told which tags exist', () => {
    const hasTag: RuleNode = { id: 'c', kind: 'condition', condition: { field: 'tags', op: 'has', value: 99 } };
    const errs = errorsOf(graph([trigger, hasTag, add], ok.edges), { tagExists: (id: number) => id === 2 });
    expect(errs).toEqual(
      expect.arrayContaining([
        { nodeId: 'c', code: 'unknown_tag' },
        { nodeId: 'a', code: 'unknown_tag' },
      ]),
    );
  });

  it('refuses an event-scoped field in a scheduled rule', () => {
    const kw: RuleNode = { id: 'c', kind: 'condition', condition: { field: 'trigger.text', op: 'contains_any', value: ['退款'] } };
    expect(errorsOf(graph([trigger, kw, add], ok.edges))).toContainEqual({ nodeId: 'c', code: 'unknown_field' });
  });

  it('requires exactly one trigger and at least one action', () => {
    expect(errorsOf(graph([spend], []))).toEqual(
      expect.arrayContaining([
        { nodeId: null, code: 'no_trigger' },
        { nodeId: null, code: 'no_actions' },
      ]),
    );
  });

  it('rejects an edge from a handle the node does not have', () => {
    const errs = errorsOf(
      graph([trigger, spend, add], [ok.edges[0] as RuleEdge, { id: 'e2', source: 'c', target: 'a', sourceHandle: 'maybe' }]),
    );
    expect(errs).toContainEqual({ nodeId: 'c', code: 'bad_handle' });
  });

  it('requires NOT to have exactly one input', () => {
    const not: RuleNode = { id: 'n', kind: 'logic', op: 'not' };
    const errs = errorsOf(
      graph(
        [trigger, spend, not, add],
        [
          { id: 'e1', source: 't', target: 'c' },
          { id: 'e2', source: 'c', target: 'n', sourceHandle: 'yes' },
          { id: 'e3', source: 't', target: 'n' },
          { id: 'e4', source: 'n', target: 'a' },
        ],
      ),
    );
    expect(errs).toContainEqual({ nodeId: 'n', code: 'logic_inputs' });
  });

  it('names the node whose shape fails the schema, without throwing', () => {
    const errs = errorsOf({ schemaVersion: 1, nodes: [trigger, { id: 'x', kind: 'action', action: { type: 'explode' } }], edges: [] });
    expect(errs).toContainEqual({ nodeId: 'x', code: 'invalid_document' });
    expect(errorsOf(null)).toEqual([{ nodeId: null, code: 'invalid_document' }]);
  });

  it('rejects a branch whose case is called "else" or repeats an id', () => {
    const branch: RuleNode = {
      id: 'b',
      kind: 'branch',
      cases: [
        { id: 'else', condition: { field: 'totalSpend', op: 'gt', value: 1 } },
        { id: 'x', condition: { field: 'totalSpend', op: 'gt', value: 2 } },
        { id: 'x', condition: { field: 'totalSpend', op: 'gt', value: 3 } },
      ],
    };
    const errs = errorsOf(
      graph(
        [trigger, branch, add],
        [
          { id: 'e1', source: 't', target: 'b' },
          { id: 'e2', source: 'b', target: 'a', sourceHandle: 'x' },
        ],
      ),
    );
    expect(errs.filter((e) => e.code === 'duplicate_id')).toEqual([
      { nodeId: 'b', code: 'duplicate_id' },
      { nodeId: 'b', code: 'duplicate_id' },
    ]);
  });

  it('validates custom attributes through the declared custom fields', () => {
    const vip: RuleNode = { id: 'c', kind: 'condition', condition: { field: 'custom.vip_level', op: 'gte', value: 3 } };
    const g = graph([trigger, vip, add], ok.edges);
    expect(errorsOf(g)).toContainEqual({ nodeId: 'c', code: 'unknown_field' });
    const r = compileRule(g, { customFields: [{ key: 'vip_level', labelZh: '会员等级', labelEn: 'VIP level', type: 'number' }] });
    expect(r.ok).toBe(true);
  });
});

describe('compileRule on graphs whose paths multiply', () => {
  it('refuses a ladder of diamonds with too_complex instead of emitting megabytes', () => {
    const nodes: RuleNode[] = [trigger];
    const edges: RuleEdge[] = [{ id: 'e0', source: 't', target: 'c0' }];
    for (let i = 0; i < 20; i++) {
      nodes.push({ id: `c${i}`, kind: 'condition', condition: { field: 'messageCount', op: 'gt', value: i } });
      if (i > 0) {
        edges.push({ id: `y${i}`, source: `c${i - 1}`, target: `c${i}`, sourceHandle: 'yes' });
        edges.push({ id: `n${i}`, source: `c${i - 1}`, target: `c${i}`, sourceHandle: 'no' });
      }
    }
    nodes.push(add);
    edges.push({ id: 'ea', source: 'c19', target: 'a', sourceHandle: 'yes' });
    const errs = errorsOf(graph(nodes, edges));
    expect(errs).toHaveLength(1);
    expect(errs[0]?.code).toBe('too_complex');
  });
});

describe('null never matches', () => {
  it('differs from plain json-logic-js, which says null < 30', () => {
    expect(jsonLogic.apply({ '<': [{ var: 'x' }, 30] }, { x: null })).toBe(true);
    expect(applyReference({ sf_lt: [{ var: 'contact.x' }, 30] }, { contact: { x: null }, now: 0 })).toBe(false);
  });
});

describe('upgradeGraph', () => {
  it('lifts a version-0 draft (edges called links) to the current version', () => {
    const r = upgradeGraph({ nodes: [], links: [{ id: 'e', source: 'a', target: 'b' }] });
    expect(r).toEqual({ ok: true, value: { nodes: [], edges: [{ id: 'e', source: 'a', target: 'b' }], schemaVersion: 1 } });
  });
  it('refuses a graph from a newer Segflow', () => {
    const r = upgradeGraph({ schemaVersion: 99, nodes: [], edges: [] });
    expect(r.ok).toBe(false);
  });
});

describe('fieldCatalog', () => {
  it('lists built-in fields with their types and adds custom attributes with valid keys only', () => {
    const cat = fieldCatalog([
      { key: 'vip_level', labelZh: '会员等级', labelEn: 'VIP level', type: 'number' },
      { key: "x'); DROP", labelZh: '坏', labelEn: 'bad', type: 'text' },
    ]);
    expect(cat.get('totalSpend')).toMatchObject({ type: 'number', money: true });
    expect(cat.get('custom.vip_level')?.type).toBe('number');
    expect([...cat.keys()].some((k) => k.includes('DROP'))).toBe(false);
  });

  describe('outbound actions (call-webhook, notify)', () => {
    const call: RuleNode = { id: 'w', kind: 'action', action: { type: 'call_webhook', destinationId: 7 } };
    const notify: RuleNode = { id: 'n', kind: 'action', action: { type: 'notify', destinationId: 8, text: '{name} 成为 {tags}' } };
    const edges = (...targets: string[]): RuleEdge[] => [
      { id: 'e1', source: 't', target: 'c' },
      ...targets.map((id) => ({ id: `e-${id}`, source: 'c', target: id, sourceHandle: 'yes' })),
    ];
    const event: RuleNode = { id: 't', kind: 'trigger', trigger: { type: 'event', eventType: 'message', filters: [] } };

    it('compiles them beside a tag action: they fire where reached, change no tags', () => {
      const r = compileRule(graph([trigger, spend, add, call, notify], edges('a', 'w', 'n')));
      if (!r.ok) throw new Error(JSON.stringify(r.errors));
      expect(r.value.actions.map((a) => a.action.type)).toEqual(['add_tag', 'call_webhook', 'notify']);
      expect(applyReference(r.value.logic, { contact: { totalSpend: 100000 }, now: 0 })).toEqual(['a', 'w', 'n']);
    });

    it('refuses a schedule rule whose only actions are outbound: no run would change a tag, so none would ever fire', () => {
      expect(errorsOf(graph([trigger, spend, call], edges('w')))).toEqual([{ nodeId: 'w', code: 'outbound_never_fires' }]);
      // an event rule fires them once per event that reaches them
      expect(compileRule(graph([event, spend, call], edges('w'))).ok).toBe(true);
    });

    it('refuses a destination that does not exist, is revoked or is of the other kind, on its node', () => {
      const exists = (id: number, kind: 'webhook' | 'notify') => (id === 7 && kind === 'webhook') || (id === 8 && kind === 'notify');
      expect(compileRule(graph([trigger, spend, add, call, notify], edges('a', 'w', 'n')), { destinationExists: exists }).ok).toBe(true);
      const wrongKind: RuleNode = { id: 'w', kind: 'action', action: { type: 'call_webhook', destinationId: 8 } };
      expect(errorsOf(graph([trigger, spend, add, wrongKind], edges('a', 'w')), { destinationExists: exists })).toEqual([
        { nodeId: 'w', code: 'unknown_destination' },
      ]);
    });

    it('checks the notify text: required, at most 500 characters', () => {
      const text = (t: string): RuleNode => ({ id: 'n', kind: 'action', action: { type: 'notify', destinationId: 8, text: t } });
      expect(errorsOf(graph([trigger, spend, add, text('  ')], edges('a', 'n')))).toEqual([{ nodeId: 'n', code: 'invalid_document' }]);
      expect(errorsOf(graph([trigger, spend, add, text('字'.repeat(501))], edges('a', 'n')))).toEqual([
        { nodeId: 'n', code: 'invalid_document' },
      ]);
      expect(compileRule(graph([trigger, spend, add, text('字'.repeat(500))], edges('a', 'n'))).ok).toBe(true);
    });
  });
});
