import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { DEMO_PASSWORD } from '@shared/demo/index';
import { SUPER_ADMIN } from './browser';

/**
 * No phone or ID number in clear anywhere D1 keeps bytes. Contacts are imported through the real
 * import API of `wrangler dev`, searched and exported; then every file of the local state
 * directory — the SQLite database, its WAL and shared memory, whatever else wrangler keeps
 * there — is read byte for byte and searched for the digits.
 */
const baseURL = inject('baseURL');
const persistTo = inject('persistTo');

// numbers no demo contact has (the generator makes 13x/15x/18x mobiles)
const PHONES = ['19955501234', '19955502345', '19955503456'];
const SPACED = '199 5550 4567'; // typed with spaces; stored normalized as 19955504567
const BAD_PHONE = '1995550567'; // ten digits: a rejected value
const UNMAPPED_PHONE = '19955506789'; // in a column the mapping ignores
const IDS = ['11010519491231002X', '440524188001010014'];
/** names of the contacts the import creates: in clear in D1, the scan's proof that it reads the right bytes */
const NAMES = ['隐私测试甲', '隐私测试乙', '隐私测试丙', '隐私测试丁'];
const SECRETS = [...PHONES, SPACED, SPACED.replace(/ /g, ''), BAD_PHONE, UNMAPPED_PHONE, ...IDS, IDS[0]!.toLowerCase()];

async function signIn(email: string) {
  const res = await fetch(`${baseURL}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: DEMO_PASSWORD }),
  });
  expect(res.status).toBe(200);
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const { csrfToken } = (await res.json()) as { csrfToken: string };
  return async (path: string, body?: unknown) => {
    const r = await fetch(`${baseURL}/api${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { cookie, 'x-csrf-token': csrfToken, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, body: /json/.test(r.headers.get('content-type') ?? '') ? JSON.parse(text) : text };
  };
}

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? files(join(dir, d.name)) : [join(dir, d.name)]));
}

/** Which of `needles` occur in which files of the state directory, as UTF-8 bytes. */
function scan(needles: string[]): { needle: string; file: string }[] {
  const found: { needle: string; file: string }[] = [];
  for (const file of files(persistTo)) {
    const bytes = readFileSync(file);
    for (const needle of needles)
      if (bytes.includes(Buffer.from(needle, 'utf8'))) found.push({ needle, file: file.slice(persistTo.length) });
  }
  return found;
}

describe('personal data at rest', () => {
  it('leaves no phone or ID number in clear in any file of D1 (WAL included) after an import, a search and an export', async () => {
    const admin = await signIn(SUPER_ADMIN);
    const created = await admin('/imports', {
      fileName: '隐私测试.csv',
      headers: ['外部ID', '姓名', '手机', '身份证号', '备用电话'],
      mapping: ['externalId', 'name', 'phone', 'idNumber', null],
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const rows = [
      ['e2e_priv_1', NAMES[0]!, PHONES[0]!, IDS[0]!.toLowerCase(), UNMAPPED_PHONE],
      ['e2e_priv_2', NAMES[1]!, PHONES[1]!, IDS[1]!, ''],
      ['e2e_priv_3', NAMES[2]!, SPACED, '', ''],
      ['e2e_priv_4', '号码有误', BAD_PHONE, '', ''],
      ['e2e_priv_5', NAMES[3]!, PHONES[2]!, '', ''],
      ['e2e_priv_6', '重复号码二', PHONES[2]!, '', ''],
    ];
    expect((await admin(`/imports/${id}/rows`, { rows: rows.map((cells, i) => ({ row: i + 2, cells })) })).status).toBe(200);
    const report = await admin(`/imports/${id}/dry-run`, {});
    expect(report.status).toBe(200);
    expect(report.body.counts).toMatchObject({ total: 6, new: 4, rejected: 2 });
    expect(report.body.rejections.map((r: { reason: string }) => r.reason)).toEqual(['invalid_phone', 'duplicate_in_file']);
    expect((await admin(`/imports/${id}/apply`, {})).status).toBe(200);

    // the imported contacts are findable by phone (keyed hash), by the super admin and, audited, by staff
    const found = await admin(`/contacts?q=${encodeURIComponent(PHONES[0]!)}`);
    expect(found.body.items.map((c: { externalId: string }) => c.externalId)).toEqual(['e2e_priv_1']);
    const staff = await signIn('staff3.1@segflow.demo');
    expect((await staff(`/contacts?q=${encodeURIComponent(PHONES[1]!)}`)).status).toBe(200);
    const exported = await admin('/exports/contacts', { filter: { q: PHONES[0] } });
    expect(exported.status).toBe(200);
    expect(exported.body).toContain('e2e_priv_1');

    // the scan reads what SQLite wrote: the names imported with the phones are there in clear…
    const names = scan(NAMES);
    expect(new Set(names.map((f) => f.needle))).toEqual(new Set(NAMES));
    expect(files(persistTo).some((f) => /\.sqlite$/.test(f))).toBe(true);
    // …and no phone or ID number is, in any file
    expect(scan(SECRETS)).toEqual([]);
  });
});
