import { beforeAll, describe, expect, it } from 'vitest';
import { api, seedSmallWorld } from './fixtures';

interface Page {
  items: {
    id: number;
    name: string;
    department: { id: number; name: string } | null;
    tags: { id: number; name: string; groupName: string }[];
  }[];
  total: number;
  page: number;
  pageSize: number;
}

beforeAll(seedSmallWorld);

const ids = (p: Page) => p.items.map((c) => c.id);

describe('GET /api/contacts', () => {
  it('lists contacts most recently active first, never-active last, with department and tag chips', async () => {
    const { status, body } = await api<Page>('/api/contacts');
    expect(status).toBe(200);
    expect(body.total).toBe(5);
    expect(ids(body)).toEqual([1, 5, 2, 4, 3]);
    const zhang = body.items[0]!;
    expect(zhang.department).toEqual({ id: 3, name: '上海一组' });
    expect(zhang.tags.map((t) => t.name).sort()).toEqual(['抗老', '护肤', '活跃客户'].sort());
    expect(zhang.tags.find((t) => t.name === '活跃客户')?.groupName).toBe('生命周期');
  });

  it('pages with a stable order and reports the total of the whole filter', async () => {
    const first = await api<Page>('/api/contacts?pageSize=2');
    const second = await api<Page>('/api/contacts?pageSize=2&page=2');
    const third = await api<Page>('/api/contacts?pageSize=2&page=3');
    expect([...ids(first.body), ...ids(second.body), ...ids(third.body)]).toEqual([1, 5, 2, 4, 3]);
    expect(second.body).toMatchObject({ total: 5, page: 2, pageSize: 2 });
  });

  it('filters by tag', async () => {
    const { body } = await api<Page>('/api/contacts?tagId=1');
    expect(ids(body).sort()).toEqual([1, 2, 5]);
    expect(body.total).toBe(3);
  });

  it('filters by department including its sub-departments', async () => {
    const east = await api<Page>('/api/contacts?departmentId=2');
    expect(ids(east.body).sort()).toEqual([1, 2]);
    const all = await api<Page>('/api/contacts?departmentId=1');
    expect(all.body.total).toBe(5);
    const shanghai = await api<Page>('/api/contacts?departmentId=3');
    expect(ids(shanghai.body)).toEqual([1]);
  });

  it('filters by kind and combines filters with AND', async () => {
    const wecom = await api<Page>('/api/contacts?kind=wecom_customer');
    expect(ids(wecom.body).sort()).toEqual([1, 5]);
    const both = await api<Page>('/api/contacts?kind=wecom_customer&departmentId=2');
    expect(ids(both.body)).toEqual([1]);
  });

  it('searches name and remark, treating % and _ literally, and matches an exact external id', async () => {
    expect(ids((await api<Page>(`/api/contacts?q=${encodeURIComponent('王')}`)).body)).toEqual([3]);
    expect(ids((await api<Page>(`/api/contacts?q=${encodeURIComponent('华东采购')}`)).body)).toEqual([1]);
    expect(ids((await api<Page>(`/api/contacts?q=${encodeURIComponent('100%_')}`)).body)).toEqual([3]);
    expect(ids((await api<Page>(`/api/contacts?q=${encodeURIComponent('%')}`)).body)).toEqual([3]);
    expect(ids((await api<Page>('/api/contacts?q=wm_e')).body)).toEqual([5]);
  });

  it('sorts by spend and by name', async () => {
    expect(ids((await api<Page>('/api/contacts?sort=spend')).body).slice(0, 2)).toEqual([5, 1]);
    const byName = (await api<Page>('/api/contacts?sort=name')).body.items.map((c) => c.name);
    expect(byName).toEqual([...byName].sort());
  });

  it('returns one contact by id and a 404 for an unknown one', async () => {
    const found = await api('/api/contacts/5');
    expect(found.status).toBe(200);
    expect(found.body).toMatchObject({ id: 5, name: '陈静', externalId: 'wm_e', totalSpend: 560000 });
    const missing = await api('/api/contacts/999');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
  });
});

describe('GET /api/contacts rejects bad parameters with a 400 that names them', () => {
  const cases: [string, string, string][] = [
    ['a negative page', 'page=-1', 'page'],
    ['page zero', 'page=0', 'page'],
    ['a fractional page', 'page=1.5', 'page'],
    ['a page that is not a number', 'page=abc', 'page'],
    ['a huge page size', 'pageSize=100000', 'pageSize'],
    ['an empty page size', 'pageSize=', 'pageSize'],
    ['an unknown kind', 'kind=robot', 'kind'],
    ['an unknown sort', 'sort=random', 'sort'],
    ['a tag id that is not an id', 'tagId=x', 'tagId'],
    ['an unknown parameter', 'colour=red', 'colour'],
    ['a search longer than 100 characters', `q=${'长'.repeat(101)}`, 'q'],
  ];
  it.each(cases)('%s', async (_label, query, param) => {
    const { status, body } = await api(`/api/contacts?${query}`);
    expect(status).toBe(400);
    expect(body.error.code).toBe('invalid_request');
    expect(body.error.message).toContain(param);
    expect(body.error.details.map((d: { path: string }) => d.path)).toContain(param);
  });

  it('answers an unknown tag id with a 400 naming tagId, not an empty list', async () => {
    const { status, body } = await api('/api/contacts?tagId=999');
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ code: 'unknown_reference', details: [{ path: 'tagId' }] });
  });

  it('answers an unknown department id with a 400 naming departmentId', async () => {
    const { status, body } = await api('/api/contacts?departmentId=999');
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ code: 'unknown_reference', details: [{ path: 'departmentId' }] });
  });

  it('answers a malformed contact id in the path with a 400 naming id', async () => {
    const { status, body } = await api('/api/contacts/abc');
    expect(status).toBe(400);
    expect(body.error.details[0].path).toBe('id');
  });
});
