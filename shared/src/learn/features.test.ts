import { describe, expect, it } from 'vitest';
import { dayNumber, dayStartMs, DAY_MS } from '../time';
import type { EvalData } from '../rules/types';
import { asOfEnd, discoverFeatures, encodeFeatures, futureEventCount, snapshotAt } from './features';
import { CUSTOM, NOW, syntheticContacts, TZ } from './synthetic.test-data';

const TODAY = dayNumber(NOW, TZ);
const AS_OF = asOfEnd(NOW, 30, TZ);

describe('asOfEnd', () => {
  it('is the last millisecond of local day today − N', () => {
    expect(dayNumber(AS_OF, TZ)).toBe(TODAY - 30);
    expect(dayNumber(AS_OF + 1, TZ)).toBe(TODAY - 29);
  });
});

describe('snapshotAt', () => {
  const at = (daysAgo: number, hour = 12) => dayStartMs(TODAY - daysAgo, TZ) + hour * 3_600_000;
  const contact: EvalData = {
    contact: {
      id: 1,
      createdAt: at(100),
      messageCount: 5,
      purchaseCount: 3,
      totalSpend: 30_000,
      inviteCount: 1,
      violationCount: 0,
      lastActiveAt: at(2),
      lastPurchaseAt: at(10),
      region: '上海',
      custom: {},
    },
    tags: [1, 3],
    stats: [
      { type: 'purchase', day: TODAY - 40, count: 1, amount: 10_000 },
      { type: 'message', day: TODAY - 31, count: 2, amount: 0 },
      { type: 'message', day: TODAY - 30, count: 1, amount: 0 },
      { type: 'purchase', day: TODAY - 10, count: 2, amount: 20_000 },
      { type: 'message', day: TODAY - 2, count: 2, amount: 0 },
      { type: 'invite', day: TODAY - 5, count: 1, amount: 0 },
    ],
    events: [
      { type: 'purchase', occurredAt: at(40, 9), amount: 10_000 },
      { type: 'message', occurredAt: at(30, 20) },
      { type: 'purchase', occurredAt: at(10), amount: 10_000 },
    ],
    now: NOW,
    tzOffsetMinutes: TZ,
  };

  it('rewinds counters, last active / last purchase and the rollup to the end of day D − N', () => {
    const s = snapshotAt(contact, AS_OF)!;
    expect(s.now).toBe(AS_OF);
    expect(s.contact).toMatchObject({ messageCount: 3, purchaseCount: 1, totalSpend: 10_000, inviteCount: 0, region: '上海' });
    expect(s.contact.lastActiveAt).toBe(at(30, 20)); // the raw event, exact
    expect(s.contact.lastPurchaseAt).toBe(at(40, 9));
    expect(s.stats!.map((x) => x.day)).toEqual([TODAY - 40, TODAY - 31, TODAY - 30]);
    expect(s.events).toHaveLength(2);
  });

  it('falls back to the rollup’s day where raw events were archived, and leaves earlier values alone', () => {
    const s = snapshotAt({ ...contact, events: [] }, AS_OF)!;
    expect(s.contact.lastActiveAt).toBe(dayStartMs(TODAY - 30, TZ));
    expect(s.contact.lastPurchaseAt).toBe(dayStartMs(TODAY - 40, TZ));
    const old = snapshotAt({ ...contact, contact: { ...contact.contact, lastPurchaseAt: at(60) } }, AS_OF)!;
    expect(old.contact.lastPurchaseAt).toBe(at(60));
  });

  it('replays the tag ledger backwards: tags added after D − N are not held then, tags removed after are', () => {
    const s = snapshotAt(contact, AS_OF, [
      { tagId: 1, op: 'add', at: at(50) },
      { tagId: 2, op: 'add', at: at(45) },
      { tagId: 2, op: 'remove', at: at(5) },
      { tagId: 3, op: 'add', at: at(3) },
    ])!;
    expect(s.tags).toEqual([1, 2]);
  });

  it('leaves out contacts added after D − N', () => {
    expect(snapshotAt({ ...contact, contact: { ...contact.contact, createdAt: at(29, 1) } }, AS_OF)).toBeNull();
  });

  it('labels from the N days after D − N, from the rollup', () => {
    expect(futureEventCount(contact, 'purchase', AS_OF, 30)).toBe(2);
    expect(futureEventCount(contact, 'message', AS_OF, 30)).toBe(2);
    expect(futureEventCount(contact, 'purchase', AS_OF, 5)).toBe(0);
  });
});

describe('features', () => {
  const data = syntheticContacts(300);
  const specs = discoverFeatures(data, { customFields: CUSTOM, windows: [30], minTagHolders: 1 });
  const m = encodeFeatures(specs, data, CUSTOM);
  const col = (id: string) => m.columns[specs.findIndex((s) => s.id === id)]!;

  it('offers every catalog field a scheduled rule can test, leaving out names, trigger fields and the bucket', () => {
    const ids = specs.map((s) => s.id);
    expect(ids).toEqual(expect.arrayContaining(['region', 'totalSpend', 'lastPurchaseAt', 'custom.points', 'custom.vip', 'tags:1']));
    expect(ids).toEqual(expect.arrayContaining(['event.count:message:30', 'event.amount:purchase:30', 'custom.interests:a']));
    expect(ids).not.toEqual(expect.arrayContaining(['event.amount:message:30']));
    for (const gone of ['name', 'remark', 'company', 'bucket', 'trigger.text', 'trigger.amount']) expect(ids).not.toContain(gone);
    expect(specs.find((s) => s.id === 'departmentId')?.kind).toBe('categorical');
  });

  it('reads missing exactly where the evaluators do: null, absent and wrong JSON types are NaN, aggregates are 0', () => {
    data.forEach((d, r) => {
      const c = d.contact.custom as Record<string, unknown>;
      expect(Number.isNaN(col('custom.points')[r]!)).toBe(typeof c.points !== 'number');
      expect(col('event.count:purchase:30')[r]).toBeGreaterThanOrEqual(0);
    });
  });

  it('counts dates in whole local days before now, future dates as missing', () => {
    data.forEach((d, r) => {
      const v = d.contact.lastPurchaseAt as number | null;
      const got = col('lastPurchaseAt')[r]!;
      if (v === null || v > NOW) expect(Number.isNaN(got)).toBe(true);
      else expect(got).toBe(TODAY - dayNumber(v, TZ));
    });
    expect(Number.isNaN(col('lastPurchaseAt')[0]! + DAY_MS) || col('lastPurchaseAt')[0]! >= 0).toBe(true);
  });

  it('codes the most frequent categories 1…K and everything else (missing, rare) 0; categories come from the training data', () => {
    const region = specs.find((s) => s.id === 'region')!;
    expect(region.categories).toEqual(expect.arrayContaining(['上海', '浙江', '广东', '北京', '']));
    const few = discoverFeatures(data, { customFields: CUSTOM, maxCategories: 2 }).find((s) => s.id === 'region')!;
    expect(few.categories).toHaveLength(2);
    data.forEach((d, r) => {
      const v = d.contact.region;
      const c = col('region')[r]!;
      if (v === null || (typeof v === 'string' && v.startsWith('稀有'))) expect(c).toBe(0);
      else expect(region.categories![c - 1]).toBe(v);
    });
    // a value unseen in training encodes as 0 elsewhere
    const other = encodeFeatures([region], [{ ...data[0]!, contact: { ...data[0]!.contact, region: '西藏' } }]);
    expect(other.columns[0]![0]).toBe(0);
  });
});
