import { describe, expect, it } from 'vitest';
import { storedKeys } from '@shared/search/pinyin';
import { matchesTyped } from '../src/app/typed-match';

/** A tag's keys as the server sends them: its stored keys that are letters and digits. */
const keysOf = (name: string) => storedKeys('tag', name).filter((k) => /^[a-z0-9]/.test(k));

describe('matching what is typed into a tag picker', () => {
  it('finds 高价值客户 by initials, full pinyin and a pinyin prefix, and by the characters it contains', () => {
    const keys = keysOf('高价值客户');
    for (const q of ['gjz', 'GJZKH', 'gaojia', 'gao jia zhi', '价值', '']) expect(matchesTyped('高价值客户', keys, q), q).toBe(true);
    for (const q of ['jz', 'kh', 'gaojiazhikehux', '低价值']) expect(matchesTyped('高价值客户', keys, q), q).toBe(false);
  });

  it('keeps plain name matching for names without pinyin keys', () => {
    expect(matchesTyped('VIP', [], 'vi')).toBe(true);
    expect(matchesTyped('VIP', [], 'gj')).toBe(false);
  });
});
