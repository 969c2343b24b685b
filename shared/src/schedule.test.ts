import { describe, expect, it } from 'vitest';
import { cronIssue, cronProblem, isScheduledAt, nextRuns, presetOf, SCHEDULE_PRESETS } from './schedule';

// 2026-11-24 03:00 in UTC+8 (a Tuesday)
const AT_3AM = Date.UTC(2026, 10, 23, 19, 0, 0);
const CST = 480;
const MIN = 60_000;
const DAY = 86_400_000;

describe('schedule triggers (cron)', () => {
  it('matches minutes in the configured zone, with ranges, steps, lists and either day field', () => {
    expect(isScheduledAt('0 3 * * *', AT_3AM, CST)).toBe(true);
    expect(isScheduledAt('0 3 * * *', AT_3AM + 59_000, CST)).toBe(true); // any second of that minute
    expect(isScheduledAt('0 3 * * *', AT_3AM, 0)).toBe(false);
    expect(isScheduledAt('0 3 * * *', AT_3AM + MIN, CST)).toBe(false);
    expect(isScheduledAt('*/15 1-5 * * *', AT_3AM + 45 * MIN, CST)).toBe(true);
    expect(isScheduledAt('0 3 * * 2', AT_3AM, CST)).toBe(true);
    expect(isScheduledAt('0 3 * * TUE', AT_3AM, CST)).toBe(true);
    expect(isScheduledAt('0 3 1 * 0,6', AT_3AM, CST)).toBe(false);
    expect(isScheduledAt('0 3 24 * 0', AT_3AM, CST)).toBe(true); // day of month OR day of week
    expect(isScheduledAt('0 3 * * 7', AT_3AM + 5 * DAY, CST)).toBe(true); // 7 is Sunday too
  });

  it('names what is wrong with an expression that is not five cron fields', () => {
    expect(cronProblem('0 3 * * *')).toBeNull();
    expect(cronProblem('0 25 * * *')).toMatch(/hour/);
    expect(cronProblem('0 3 * *')).toMatch(/5 fields.*has 4/);
    expect(cronProblem('0 0 3 * * *')).toMatch(/5 fields.*has 6/);
    expect(cronProblem('每天三点')).not.toBeNull();
    expect(isScheduledAt('0 25 * * *', AT_3AM, CST)).toBe(false);
    expect(nextRuns('0 25 * * *', AT_3AM, CST)).toEqual([]);
  });

  it('lists the next runs after a moment, in order, in the zone', () => {
    expect(nextRuns('0 3 * * *', AT_3AM, CST, 3)).toEqual([AT_3AM + DAY, AT_3AM + 2 * DAY, AT_3AM + 3 * DAY]);
    expect(nextRuns('0 3 * * *', AT_3AM - MIN, CST, 1)).toEqual([AT_3AM]);
    // the first of the month at 09:00 UTC+8, from late November
    expect(nextRuns('0 9 1 * *', AT_3AM, CST, 2)).toEqual([Date.UTC(2026, 11, 1, 1, 0, 0), Date.UTC(2027, 0, 1, 1, 0, 0)]);
  });

  it('recognises its presets, whatever the spacing', () => {
    for (const p of SCHEDULE_PRESETS) expect(cronProblem(p.cron)).toBeNull();
    expect(presetOf(' 0  3 * * * ')).toBe('daily');
    expect(presetOf('0 3 * * 1')).toBe('weekly');
    expect(presetOf('0 3 1 * *')).toBe('monthly');
    expect(presetOf('0 4 * * *')).toBeNull();
  });

  it('names the field at fault and the range a value left, where croner only says something is wrong', () => {
    expect(cronIssue('0 3 * * *')).toBeNull();
    expect(cronIssue('0 3 31 2 *')).toBeNull(); // reads, though it never comes: nextRuns says so
    expect(cronIssue('0 25 * * *')).toEqual({ kind: 'range', field: 'hour', value: 25, min: 0, max: 23 });
    // croner says "Invalid value for day: 31" of this one
    expect(cronIssue('* * 32 * *')).toEqual({ kind: 'range', field: 'day', value: 32, min: 1, max: 31 });
    expect(cronIssue('* * 0 * *')).toEqual({ kind: 'range', field: 'day', value: 0, min: 1, max: 31 });
    expect(cronIssue('0 3 * 1-13 *')).toEqual({ kind: 'range', field: 'month', value: 13, min: 1, max: 12 });
    expect(cronIssue('0 3 * * 8')).toEqual({ kind: 'range', field: 'weekday', value: 8, min: 0, max: 7 });
    expect(cronIssue('*/0 * * * *')).toEqual({ kind: 'syntax', field: 'minute', text: '*/0' });
    expect(cronIssue('0 3 * * MON-')).toEqual({ kind: 'syntax', field: 'weekday', text: 'MON-' });
    expect(cronIssue('0 3 * * 5#6')).toEqual({ kind: 'syntax', field: 'weekday', text: '5#6' });
    expect(cronIssue('  ')).toEqual({ kind: 'parts', count: 0 });
    expect(cronIssue('0 3 * * 7')).toBeNull(); // Sunday, as 0
  });
});
