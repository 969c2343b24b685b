/**
 * Tree → draft rule. A differential test per kind of split: a one-split tree becomes a rule, the
 * rule is compiled by the ordinary compiler, and on every synthetic contact (missing values,
 * wrong JSON types, empty text, future dates…) the compiled rule fires exactly when the tree
 * says so — with the tag on the `yes` side and on the `no` side, so both handles' meaning is held
 * to the evaluators'. Then a tree learned on the same contacts, the same way.
 */
import { describe, expect, it } from 'vitest';
import { compileRule } from '../rules/compile';
import { compileRulePlan } from '../rules/evaluate';
import { applyReference } from '../rules/jsonlogic';
import { buildPreviewQuery } from '../rules/sql';
import { discoverFeatures, encodeFeatures } from './features';
import { CUSTOM, lcg, NOW, syntheticContacts, TZ } from './synthetic.test-data';
import { treePredicts } from './metrics';
import { splitCondition, treeToDraft } from './to-rule';
import { learnTree, splitHolds, type Split, type Tree } from './tree';

const data = syntheticContacts(600);
const specs = discoverFeatures(data, { customFields: CUSTOM, minTagHolders: 1, windows: [30] });
const m = encodeFeatures(specs, data, CUSTOM);
const at = (id: string) => {
  const f = specs.findIndex((s) => s.id === id);
  if (f < 0) throw new Error(`no feature ${id}`);
  return f;
};
const code = (id: string, value: unknown) => (specs[at(id)]!.categories ?? []).indexOf(value as never) + 1;

/** Fires the compiled draft for every contact and checks it against the tree. */
function agree(tree: Tree) {
  const draft = treeToDraft(tree, { tagId: 7, threshold: 0.5 });
  if (!draft.ok) throw new Error(draft.reason);
  const compiled = compileRule(draft.value.graph, { customFields: CUSTOM });
  if (!compiled.ok) throw new Error(JSON.stringify(compiled.errors));
  const plan = compileRulePlan(compiled.value);
  const predicts = treePredicts(draft.value.tree, m, 0.5);
  let fired = 0;
  data.forEach((d, r) => {
    const fires = plan(d).length > 0;
    expect(fires, `contact ${r + 1}: ${JSON.stringify(d.contact)}`).toBe(predicts(r));
    expect((applyReference(compiled.value.logic, d) as string[]).length > 0).toBe(fires);
    if (fires) fired++;
  });
  expect(buildPreviewQuery(compiled.value, { now: NOW, tzOffsetMinutes: TZ }).ok).toBe(true);
  return { fired, draft: draft.value };
}

/** A one-split tree with the tag on the `yes` side (or the `no` side). */
function stump(split: Split, tagYes: boolean): Tree {
  const col = m.columns[split.feature]!;
  let yes = 0;
  for (let r = 0; r < m.rows; r++) if (splitHolds(split, col[r]!)) yes++;
  return {
    specs,
    sample: { n: m.rows, pos: 0 },
    options: { maxDepth: 1, minLeaf: 1, seed: 1, maxSample: 50_000 },
    nodes: [
      { id: 0, depth: 0, n: m.rows, pos: 0, split, yes: 1, no: 2 },
      { id: 1, depth: 1, n: yes, pos: tagYes ? yes : 0 },
      { id: 2, depth: 1, n: m.rows - yes, pos: tagYes ? 0 : m.rows - yes },
    ],
  };
}

