import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';

describe('GET /api/health', () => {
  it('answers ok with the contact count from D1', async () => {
    const res = await exports.default.fetch('http://x/api/health');
    expect(res.status).toBe(200);
    const body = await res.json<{ ok: boolean; contacts: number }>();
    expect(body.ok).toBe(true);
    expect(typeof body.contacts).toBe('number');
  });

  it('answers an unknown API route with a 404 in the one error shape', async () => {
    const res = await exports.default.fetch('http://x/api/nope');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: 'not_found', message: 'No API route GET /api/nope' } });
  });
});
