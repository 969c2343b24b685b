import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { api } from './fixtures';

describe('GET /api/health', () => {
  it('answers ok with the contact count from D1', async () => {
    const res = await exports.default.fetch('http://x/api/health');
    expect(res.status).toBe(200);
    const body = await res.json<{ ok: boolean; contacts: number }>();
    expect(body.ok).toBe(true);
    expect(typeof body.contacts).toBe('number');
  });

  it('answers an unknown API route with a 404 in the one error shape (signed in; signed out it is a 401)', async () => {
    const res = await api('/api/nope');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'not_found', message: 'No API route GET /api/nope' } });
  });
});

describe('request bodies', () => {
  it('refuses a body over 1 MiB with a 413 in the one error shape', async () => {
    const res = await exports.default.fetch('http://x/api/contacts', { method: 'POST', body: 'x'.repeat(1024 * 1024 + 1) });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: { code: 'payload_too_large' } });
  });
});
