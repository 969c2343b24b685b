import { describe, expect, it } from 'vitest';
import { tzOffsetMinutes, zoneName } from '../src/rules/context';

describe('the zone days and schedules are counted in', () => {
  it('is the configured zone when known, and its name always matches the offset used', () => {
    expect([zoneName({ TIMEZONE: 'UTC' }), tzOffsetMinutes({ TIMEZONE: 'UTC' })]).toEqual(['UTC', 0]);
    expect([zoneName({ TIMEZONE: 'Asia/Taipei' }), tzOffsetMinutes({ TIMEZONE: 'Asia/Taipei' })]).toEqual(['Asia/Taipei', 480]);
    // unset or unknown: Shanghai, by name as well as by offset, so the editor shows runs where the cron runs them
    expect([zoneName({}), tzOffsetMinutes({})]).toEqual(['Asia/Shanghai', 480]);
    expect([zoneName({ TIMEZONE: 'Europe/Berlin' }), tzOffsetMinutes({ TIMEZONE: 'Europe/Berlin' })]).toEqual(['Asia/Shanghai', 480]);
  });
});
