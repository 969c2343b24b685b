import { beforeAll, describe, expect, it } from 'vitest';
import { api, seedSmallWorld } from './fixtures';

beforeAll(seedSmallWorld);

describe('GET /api/tag-groups', () => {
  it('returns groups in order with their tags, hierarchy and holder counts', async () => {
    const { status, body } = await api('/api/tag-groups');
    expect(status).toBe(200);
    expect(body.map((g: { name: string }) => g.name)).toEqual(['生命周期', '兴趣偏好']);
    const [lifecycle, interests] = body;
    expect(lifecycle.exclusive).toBe(true);
    const holders = (g: { tags: { name: string; holders: number }[] }) => Object.fromEntries(g.tags.map((t) => [t.name, t.holders]));
    expect(holders(lifecycle)).toEqual({ 活跃客户: 3, 沉睡客户: 1 });
    expect(holders(interests)).toEqual({ 美妆: 1, 护肤: 1, 抗老: 1, 旧标签: 0 });
    const antiAge = interests.tags.find((t: { name: string }) => t.name === '抗老');
    const skin = interests.tags.find((t: { name: string }) => t.name === '护肤');
    expect(antiAge).toMatchObject({ level: 3, parentId: skin.id });
    expect(interests.tags.find((t: { name: string }) => t.name === '旧标签').status).toBe('retired');
  });
});

describe('GET /api/departments', () => {
  it('returns the tree with direct contact counts', async () => {
    const { body } = await api('/api/departments');
    expect(body).toEqual([
      { id: 1, name: '总部', parentId: null, contacts: 1 },
      { id: 2, name: '华东大区', parentId: 1, contacts: 1 },
      { id: 3, name: '上海一组', parentId: 2, contacts: 1 },
      { id: 4, name: '华南大区', parentId: 1, contacts: 2 },
    ]);
  });
});
