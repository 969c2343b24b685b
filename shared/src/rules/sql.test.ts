import { describe, expect, it } from 'vitest';
import { balanced, compileWhere, numberParams } from './sql';

describe('numberParams', () => {
  it('gives each distinct value one numbered slot and leaves quoted question marks alone', () => {
    const q = numberParams("SELECT ? + ? AS a, '?' AS lit, ? AS b, ? AS c", [5, 5, '5', null]);
    expect(q).toEqual({ sql: "SELECT ?1 + ?1 AS a, '?' AS lit, ?2 AS b, ?3 AS c", params: [5, '5', null] });
  });
});

describe('balanced', () => {
  it('nests n terms about log2(n) deep, keeping their order', () => {
    const s = balanced(['a', 'b', 'c', 'd', 'e'], ' AND ', '1');
    expect(s.replace(/[()]/g, '')).toBe('a AND b AND c AND d AND e');
    let depth = 0;
    let max = 0;
    for (const ch of s) {
      if (ch === '(') max = Math.max(max, ++depth);
      if (ch === ')') depth--;
    }
    expect(max).toBeLessThanOrEqual(4);
    expect(balanced([], ' OR ', '0')).toBe('0');
  });
});

describe('compileWhere', () => {
  it('binds user text as a parameter, never as SQL text', () => {
    const evil = "x'); DROP TABLE contacts; --";
    const w = compileWhere({ sf_eq: [{ var: 'contact.region' }, evil] }, { now: 0, tzOffsetMinutes: 480 });
    expect(w.ok).toBe(true);
    if (!w.ok) return;
    expect(w.value.sql).not.toContain('DROP');
    expect(w.value.params).toEqual([evil]);
  });

  it('refuses a var with no column instead of guessing one', () => {
    const w = compileWhere({ sf_eq: [{ var: 'contact.password_hash' }, 'x'] }, { now: 0, tzOffsetMinutes: 480 });
    expect(w.ok).toBe(false);
  });
});
