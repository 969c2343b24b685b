import { describe, expect, it } from 'vitest';
// The segments API's compiler (pure: it imports only shared/), so "compiles" here means what the API means.
import { compileSegment } from '../../../worker/src/rules/segment';
import { compileWhere } from '../rules/sql';
import { dayNumber, dayStartMs, SHANGHAI_OFFSET_MINUTES } from '../time';
import { demoCompileOptions, demoSegmentInsert, demoSegments, segmentHistory } from './segments';

const NOW = Date.UTC(2026, 5, 1, 4, 30); // a fixed "now": tests never read the clock
const TZ = SHANGHAI_OFFSET_MINUTES;
const TODAY = dayNumber(NOW, TZ);

function compiled(now = NOW) {
  return demoSegments(now).map((s) => {
    const c = compileSegment(s.graph, demoCompileOptions(now));
    if (!c.ok) throw new Error(`${s.name}: ${JSON.stringify(c.errors)}`);
    return { ...s, logic: c.value.logic };
  });
}

describe('demo segments', () => {
  it('are five named, described, owned audiences, the same whenever they are made', () => {
    const a = demoSegments(NOW);
    expect(a.map((s) => s.name)).toEqual(['上海地区客户', '近 30 天活跃', '高消费客户（≥¥1,000）', '华东 · 复购客户', '沉默 180 天']);
    expect(a.every((s) => s.description.length > 0 && s.createdBy > 0)).toBe(true);
    expect(a.map((s) => s.departmentId)).toEqual([2, 14, null, 2, 15]);
    expect(JSON.stringify(demoSegments(NOW + 40 * 86_400_000))).toBe(JSON.stringify(a));
  });

  it('compile with the segments API compiler, each to a predicate the SQL compiler accepts', () => {
    for (const s of compiled()) {
      expect(s.logic, s.name).not.toBe(false);
      const where = compileWhere(s.logic, { now: NOW, tzOffsetMinutes: TZ });
      expect(where.ok, s.name).toBe(true);
    }
    // the region test is there, not a constant
    expect(JSON.stringify(compiled()[0]!.logic)).toContain('上海');
  });

  it('are inserted with the JSON the API stores', () => {
    const [s] = compiled();
    const ins = demoSegmentInsert(s!, s!.logic, NOW);
    expect(ins.params).toEqual([s!.name, s!.description, 2, JSON.stringify(s!.graph), JSON.stringify(s!.logic), s!.createdBy, NOW, NOW]);
  });
});

describe('segmentHistory', () => {
  const active = compiled()[1]!.logic; // event windows: the day must move them

  it('counts each of the last N days, today at now as the cron does, past days at their end over contacts created by then', () => {
    const h = segmentHistory(active, { now: NOW, days: 90, tzOffsetMinutes: TZ });
    if (!h.ok) throw new Error('history');
    expect(h.value.map((d) => d.day)).toEqual(Array.from({ length: 90 }, (_, i) => TODAY - 89 + i));
    const today = compileWhere(active, { now: NOW, tzOffsetMinutes: TZ });
    expect(h.value.at(-1)!.where).toEqual(today.ok && today.value);
    const yesterdayEnd = dayStartMs(TODAY, TZ) - 1;
    const y = h.value.at(-2)!.where;
    expect(y.sql).toMatch(/AND c\.created_at <= \?$/);
    expect(y.params.at(-1)).toBe(yesterdayEnd);
    // the 30-day windows end yesterday: the rollup's last day bound is TODAY - 1, not TODAY
    expect(y.params).toContain(TODAY - 1);
    expect(y.params).not.toContain(TODAY);
    expect(y.params).toContain(TODAY - 30);
  });

  it('skips days already recorded and days before the segment existed; 0 days is none', () => {
    const h = segmentHistory(active, { now: NOW, days: 10, tzOffsetMinutes: TZ, skip: new Set([TODAY, TODAY - 3]), fromDay: TODAY - 5 });
    expect(h.ok && h.value.map((d) => d.day)).toEqual([TODAY - 5, TODAY - 4, TODAY - 2, TODAY - 1]);
    const none = segmentHistory(active, { now: NOW, days: 0, tzOffsetMinutes: TZ });
    expect(none.ok && none.value).toEqual([]);
  });
});
