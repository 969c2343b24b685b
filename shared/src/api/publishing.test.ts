import { describe, expect, it } from 'vitest';
import { approvalRequired, createPlanBody, localTimeToMs, msToLocalTime } from './publishing';

describe('local times in TIMEZONE', () => {
  it('reads a Shanghai wall-clock time as the UTC instant 8 hours earlier, and back', () => {
    const ms = localTimeToMs('2026-12-08T09:30', 480);
    expect(ms).toBe(Date.UTC(2026, 11, 8, 1, 30));
    expect(msToLocalTime(ms!, 480)).toBe('2026-12-08T09:30');
    // past midnight UTC-side: the local day is the next one
    expect(msToLocalTime(Date.UTC(2026, 11, 8, 20, 0), 480)).toBe('2026-12-09T04:00');
  });
  it('refuses dates that do not exist', () => {
    expect(localTimeToMs('2026-02-30T09:00', 480)).toBeNull();
    expect(localTimeToMs('2026-02-28T09:00', 480)).not.toBeNull();
  });
});

describe('plan bodies', () => {
  const base = { ruleId: 1, graphHash: 'a'.repeat(64), expected: {}, confirm: true };
  it('wants rising shares and times, and a time on every step after the first', () => {
    expect(createPlanBody.safeParse({ ...base, steps: [{ percent: 10 }, { percent: 50, at: '2030-01-02T09:00' }] }).success).toBe(true);
    const bad = createPlanBody.safeParse({
      ...base,
      steps: [{ percent: 50, at: '2030-01-02T09:00' }, { percent: 50, at: '2030-01-01T09:00' }, { percent: 100 }],
    });
    expect(bad.success).toBe(false);
    const paths = bad.error!.issues.map((i) => i.path.join('.')).sort();
    expect(paths).toEqual(['steps.1.at', 'steps.1.percent', 'steps.2.at']);
  });
});

describe('approval policy', () => {
  it('a department with the policy on covers its subtree, not its siblings or parents', () => {
    const on = [{ path: '/1/2/', requireApproval: true }];
    expect(approvalRequired(on, '/1/2/')).toBe(true);
    expect(approvalRequired(on, '/1/2/3/')).toBe(true);
    expect(approvalRequired(on, '/1/4/')).toBe(false);
    expect(approvalRequired(on, '/1/')).toBe(false);
    expect(approvalRequired(on, null)).toBe(false);
  });
});
