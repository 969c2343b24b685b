import { describe, expect, it } from 'vitest';
import { bucketOf } from '../domain';
import { dayNumber } from '../time';
import { collectDemo, generateDemo } from './generate';
import { PLANTED_REPURCHASE, plantedRepurchase } from './planted';

const NOW = Date.UTC(2026, 5, 1, 4, 30); // a fixed "now": tests never read the clock
const DAY = 86_400_000;
const OPTS = { contacts: 1500, seed: 7, now: NOW };
const data = collectDemo(OPTS);

/** Shanghai calendar day computed through Date, independently of `dayNumber`. */
function shanghaiDay(ms: number): number {
  const d = new Date(ms + 8 * 3_600_000);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) / DAY;
}

function groupBy<T>(rows: readonly T[], key: (r: T) => number): Map<number, T[]> {
  const m = new Map<number, T[]>();
  for (const r of rows) {
    const k = key(r);
    const list = m.get(k);
    if (list) list.push(r);
    else m.set(k, [r]);
  }
  return m;
}

describe('generateDemo determinism', () => {
  it('gives identical output for identical options, whatever the batch size', () => {
    const again = collectDemo({ ...OPTS, batchSize: 37 });
    expect(JSON.stringify(again)).toBe(JSON.stringify(data));
  });

  it('gives different contacts for a different seed', () => {
    const other = collectDemo({ ...OPTS, seed: 8 });
    expect(other.contacts.map((c) => c.external_id)).not.toEqual(data.contacts.map((c) => c.external_id));
  });

  it('streams: the first batch arrives without generating the rest', () => {
    const it = generateDemo({ contacts: 1_000_000, now: NOW, batchSize: 10 });
    expect(it.next().value?.kind).toBe('static');
    const batch = it.next().value;
    expect(batch?.kind === 'batch' && batch.data.contacts.length).toBe(10);
  });
});

describe('contacts', () => {
  it('stores bucket = bucketOf(external_id) and unique external ids shaped per kind', () => {
    const prefix = {
      wecom_customer: /^wm[\w-]{30}$/,
      follower: /^o[\w-]{27}$/,
      friend: /^wxid_[a-z0-9]+$/,
      group_member: /^wxid_[a-z0-9]+$/,
    };
    for (const c of data.contacts) {
      expect(c.bucket).toBe(bucketOf(c.external_id));
      expect(c.external_id).toMatch(prefix[c.kind]);
    }
    expect(new Set(data.contacts.map((c) => c.external_id)).size).toBe(data.contacts.length);
    expect(new Set(data.contacts.map((c) => c.kind))).toEqual(new Set(['friend', 'group_member', 'follower', 'wecom_customer']));
  });

  it('has an owner who works in the contact’s department', () => {
    const users = new Map(data.users.map((u) => [u.id, u]));
    for (const c of data.contacts) expect(users.get(c.owner_user_id ?? -1)?.department_id).toBe(c.department_id);
  });

  it('has department paths that follow the parent chain', () => {
    const depts = new Map(data.departments.map((d) => [d.id, d]));
    for (const d of data.departments) {
      const parentPath = d.parent_id === null ? '/' : depts.get(d.parent_id)?.path;
      expect(d.path).toBe(`${parentPath}${d.id}/`);
    }
  });

  it('only uses declared custom fields', () => {
    const keys = new Set(data.customFields.map((f) => f.key));
    for (const c of data.contacts) for (const k of Object.keys(JSON.parse(c.custom))) expect(keys.has(k)).toBe(true);
  });

  it('carries aggregates equal to what its events imply', () => {
    const byContact = groupBy(data.events, (e) => e.contact_id);
    for (const c of data.contacts) {
      const evs = byContact.get(c.id) ?? [];
      const purchases = evs.filter((e) => e.type === 'purchase');
      expect({
        message_count: c.message_count,
        purchase_count: c.purchase_count,
        total_spend: c.total_spend,
        last_purchase_at: c.last_purchase_at,
        invite_count: c.invite_count,
        violation_count: c.violation_count,
        last_active_at: c.last_active_at,
      }).toEqual({
        message_count: evs.filter((e) => e.type === 'message').length,
        purchase_count: purchases.length,
        total_spend: purchases.reduce((s, e) => s + (e.amount ?? 0), 0),
        last_purchase_at: purchases.length ? Math.max(...purchases.map((e) => e.occurred_at)) : null,
        invite_count: evs.filter((e) => e.type === 'invite').length,
        violation_count: evs.filter((e) => e.type === 'violation').length,
        last_active_at: evs.length ? Math.max(...evs.map((e) => e.occurred_at)) : null,
      });
    }
  });

  it('looks like real activity: many quiet contacts, a few very active, some silent for 180 days', () => {
    const perContact = data.contacts.map((c) => data.events.filter((e) => e.contact_id === c.id).length).sort((a, b) => b - a);
    const total = perContact.reduce((s, n) => s + n, 0);
    const top10 = perContact.slice(0, perContact.length / 10).reduce((s, n) => s + n, 0);
    expect(top10 / total).toBeGreaterThan(0.5);
    const silent = data.contacts.filter((c) => c.last_active_at === null || c.last_active_at < NOW - 180 * DAY);
    expect(silent.length / data.contacts.length).toBeGreaterThan(0.05);
    expect(data.contacts.some((c) => c.created_at < NOW - 180 * DAY)).toBe(true);
  });
});

