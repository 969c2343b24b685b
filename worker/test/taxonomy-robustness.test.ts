/**
 * Junk in, 4xx out: every mutating taxonomy and contact-tag route answers malformed, mistyped or
 * oversized input with a 4xx in the one error shape, never a 500, and writes nothing.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, seedSmallWorld } from './fixtures';

beforeAll(seedSmallWorld);

const ROUTES: [string, string][] = [
  ['POST', '/api/taxonomy/groups'],
  ['PATCH', '/api/taxonomy/groups/1'],
  ['POST', '/api/taxonomy/tags/check'],
  ['POST', '/api/taxonomy/tags'],
  ['PATCH', '/api/taxonomy/tags/3'],
  ['POST', '/api/taxonomy/tags/3/retire'],
  ['POST', '/api/taxonomy/tags/3/restore'],
  ['POST', '/api/taxonomy/tags/3/merge'],
  ['POST', '/api/contacts/1/tags'],
];

const JUNK: [string, string | undefined, string][] = [
  ['malformed JSON', 'application/json', '{"name": '],
  ['an array', 'application/json', '[1,2,3]'],
  ['null', 'application/json', 'null'],
  ['a string', 'application/json', '"tag"'],
  ['wrong types', 'application/json', '{"name": 42, "groupId": "x", "add": "1", "intoTagId": -1, "exclusive": "yes"}'],
  ['unknown fields', 'application/json', '{"hacker": true}'],
  ['huge numbers', 'application/json', '{"groupId": 1e308, "parentId": 99999999999999999999, "add": [1e308], "intoTagId": 1e308}'],
  ['a very long name', 'application/json', JSON.stringify({ name: '标'.repeat(10_000), groupId: 1 })],
  ['no content type', undefined, '{"name": "x"}'],
  ['form data', 'application/x-www-form-urlencoded', 'name=x'],
];

async function snapshot() {
  const row = await env.DB.prepare(
    `SELECT (SELECT count(*) FROM tags) AS tags, (SELECT count(*) FROM tag_groups) AS groups,
            (SELECT count(*) FROM contact_tags) AS holdings, (SELECT count(*) FROM tag_ledger) AS ledger,
            (SELECT count(*) FROM audit_log) AS audit`,
  ).first();
  return row;
}

describe('taxonomy and manual tag routes never answer junk with a 500', () => {
  for (const [method, path] of ROUTES) {
    it(`${method} ${path}`, async () => {
      const before = await snapshot();
      for (const [label, type, body] of JUNK) {
        const headers: Record<string, string> = type ? { 'content-type': type } : {};
        const res = await api(path, { method, headers, body });
        expect(res.status, `${label}: ${JSON.stringify(res.body)}`).toBeGreaterThanOrEqual(400);
        expect(res.status, `${label}: ${JSON.stringify(res.body)}`).toBeLessThan(500);
        expect(typeof res.body?.error?.message, label).toBe('string');
      }
      expect(await snapshot()).toEqual(before);
    });
  }
});
