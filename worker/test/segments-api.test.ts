/** Segments: saved audiences with their size now, preview, validation of the segment graph. */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { demoSql } from '@shared/demo';
import type { SegmentDetail, SegmentListResponse, SegmentPreviewResponse } from '@shared/api/segments';
import { MAX_GRAPH_NODES, type RuleGraph, type RuleNode } from '@shared/rules/types';
import { api } from './fixtures';

const db = env.DB;
const json = (body: unknown, method = 'POST'): RequestInit => ({
  method,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

beforeAll(async () => {
  const statements = [...demoSql({ contacts: 300, seed: 5, now: Date.now(), avgEvents: 8 })];
  for (let i = 0; i < statements.length; i += 50) await db.batch(statements.slice(i, i + 50).map((s) => db.prepare(s)));
});

const start: RuleNode = { id: 'start', kind: 'trigger', trigger: { type: 'schedule', cron: 'segment' } };
const end: RuleNode = { id: 'end', kind: 'logic', op: 'or' };

/** Start → 广东? yes → End; Start → spend ≥ ¥100? yes → End. */
function audience(): RuleGraph {
  return {
    schemaVersion: 1,
    nodes: [
      start,
      { id: 'gd', kind: 'condition', condition: { field: 'region', op: 'eq', value: '广东' } },
      { id: 'spender', kind: 'condition', condition: { field: 'totalSpend', op: 'gte', value: 10_000 } },
      end,
    ],
    edges: [
      { id: 'e1', source: 'start', target: 'gd' },
      { id: 'e2', source: 'start', target: 'spender' },
      { id: 'e3', source: 'gd', target: 'end', sourceHandle: 'yes' },
      { id: 'e4', source: 'spender', target: 'end', sourceHandle: 'yes' },
    ],
  };
}

const hand = async () =>
  (await db
    .prepare(
      "SELECT COUNT(*) AS n, SUM(region = '广东') AS gd, SUM(total_spend >= 10000) AS sp, SUM(region = '广东' OR total_spend >= 10000) AS aud FROM contacts",
    )
    .first<{
      n: number;
      gd: number;
      sp: number;
      aud: number;
    }>())!;

describe('segments', () => {
  it('previews the audience size, every node and a sample, as SQL written by hand counts it', async () => {
    const h = await hand();
    expect(h.aud).toBeGreaterThan(0);
    const { status, body } = await api<SegmentPreviewResponse>('/api/segments/preview', json({ graph: audience(), sampleSize: 3 }));
    expect(status).toBe(200);
    if (!body.ok) throw new Error(JSON.stringify(body.errors));
    expect(body).toMatchObject({ total: h.n, size: h.aud, nodes: { start: h.n, gd: h.n, spender: h.n, end: h.aud } });
    expect(body.nodes).not.toHaveProperty('__audience');
    expect(body.edges).toEqual({ e1: h.n, e2: h.n, e3: h.gd, e4: h.sp });
    expect(body.sample).toHaveLength(3);
    expect(body.sample.every((c) => c.region === '广东' || c.totalSpend >= 10_000)).toBe(true);
    expect(body.sample[0]).toHaveProperty('tags');
  });

  it('creates, lists with the current size, reads, updates and deletes, with audit rows', async () => {
    const h = await hand();
    const created = await api<SegmentDetail>('/api/segments', json({ name: '广东或消费客户', graph: audience() }));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: '广东或消费客户', size: h.aud, valid: true, errors: [] });
    expect(created.body.logic).toBeTruthy();
    const id = created.body.id;

    const list = await api<SegmentListResponse>('/api/segments?q=广东或');
    expect(list.status).toBe(200);
    expect(list.body.items).toEqual([expect.objectContaining({ id, size: h.aud, valid: true })]);
    expect(list.body.sizeMs).toBeTypeOf('number');

    const g = audience();
    g.edges = g.edges.filter((e) => e.id !== 'e4' && e.id !== 'e2');
    g.nodes = g.nodes.filter((n) => n.id !== 'spender');
    const updated = await api<SegmentDetail>(`/api/segments/${id}`, json({ graph: g, description: '只要广东' }, 'PUT'));
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ size: h.gd, description: '只要广东', name: '广东或消费客户' });
    expect((await api<SegmentDetail>(`/api/segments/${id}`)).body.size).toBe(h.gd);

    expect((await api(`/api/segments/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await api(`/api/segments/${id}`)).status).toBe(404);
    const audit = await db
      .prepare("SELECT action FROM audit_log WHERE object_type = 'segment' AND object_id = ? ORDER BY id")
      .bind(String(id))
      .all<{ action: string }>();
    expect(audit.results.map((a) => a.action)).toEqual(['segment.create', 'segment.update', 'segment.delete']);
  });

  it('saves a segment that does not compile, with its errors and no size', async () => {
    const g = audience();
    g.nodes.push({ id: 'end2', kind: 'logic', op: 'or' });
    g.edges.push({ id: 'e5', source: 'gd', target: 'end2', sourceHandle: 'no' });
    const r = await api<SegmentDetail>('/api/segments', json({ name: '两个终点', graph: g }));
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ size: null, valid: false, logic: null, errors: [{ nodeId: 'end2', code: 'invalid_document' }] });
    const list = await api<SegmentListResponse>('/api/segments?q=两个终点');
    expect(list.body.items[0]).toMatchObject({ size: null, valid: false });
  });

  it('explains what makes a segment graph invalid, pinned to nodes', async () => {
    const errorsOf = async (g: RuleGraph) => {
      const r = await api<SegmentPreviewResponse>('/api/segments/preview', json({ graph: g }));
      expect(r.status).toBe(200);
      if (r.body.ok) throw new Error('expected errors');
      return r.body.errors;
    };
    const event = audience();
    event.nodes[0] = { id: 'start', kind: 'trigger', trigger: { type: 'event', eventType: 'message', filters: [] } };
    expect(await errorsOf(event)).toEqual([expect.objectContaining({ nodeId: 'start' })]);
    const action = audience();
    action.nodes.push({ id: 'tagit', kind: 'action', action: { type: 'add_tag', tagId: 1 } });
    action.edges.push({ id: 'e9', source: 'gd', target: 'tagit', sourceHandle: 'no' });
    expect(await errorsOf(action)).toEqual([expect.objectContaining({ nodeId: 'tagit' })]);
    const band = audience();
    band.nodes.push({
      id: 'tiers',
      kind: 'band',
      metrics: [{ field: 'messageCount', weight: 100, cap: 10 }],
      bands: [{ id: 'all', min: 0, max: null, tagId: 1 }],
    });
    band.edges.push({ id: 'e9', source: 'gd', target: 'tiers', sourceHandle: 'no' });
    expect(await errorsOf(band)).toEqual([expect.objectContaining({ nodeId: 'tiers', code: 'invalid_document' })]);
    const noEnd = audience();
    noEnd.nodes = noEnd.nodes.filter((n) => n.id !== 'end');
    noEnd.edges = noEnd.edges.filter((e) => e.target !== 'end');
    expect(await errorsOf(noEnd)).toEqual([expect.objectContaining({ nodeId: null, code: 'no_actions' })]);
    const unreachable = audience();
    unreachable.edges = unreachable.edges.filter((e) => e.id !== 'e1' && e.id !== 'e2');
    expect((await errorsOf(unreachable)).map((e) => e.nodeId)).toEqual(expect.arrayContaining(['gd', 'spender', 'end']));
    const eventField = audience();
    eventField.nodes[1] = { id: 'gd', kind: 'condition', condition: { field: 'trigger.text', op: 'contains_any', value: ['hi'] } };
    expect(await errorsOf(eventField)).toEqual([expect.objectContaining({ nodeId: 'gd', code: 'unknown_field' })]);
  });

  it('validates bodies and ids', async () => {
    expect((await api('/api/segments', json({ name: 'x', graph: audience(), size: 3 }))).body.error.details[0]).toEqual({
      path: 'size',
      message: 'unknown field',
    });
    expect((await api('/api/segments', json({ graph: audience() }))).status).toBe(400);
    expect((await api('/api/segments/abc')).status).toBe(400);
    expect((await api('/api/segments/424242')).status).toBe(404);
    expect((await api('/api/segments/424242', json({ name: 'y' }, 'PUT'))).status).toBe(404);
    expect((await api('/api/segments/424242', { method: 'DELETE' })).status).toBe(404);
    expect((await api('/api/segments/preview', json({ graph: audience(), sampleSize: 101 }))).status).toBe(400);
  });

  it('previews a segment of exactly the node limit the request schema states, and refuses one node more with a 400', async () => {
    // Start → 498 OR nodes in a chain → End: 500 nodes, each reached by everyone
    const chain = (n: number): RuleGraph => {
      const nodes: RuleNode[] = [
        start,
        ...Array.from({ length: n - 2 }, (_x, i): RuleNode => ({ id: `o${i}`, kind: 'logic', op: 'or' })),
        end,
      ];
      const edges = nodes.slice(1).map((node, i) => ({ id: `e${i}`, source: (nodes[i] as RuleNode).id, target: node.id }));
      return { schemaVersion: 1, nodes, edges };
    };
    const r = await api<SegmentPreviewResponse>('/api/segments/preview', json({ graph: chain(MAX_GRAPH_NODES), sampleSize: 0 }));
    expect(r.status).toBe(200);
    if (!r.body.ok) throw new Error(JSON.stringify(r.body.errors));
    expect(r.body.size).toBe(300);
    const over = await api('/api/segments/preview', json({ graph: chain(MAX_GRAPH_NODES + 1), sampleSize: 0 }));
    expect(over.status).toBe(400);
    expect(over.body.error.details[0]).toEqual({ path: 'graph.nodes', message: `at most ${MAX_GRAPH_NODES} nodes` });
  });
});