describe('events', () => {
  it('have unique ids and sender ids, happen before now and are received after they occur', () => {
    expect(new Set(data.events.map((e) => e.id)).size).toBe(data.events.length);
    expect(new Set(data.events.map((e) => e.sender_event_id)).size).toBe(data.events.length);
    for (const e of data.events) {
      expect(e.source_id).toBe('demo');
      expect(e.occurred_at).toBeLessThanOrEqual(NOW);
      expect(e.received_at - e.occurred_at).toBeGreaterThan(0);
      expect(e.received_at - e.occurred_at).toBeLessThan(10_000);
    }
  });

  it('cover every type the demo promises, with amounts in ¥9.9–¥5,000', () => {
    const types = new Set(data.events.map((e) => e.type));
    for (const t of ['message', 'group_join', 'group_leave', 'qr_scan', 'purchase', 'article_open', 'invite', 'violation', 'friend_add']) {
      expect(types).toContain(t);
    }
    for (const e of data.events) {
      if (e.type === 'purchase') expect(e.amount).toBeGreaterThanOrEqual(990);
      if (e.type === 'purchase') expect(e.amount).toBeLessThanOrEqual(500_000);
      else expect(e.amount).toBeNull();
    }
    expect(data.events.some((e) => e.type === 'message' && /价格|优惠|退款|投诉|合作|代理|发货/.test(e.text ?? ''))).toBe(true);
  });

  it('only leave a group after joining it', () => {
    const joined = new Map<string, number>();
    const sorted = [...data.events].sort((a, b) => a.occurred_at - b.occurred_at || a.id - b.id);
    for (const e of sorted) {
      const key = `${e.contact_id}|${e.group_id}`;
      if (e.type === 'group_join') joined.set(key, e.occurred_at);
      if (e.type === 'group_leave') {
        expect(e.group_id).toMatch(/^chat_/);
        expect(joined.get(key)).toBeLessThan(e.occurred_at);
        joined.delete(key);
      }
    }
  });

  it('qr scans name a known source channel', () => {
    const channels = new Set(
      data.tags.filter((t) => t.group_id === data.tagGroups.find((g) => g.name === '来源渠道')?.id).map((t) => t.name),
    );
    for (const e of data.events) if (e.type === 'qr_scan') expect(channels.has(e.channel ?? '')).toBe(true);
  });
});

describe('contact_daily_stats', () => {
  it('is exactly the per (contact, type, Shanghai day) rollup of the events', () => {
    const expected = new Map<string, { count: number; amount: number }>();
    for (const e of data.events) {
      const key = `${e.contact_id}|${e.type}|${shanghaiDay(e.occurred_at)}`;
      const s = expected.get(key) ?? { count: 0, amount: 0 };
      s.count++;
      s.amount += e.amount ?? 0;
      expected.set(key, s);
    }
    const actual = new Map(data.dailyStats.map((s) => [`${s.contact_id}|${s.type}|${s.day}`, { count: s.count, amount: s.amount }]));
    expect(actual.size).toBe(data.dailyStats.length); // no duplicate primary keys
    expect(actual).toEqual(expected);
  });
});

