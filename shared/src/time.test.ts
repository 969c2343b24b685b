import { describe, expect, it } from 'vitest';
import { DAY_MS, SHANGHAI_OFFSET_MINUTES, dayNumber, dayStartMs } from './time';

describe('dayNumber', () => {
  it('counts days in the given zone, not in UTC', () => {
    // 2024-03-01T15:59:59.999Z is 23:59:59.999 in Shanghai; one ms later is March 2nd there.
    const beforeMidnight = Date.UTC(2024, 2, 1, 15, 59, 59, 999);
    const shanghaiDay = dayNumber(beforeMidnight, SHANGHAI_OFFSET_MINUTES);
    expect(dayNumber(beforeMidnight + 1, SHANGHAI_OFFSET_MINUTES)).toBe(shanghaiDay + 1);
    // In UTC both instants are still March 1st.
    expect(dayNumber(beforeMidnight, 0)).toBe(dayNumber(beforeMidnight + 1, 0));
    expect(dayNumber(beforeMidnight, 0)).toBe(shanghaiDay);
  });

  it('agrees with the calendar date the zone would display', () => {
    for (const ms of [0, 1_700_000_000_000, Date.UTC(2025, 11, 31, 20, 0), Date.UTC(2026, 0, 1, 3, 0)]) {
      const local = new Date(ms + SHANGHAI_OFFSET_MINUTES * 60_000);
      const expected = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate()) / DAY_MS;
      expect(dayNumber(ms, SHANGHAI_OFFSET_MINUTES)).toBe(expected);
    }
  });

  it('floors times before the epoch to negative days', () => {
    expect(dayNumber(-1, 0)).toBe(-1);
  });

  it('is inverted by dayStartMs', () => {
    const day = dayNumber(1_720_000_000_000, SHANGHAI_OFFSET_MINUTES);
    const start = dayStartMs(day, SHANGHAI_OFFSET_MINUTES);
    expect(dayNumber(start, SHANGHAI_OFFSET_MINUTES)).toBe(day);
    expect(dayNumber(start - 1, SHANGHAI_OFFSET_MINUTES)).toBe(day - 1);
  });
});
