import { describe, expect, it } from 'vitest';
import { tagParents, tagPathLabel } from '../src/features/rule-builder/tag-path';

describe('tag path', () => {
  const byId = new Map([
    [3, { name: '美妆', parentId: null }],
    [4, { name: '护肤', parentId: 3 }],
    [5, { name: '抗老', parentId: 4 }],
    [8, { name: '环', parentId: 9 }],
    [9, { name: '绕', parentId: 8 }],
  ]);

  it("lists a tag's parents top first, and labels it with its group", () => {
    expect(tagParents({ parentId: 4 }, byId)).toEqual(['美妆', '护肤']);
    expect(tagParents({ parentId: null }, byId)).toEqual([]);
    expect(tagPathLabel('兴趣偏好', ['美妆', '护肤'], '抗老')).toBe('兴趣偏好 › 美妆 › 护肤 › 抗老');
  });

  it('stops at a missing parent or a loop instead of hanging', () => {
    expect(tagParents({ parentId: 77 }, byId)).toEqual([]);
    expect(tagParents({ parentId: 8 }, byId)).toEqual(['绕', '环']);
  });
});