describe('tags', () => {
  const groupOf = new Map(data.tags.map((t) => [t.id, t.group_id]));
  const exclusiveGroups = new Set(data.tagGroups.filter((g) => g.exclusive).map((g) => g.id));

  it('respects exclusive groups, now and at every point of the ledger', () => {
    const holding = new Map<number, Set<number>>();
    const check = (contactId: number) => {
      const seen = new Set<number>();
      for (const tagId of holding.get(contactId) ?? []) {
        const g = groupOf.get(tagId) as number;
        if (!exclusiveGroups.has(g)) continue;
        expect(seen.has(g), `contact ${contactId} holds two tags of exclusive group ${g}`).toBe(false);
        seen.add(g);
      }
    };
    for (const row of [...data.tagLedger].sort((a, b) => a.at - b.at || a.id - b.id)) {
      const set = holding.get(row.contact_id) ?? new Set<number>();
      holding.set(row.contact_id, set);
      if (row.op === 'add') set.add(row.tag_id);
      else set.delete(row.tag_id);
      check(row.contact_id);
    }
  });

  it('has a ledger whose replay gives exactly contact_tags', () => {
    const state = new Map<string, { at: number; source: string }>();
    for (const row of [...data.tagLedger].sort((a, b) => a.at - b.at || a.id - b.id)) {
      const key = `${row.contact_id}|${row.tag_id}`;
      if (row.op === 'add') {
        expect(state.has(key), `add of a held tag ${key}`).toBe(false);
        state.set(key, { at: row.at, source: row.source });
      } else {
        expect(state.has(key), `remove of a tag not held ${key}`).toBe(true);
        state.delete(key);
      }
    }
    const holdings = new Map(data.contactTags.map((ct) => [`${ct.contact_id}|${ct.tag_id}`, { at: ct.added_at, source: ct.source }]));
    expect(holdings).toEqual(state);
    expect(data.tagLedger.some((r) => r.op === 'remove')).toBe(true);
  });

  it('sets last_applied_at to the latest ledger add of each tag', () => {
    for (const tag of data.tags) {
      const adds = data.tagLedger.filter((r) => r.tag_id === tag.id && r.op === 'add').map((r) => r.at);
      expect(tag.last_applied_at).toBe(adds.length ? Math.max(...adds) : null);
    }
  });

  it('leaves 高价值客户 to the rules: nobody holds it and it has no history', () => {
    const tag = data.tags.find((t) => t.name === '高价值客户');
    expect(tag).toBeDefined();
    expect(data.contactTags.filter((ct) => ct.tag_id === tag?.id)).toEqual([]);
    expect(data.tagLedger.filter((r) => r.tag_id === tag?.id)).toEqual([]);
  });

  it('derives tags from behaviour: channel tag = source channel, violation ladder from violations', () => {
    const byId = new Map(data.tags.map((t) => [t.id, t]));
    const channelGroup = data.tagGroups.find((g) => g.name === '来源渠道')?.id;
    const held = groupBy(data.contactTags, (ct) => ct.contact_id);
    for (const c of data.contacts) {
      const tags = (held.get(c.id) ?? []).map((ct) => byId.get(ct.tag_id));
      const channel = tags.filter((t) => t?.group_id === channelGroup).map((t) => t?.name);
      expect(channel).toEqual(c.source_channel === null ? [] : [c.source_channel]);
      const risk = tags.find((t) => t?.name === '违规警告' || t?.name === '禁言' || t?.name === '移出群聊')?.name ?? null;
      const expected = c.violation_count >= 5 ? '移出群聊' : c.violation_count >= 3 ? '禁言' : c.violation_count >= 1 ? '违规警告' : null;
      expect(risk).toBe(expected);
    }
  });

  it('has a consistent hierarchy: parents in the same group, one level up, at most 3 levels', () => {
    const byId = new Map(data.tags.map((t) => [t.id, t]));
    const levels = new Set<number>();
    for (const t of data.tags) {
      levels.add(t.level);
      if (t.parent_id === null) expect(t.level).toBe(1);
      else {
        const parent = byId.get(t.parent_id);
        expect(parent?.group_id).toBe(t.group_id);
        expect(parent?.level).toBe(t.level - 1);
      }
    }
    expect(levels).toEqual(new Set([1, 2, 3]));
  });
});

describe('the planted repurchase pattern', () => {
  const today = dayNumber(NOW, 480);
  const asOfDay = today - PLANTED_REPURCHASE.labelDays;
  const existed = data.contacts.filter((c) => dayNumber(c.created_at, 480) <= asOfDay);

  it('makes buying in the last 30 days follow the planted rule: ~88% of the contacts it picks, ~3% of the others', () => {
    const spend = new Map<number, number>();
    const bought = new Set<number>();
    for (const s of data.dailyStats) {
      if (s.type !== 'purchase') continue;
      if (s.day > asOfDay) bought.add(s.contact_id);
      else if (s.day > asOfDay - PLANTED_REPURCHASE.spendDays) spend.set(s.contact_id, (spend.get(s.contact_id) ?? 0) + s.amount);
    }
    const picked = existed.filter((c) =>
      plantedRepurchase({ region: c.region, sourceChannel: c.source_channel, spend60: spend.get(c.id) ?? 0 }),
    );
    const others = existed.filter((c) => !picked.includes(c));
    const rate = (cs: typeof existed) => cs.filter((c) => bought.has(c.id)).length / cs.length;
    expect(picked.length).toBeGreaterThan(100);
    expect(rate(picked)).toBeGreaterThan(0.8);
    expect(rate(picked)).toBeLessThan(0.95);
    expect(rate(others)).toBeGreaterThan(0.01);
    expect(rate(others)).toBeLessThan(0.06);
  });

  it('changes nothing but those purchases: turned off, every contact draws the same, and every other event is the same', () => {
    const off = collectDemo({ ...OPTS, plantRepurchase: false });
    const strip = (c: (typeof data.contacts)[number]) => ({
      ...c,
      purchase_count: 0,
      total_spend: 0,
      last_purchase_at: 0,
      last_active_at: 0,
      updated_at: 0,
    });
    expect(off.contacts.map(strip)).toEqual(data.contacts.map(strip));
    const key = (e: (typeof data.events)[number]) => `${e.contact_id}|${e.type}|${e.occurred_at}|${e.text}|${e.group_id}`;
    const notWindowPurchase = (e: (typeof data.events)[number]) => e.type !== 'purchase' || dayNumber(e.occurred_at, 480) <= asOfDay;
    expect(off.events.filter(notWindowPurchase).map(key)).toEqual(data.events.filter(notWindowPurchase).map(key));
    expect(off.events.length).not.toBe(data.events.length);
  });
});
