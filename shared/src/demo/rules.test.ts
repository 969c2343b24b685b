import { describe, expect, it } from 'vitest';
import { dayNumber, dayStartMs } from '../time';
import { templateById } from '../templates/templates';
import { demoRules, scheduledRuns } from './rules';

const TZ = 480;
const NOW = Date.UTC(2026, 11, 7, 6); // Monday 14:00 in Shanghai

describe('demo rules', () => {
  it('are made from gallery templates, one department per exclusive group', () => {
    const rules = demoRules(NOW);
    expect(rules.map((r) => r.template)).toEqual(['rfm', 'lifecycle', 'inactive_180', 'member_score']);
    for (const r of rules) expect(templateById(r.template)).toBeDefined();
    const byGroup = new Map<string, (number | null)[]>();
    for (const r of rules)
      for (const g of new Set(templateById(r.template)!.tags.map((t) => t.group)))
        byGroup.set(g, [...(byGroup.get(g) ?? []), r.departmentId]);
    // 生命周期 is written by two rules, for two departments that do not contain each other
    expect(byGroup.get('生命周期')).toEqual([2, 7]);
  });

  it('lists the daily and weekly runs up to now', () => {
    const today = dayNumber(NOW, TZ);
    const daily = scheduledRuns('0 3 * * *', today - 89, NOW, TZ);
    expect(daily).toHaveLength(90);
    expect(daily[0]).toBe(dayStartMs(today - 89, TZ) + 3 * 3_600_000);
    expect(daily[89]).toBe(dayStartMs(today, TZ) + 3 * 3_600_000);
    const weekly = scheduledRuns('0 3 * * 1', today - 89, NOW, TZ);
    expect(weekly).toHaveLength(13);
    expect(weekly.every((t) => new Date(t + TZ * 60_000).getUTCDay() === 1)).toBe(true);
    // before 03:00 today's run has not happened
    expect(scheduledRuns('0 3 * * *', today - 1, dayStartMs(today, TZ) + 3_600_000, TZ)).toHaveLength(1);
  });
});
