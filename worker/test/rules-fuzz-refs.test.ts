import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileRule, formulaToLogic, type SegmentSource } from '@shared/rules/compile';
import { compileLogic, compileRulePlan, truthy } from '@shared/rules/evaluate';
import { applyReference } from '@shared/rules/jsonlogic';
import { randomCondition, randomGraph, SeededRandom, type GraphVocabulary } from '@shared/rules/random-graph';
import type { EvalData, RuleEdge, RuleGraph, RuleNode } from '@shared/rules/types';
import { runPreview } from '../src/rules/preview';
import { loadDemoContacts } from './demo-contacts';

/**
 * Differential fuzz of the two condition kinds that read something outside the contact row:
 * 所属部门 "and below" (the department path) and "in / not in segment X" (another segment's
 * current definition, expanded by the compiler, nested up to three deep). Random valid rule
 * graphs over the demo data that include both; per graph the SQL preview's counts (matched, per
 * node, per edge) must equal json-logic-js contact by contact, and the fast evaluators must
 * agree with it. Seeded: a failure names its seed.
 */
const NOW = 1_773_540_000_000; // 2026-03-15 10:00 Asia/Shanghai
const TZ = 480;
const CONTACTS = 300;
const GRAPHS = 120;
const SEGMENTS = 6;

let contacts: EvalData[] = [];
let vocab: GraphVocabulary;
const segments = new Map<number, SegmentSource>();
const matchedBySeed: number[] = [];
let withDepartment = 0;
let withSegment = 0;
let nested = 0;

/** A random segment: Start → 1–3 conditions, each joined to the End (OR or AND) by its yes or no. */
function randomSegment(r: SeededRandom, id: number, v: GraphVocabulary): SegmentSource {
  const n = r.int(1, 3);
  const nodes: RuleNode[] = [{ id: 'start', kind: 'trigger', trigger: { type: 'schedule', cron: 'segment' } }];
  const edges: RuleEdge[] = [];
  for (let i = 0; i < n; i++) {
    nodes.push({ id: `c${i}`, kind: 'condition', condition: randomCondition(r, v, false) });
    edges.push(
      { id: `in${i}`, source: 'start', target: `c${i}` },
      { id: `out${i}`, source: `c${i}`, target: 'end', sourceHandle: r.chance(0.75) ? 'yes' : 'no' },
    );
  }
  nodes.push({ id: 'end', kind: 'logic', op: r.chance(0.5) ? 'or' : 'and' });
  return { id, name: `随机分群${id}`, graph: { schemaVersion: 1, nodes, edges } satisfies RuleGraph };
}

const resolver = { get: (id: number) => segments.get(id) };

beforeAll(async () => {
  const demo = await loadDemoContacts({ contacts: CONTACTS, seed: 7, now: NOW, avgEvents: 10, tz: TZ });
  contacts = demo.contacts;
  const departmentIds = [
    ...new Set((demo.vocab.values.departmentPath ?? []).flatMap((p) => String(p).split('/').filter(Boolean).map(Number))),
  ].sort((a, b) => a - b);
  vocab = { ...demo.vocab, departmentIds };
  // segment i may name segments before it: chains up to three deep, never a loop
  const r = new SeededRandom(2026);
  for (let id = 1; id <= SEGMENTS; id++) segments.set(id, randomSegment(r, id, { ...vocab, segmentIds: [...segments.keys()] }));
}, 60_000);

describe('differential fuzz with department subtrees and segment references: SQL counts equal json-logic-js', () => {
  it('loaded contacts in several departments, and segments that name segments', () => {
    expect(contacts.length).toBe(CONTACTS);
    expect(vocab.departmentIds!.length).toBeGreaterThan(3);
    const named = [...segments.values()].filter((s) => JSON.stringify(s.graph).includes('"field":"segment"'));
    expect(named.length).toBeGreaterThan(0);
  });

  for (let seed = 1; seed <= GRAPHS; seed++) {
    it(`seed ${seed}`, async () => {
      const r = new SeededRandom(seed * 31 + 7);
      const graph = randomGraph(r, { ...vocab, segmentIds: [...segments.keys()] });
      const compiled = compileRule(graph, { customFields: vocab.customFields, segments: resolver });
      if (!compiled.ok) throw new Error(`seed ${seed}: ${JSON.stringify(compiled.errors)}\n${JSON.stringify(graph)}`);
      const rule = compiled.value;
      const text = JSON.stringify(graph);
      if (text.includes('in_department_tree')) withDepartment++;
      if (rule.segmentIds.length) withSegment++;
      if (rule.segmentIds.some((id) => JSON.stringify(segments.get(id)?.graph).includes('"field":"segment"'))) nested++;

      const ctx = { now: NOW, tzOffsetMinutes: TZ, event: null };
      const sql = await runPreview(env.DB, rule, ctx, {});
      if (!sql.ok) throw new Error(JSON.stringify(sql.errors));

      const full = compileLogic(rule.logic);
      const plan = compileRulePlan(rule);
      const testsById = new Map(rule.tests.map((t) => [t.id, t]));
      const perNode = Object.entries(rule.nodeLogic).map(([id, logic]) => [id, logic] as const);
      const perEdge = Object.entries(rule.edgeFlow).map(([id, f]) => [id, formulaToLogic(f, testsById)] as const);
      const nodeCounts: Record<string, number> = {};
      const edgeCounts: Record<string, number> = {};
      let matchedRef = 0;
      const mismatch: string[] = [];
      for (const c of contacts) {
        const ref = applyReference(rule.logic, c) as string[];
        if (ref.length > 0) matchedRef++;
        const fast = (full(c) as string[]).join();
        const planned = plan(c).join();
        if (fast !== ref.join() || planned !== ref.join())
          mismatch.push(`contact ${String(c.contact.id)}: closure [${fast}], plan [${planned}], json-logic-js [${ref.join()}]`);
        // per node and edge with json-logic-js itself, the reference
        for (const [id, logic] of perNode) if (truthy(applyReference(logic, c))) nodeCounts[id] = (nodeCounts[id] ?? 0) + 1;
        for (const [id, logic] of perEdge) if (truthy(applyReference(logic, c))) edgeCounts[id] = (edgeCounts[id] ?? 0) + 1;
      }
      const msg = `seed ${seed}: ${text}`;
      expect(mismatch.slice(0, 5), msg).toEqual([]);
      expect(sql.value.total, msg).toBe(CONTACTS);
      expect(sql.value.matched, msg).toBe(matchedRef);
      for (const id of Object.keys(rule.nodeLogic)) expect(sql.value.nodes[id] ?? 0, `${msg} node ${id}`).toBe(nodeCounts[id] ?? 0);
      for (const id of Object.keys(rule.edgeFlow)) expect(sql.value.edges[id] ?? 0, `${msg} edge ${id}`).toBe(edgeCounts[id] ?? 0);
      matchedBySeed.push(matchedRef);
    });
  }

  it('exercised both kinds, nested references, and varied subsets', () => {
    expect(withDepartment).toBeGreaterThan(10);
    expect(withSegment).toBeGreaterThan(20);
    expect(nested).toBeGreaterThan(5);
    expect(matchedBySeed.filter((m) => m > 0 && m < CONTACTS).length).toBeGreaterThan(GRAPHS / 3);
  });
});
