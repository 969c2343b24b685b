/**
 * Never a 500 for input: every rules and segments route, fed malformed bodies, wrong types,
 * half-drawn graphs and random junk nodes, answers 2xx or 4xx in the one error shape.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { SeededRandom } from '@shared/rules/random-graph';
import { api, seedSmallWorld } from './fixtures';

let ruleId = 0;
let segmentId = 0;

beforeAll(async () => {
  await seedSmallWorld();
  const g = { schemaVersion: 1, nodes: [], edges: [] };
  ruleId = (
    await api('/api/rules', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'r', graph: g }),
    })
  ).body.id;
  segmentId = (
    await api('/api/segments', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 's', graph: g }),
    })
  ).body.id;
  expect(ruleId).toBeGreaterThan(0);
  expect(segmentId).toBeGreaterThan(0);
});

/** A random JSON value, sometimes shaped like a node or a condition. */
function junk(r: SeededRandom, depth = 0): unknown {
  const kinds = ['trigger', 'condition', 'logic', 'score', 'branch', 'action', 'nope'];
  switch (r.int(0, depth > 2 ? 4 : 8)) {
    case 0:
      return null;
    case 1:
      return r.int(-5, 5) * 10 ** r.int(0, 20);
    case 2:
      return r.pick(['', 'yes', 'no', '广东', 'x'.repeat(300), '__audience', "'; DROP TABLE rules; --"]);
    case 3:
      return r.int(0, 1) === 1;
    case 4:
      return [];
    case 5:
      return Array.from({ length: r.int(0, 3) }, () => junk(r, depth + 1));
    case 6:
      return {
        id: r.pick(['t', 'c', 'a', '', 'x y']),
        kind: r.pick(kinds),
        condition: junk(r, depth + 1),
        trigger: junk(r, depth + 1),
        action: junk(r, depth + 1),
      };
    case 7:
      return {
        field: r.pick(['totalSpend', 'tags', 'event.count', 'custom.x', 'bucket', 'nope']),
        op: r.pick(['gte', 'in', 'has', 'in_rollout', 'between']),
        value: junk(r, depth + 1),
        params: junk(r, depth + 1),
      };
    default:
      return {
        type: r.pick(['event', 'schedule', 'add_tag']),
        eventType: r.pick(['purchase', 'x']),
        cron: junk(r, depth + 1),
        tagId: junk(r, depth + 1),
        filters: junk(r, depth + 1),
      };
  }
}

function junkGraph(r: SeededRandom): unknown {
  if (r.int(0, 5) === 0) return junk(r);
  return {
    schemaVersion: r.pick([1, 1, 1, 0, 2, -1]),
    nodes: Array.from({ length: r.int(0, 6) }, () => junk(r, 1)).filter((n) => n && typeof n === 'object' && !Array.isArray(n)),
    edges: Array.from({ length: r.int(0, 4) }, () => ({
      id: r.pick(['e1', 'e2']),
      source: r.pick(['t', 'c', 'a']),
      target: r.pick(['t', 'c', 'a']),
      sourceHandle: junk(r, 2),
    })),
  };
}

describe('malformed input never causes a 500', () => {
  it('answers every route with 2xx/4xx and the error shape for 300 random bodies', async () => {
    const r = new SeededRandom(2024);
    const routes: [string, string][] = [
      ['POST', '/api/rules'],
      ['POST', '/api/rules/preview'],
      ['POST', '/api/rules/explain'],
      ['PUT', `/api/rules/${ruleId}/draft`],
      ['POST', `/api/rules/${ruleId}/publish`],
      ['POST', `/api/rules/${ruleId}/duplicate`],
      ['POST', '/api/segments'],
      ['POST', '/api/segments/preview'],
      ['PUT', `/api/segments/${segmentId}`],
    ];
    for (let i = 0; i < 300; i++) {
      const [method, path] = routes[i % routes.length] as [string, string];
      const body =
        r.int(0, 3) === 0
          ? junk(r)
          : {
              name: r.pick(['n', '', 5]),
              graph: junkGraph(r),
              contactId: r.pick([1, 2, -1, 'x']),
              rolloutPercent: r.pick([1, 20, 100, 0]),
              ruleId: r.pick([undefined, ruleId, 1e12]),
              sampleSize: r.pick([undefined, 0, 5]),
            };
      const res = await api(path, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (res.status >= 500 || (res.status >= 400 && !res.body?.error?.code)) {
        throw new Error(`${method} ${path} answered ${res.status} to ${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
      }
    }
  }, 120_000);

  it('answers valid graphs that compile to odd rules (every operator on every field) without a 500', async () => {
    const catalog = (await api('/api/field-catalog')).body as { fields: { key: string; operators: { op: string }[] }[] };
    const values = [null, 0, 1, -1, 1.5, '', '广东', [1, 2], ['a'], { percent: 10 }, { percent: 50, salt: 3 }, [0, 10], 30];
    const r = new SeededRandom(7);
    for (const f of catalog.fields) {
      for (const { op } of f.operators) {
        const value = r.pick(values);
        const graph = {
          schemaVersion: 1,
          nodes: [
            {
              id: 't',
              kind: 'trigger',
              trigger: f.key.startsWith('trigger.')
                ? { type: 'event', eventType: 'message', filters: [] }
                : { type: 'schedule', cron: '* * * * *' },
            },
            { id: 'c', kind: 'condition', condition: { field: f.key, op, value, params: { eventType: 'purchase', days: 30 } } },
            { id: 'a', kind: 'action', action: { type: 'add_tag', tagId: 3 } },
          ],
          edges: [
            { id: 'e1', source: 't', target: 'c' },
            { id: 'e2', source: 'c', target: 'a', sourceHandle: 'yes' },
          ],
        };
        const res = await api('/api/rules/preview', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ graph, rolloutPercent: 50, sampleSize: 2 }),
        });
        expect(res.status, `${f.key} ${op} ${JSON.stringify(value)}: ${JSON.stringify(res.body)}`).toBe(200);
      }
    }
  }, 120_000);
});