describe('tree → draft rule', () => {
  const cases: [string, () => Split][] = [
    ['a number column ≥', () => ({ feature: at('totalSpend'), op: 'ge', threshold: 20_000 })],
    ['a number column <', () => ({ feature: at('totalSpend'), op: 'lt', threshold: 20_000 })],
    ['a custom number ≥ (missing and wrong-typed values)', () => ({ feature: at('custom.points'), op: 'ge', threshold: 50 })],
    ['a custom number <', () => ({ feature: at('custom.points'), op: 'lt', threshold: 50 })],
    ['a custom number is not empty', () => ({ feature: at('custom.points'), op: 'present' })],
    ['an aggregate ≥', () => ({ feature: at('event.amount:purchase:30'), op: 'ge', threshold: 10_000 })],
    ['an aggregate <', () => ({ feature: at('event.count:purchase:30'), op: 'lt', threshold: 2 })],
    ['a date more than N days ago (missing and future dates)', () => ({ feature: at('lastPurchaseAt'), op: 'ge', threshold: 30 })],
    ['a date within the last N days', () => ({ feature: at('lastPurchaseAt'), op: 'lt', threshold: 30 })],
    ['a date within the last 3660 days (any past date)', () => ({ feature: at('lastPurchaseAt'), op: 'lt', threshold: 3660 })],
    [
      'a text equal to one value (missing, empty and rare values)',
      () => ({ feature: at('region'), op: 'in', codes: [code('region', '上海')] }),
    ],
    ['a text in a set', () => ({ feature: at('region'), op: 'in', codes: [code('region', '上海'), code('region', '')] })],
    ['an id column in a set', () => ({ feature: at('departmentId'), op: 'in', codes: [code('departmentId', 3), code('departmentId', 5)] })],
    [
      'a boolean is true (missing and wrong-typed values)',
      () => ({ feature: at('custom.vip'), op: 'in', codes: [code('custom.vip', true)] }),
    ],
    ['a boolean is false', () => ({ feature: at('custom.vip'), op: 'in', codes: [code('custom.vip', false)] })],
    ['a boolean is either', () => ({ feature: at('custom.vip'), op: 'in', codes: [code('custom.vip', true), code('custom.vip', false)] })],
    ['a tag held', () => ({ feature: at('tags:3'), op: 'true' })],
    ['a list holding an item', () => ({ feature: at('custom.interests:a'), op: 'true' })],
  ];
  for (const [name, make] of cases) {
    it(`${name}: the compiled rule fires exactly where the tree says, tag on yes and tag on no`, () => {
      const split = make();
      const a = agree(stump(split, true));
      const b = agree(stump(split, false));
      expect(a.fired + b.fired).toBe(data.length);
      expect(a.fired).toBeGreaterThan(0);
      expect(b.fired).toBeGreaterThan(0);
    });
  }

  it('writes conditions in the catalog’s words', () => {
    expect(splitCondition(specs[at('lastPurchaseAt')]!, { feature: 0, op: 'lt', threshold: 30 })).toEqual({
      field: 'lastPurchaseAt',
      op: 'within_last_days',
      value: 30,
    });
    expect(splitCondition(specs[at('event.amount:purchase:30')]!, { feature: 0, op: 'ge', threshold: 10_000 })).toEqual({
      field: 'event.amount',
      op: 'gte',
      value: 10_000,
      params: { eventType: 'purchase', days: 30 },
    });
    expect(splitCondition(specs[at('region')]!, { feature: 0, op: 'in', codes: [code('region', '浙江')] })).toEqual({
      field: 'region',
      op: 'eq',
      value: '浙江',
    });
    expect(splitCondition(specs[at('tags:3')]!, { feature: 0, op: 'true' })).toEqual({ field: 'tags', op: 'has', value: 3 });
  });

  it('learns a deep tree over all these features whose draft agrees with it on every contact, leaves placed on the graph', () => {
    const r = lcg(5);
    const labels = Uint8Array.from(data, (d) => {
      const c = d.contact.custom as Record<string, unknown>;
      const y = (typeof c.points === 'number' && c.points >= 40) || d.contact.region === '上海' || (d.tags ?? []).includes(2);
      return y !== r() < 0.1 ? 1 : 0;
    });
    const tree = learnTree(m, labels, { maxDepth: 5, minLeaf: 5, seed: 3 });
    expect(tree.nodes.length).toBeGreaterThan(7);
    const { fired, draft } = agree(tree);
    expect(fired).toBeGreaterThan(50);
    const ids = new Set(draft.graph.nodes.map((n) => n.id));
    for (const leaf of draft.leaves) {
      expect(ids.has(leaf.from)).toBe(true);
      if (leaf.actionNodeId) expect(draft.graph.nodes.find((n) => n.id === leaf.actionNodeId)?.kind).toBe('action');
      expect(leaf.train.rate >= 0.5).toBe(leaf.actionNodeId !== null);
    }
    expect(draft.leaves.reduce((s, l) => s + l.train.n, 0)).toBe(data.length);
  });

  it('refuses a tree with no leaf above the threshold (a rule needs an action), and a one-leaf tree tags everyone from the trigger', () => {
    const none = stump({ feature: at('totalSpend'), op: 'ge', threshold: 1 }, true);
    expect(treeToDraft(none, { tagId: 7, threshold: 1.01 })).toEqual({ ok: false, reason: 'no_positive_leaf' });
    const leaf: Tree = { ...none, nodes: [{ id: 0, depth: 0, n: 10, pos: 9 }] };
    const d = treeToDraft(leaf, { tagId: 7, threshold: 0.5 });
    expect(d.ok && d.value.graph.edges).toEqual([{ id: 'e1', source: 't', target: 'a0' }]);
    expect(d.ok && compileRule(d.value.graph).ok).toBe(true);
  });
});
