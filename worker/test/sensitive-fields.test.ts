import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, apiAs, seedSmallWorld } from './fixtures';
import { fieldHash, fieldKeys, maskSensitive, openField, sealField } from '../src/crypto/fields';

const db = env.DB;
const post = (path: string, body?: unknown) =>
  api(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

beforeAll(async () => {
  await seedSmallWorld();
  const created = await post('/api/imports', {
    fileName: 'p.csv',
    headers: ['外部ID', '姓名', '手机', '身份证号'],
    mapping: ['externalId', 'name', 'phone', 'idNumber'],
  });
  const id = created.body.id;
  await post(`/api/imports/${id}/rows`, { rows: [{ row: 2, cells: ['p_1', '有手机', '138 0013 8001', '11010519491231002x'] }] });
  await post(`/api/imports/${id}/dry-run`, {});
  expect((await post(`/api/imports/${id}/apply`)).status).toBe(200);
});

describe('sensitive fields (FIELD_KEY)', () => {
  it('seals with AES-256-GCM: a fresh IV each time, opens only with the key, hashes deterministically', async () => {
    const keys = await fieldKeys(env);
    const a = await sealField(keys, '13800138001');
    const b = await sealField(keys, '13800138001');
    expect(a).not.toBe(b);
    expect(await openField(keys, a)).toBe('13800138001');
    expect(await fieldHash(keys, '13800138001')).toBe(await fieldHash(keys, '13800138001'));
    const other = await fieldKeys({ ...env, FIELD_KEY: 'another-key-of-enough-length' });
    await expect(openField(other, a)).rejects.toThrow();
    expect(await fieldHash(other, '13800138001')).not.toBe(await fieldHash(keys, '13800138001'));
    expect(maskSensitive('13800138001')).toBe('138****8001');
    expect(maskSensitive('110101199003071234')).toBe('110***********1234');
  });

  it('finds a contact by its phone number typed in any usual spelling (exact match on the keyed hash)', async () => {
    for (const q of ['13800138001', '+86 138-0013-8001']) {
      const { body } = await api(`/api/contacts?q=${encodeURIComponent(q)}`);
      expect(body.items.map((c: { externalId: string }) => c.externalId)).toEqual(['p_1']);
    }
    // a partial number is not a phone number: no match (the hash only answers exact searches)
    expect((await api('/api/contacts?q=1380013')).body.total).toBe(0);
  });

  it('shows the phone in clear to super admins and masked to everyone else', async () => {
    const { id } = (await db.prepare(`SELECT id FROM contacts WHERE external_id = 'p_1'`).first<{ id: number }>())!;
    const admin = await api(`/api/contacts/${id}/detail`);
    expect(admin.body).toMatchObject({
      hasPhone: true,
      phone: '13800138001',
      sensitiveMasked: false,
      hasIdNumber: true,
      idNumber: '11010519491231002X',
    });
    // staff see their department's contacts: put the contact in 华东 and the staff member there too
    await db.prepare('UPDATE contacts SET department_id = 2 WHERE id = ?').bind(id).run();
    const staff = await apiAs({ id: 9301, role: 'staff', departmentId: 2 }, `/api/contacts/${id}/detail`);
    expect(staff.status).toBe(200);
    expect(staff.body).toMatchObject({ hasPhone: true, phone: '138****8001', idNumber: '110***********002X', sensitiveMasked: true });
    // never stored in clear
    const raw = await db.prepare(`SELECT * FROM contacts WHERE id = ?`).bind(id).first<Record<string, unknown>>();
    expect(JSON.stringify(raw)).not.toContain('13800138001');
    expect(JSON.stringify(raw)).not.toContain('11010519491231002X');
    expect(raw!.id_number_hash).toMatch(/^[0-9a-f]{64}$/);
  });
});
