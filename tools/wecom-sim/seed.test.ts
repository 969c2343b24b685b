import { describe, expect, it } from 'vitest';
import { createWecomSim } from './app';
import { SimClock } from './clock';
import { DEMO_TAG_LIBRARY, seedCorp } from './seed';
import { type Corp } from './state';

const dump = (c: Corp) =>
  JSON.stringify({ u: [...c.followUsers], c: [...c.contacts], r: [...c.relations], g: [...c.tagGroups], t: [...c.tags], ch: [...c.chats] });

describe('the demo seed', () => {
  it('is the same corp for the same seed, whenever and wherever it is built, and another corp for another seed', () => {
    const a = seedCorp({ seed: 42, contacts: 120 });
    const b = createWecomSim({ clock: new SimClock(Date.UTC(2030, 0, 1)) }).seed({ seed: 42, contacts: 120, nowSeconds: 1_796_000_000 });
    expect(dump(b)).toBe(dump(a));
    expect(dump(seedCorp({ seed: 43, contacts: 120 }))).not.toBe(dump(a));
  });

  it('holds the sizes asked for, WeCom-looking ids and Chinese names', () => {
    const c = seedCorp({ seed: 'demo', followUsers: 12, contacts: 500, chats: 8 });
    expect(c.followUsers.size).toBe(12);
    expect(c.contacts.size).toBe(500);
    expect(c.chats.size).toBe(8);
    expect([...c.followUsers.values()].every((u) => /^[\u4e00-\u9fff]{2,4}$/.test(u.name) && /^[A-Za-z0-9]+$/.test(u.userid))).toBe(true);
    expect([...c.contacts.keys()].every((id) => /^wm[A-Za-z0-9]{30}$/.test(id))).toBe(true);
    expect([...c.chats.keys()].every((id) => /^wr[A-Za-z0-9]{30}$/.test(id))).toBe(true);
    expect(new Set([...c.contacts.values()].map((x) => x.name)).size).toBeGreaterThan(200);
  });

  it('gives every customer a follow user, with remarks, tags per follow user, add_way and state channels', () => {
    const c = seedCorp({ seed: 'demo', followUsers: 6, contacts: 400 });
    const rels = [...c.relations.values()];
    expect(new Set(rels.map((r) => r.external_userid)).size).toBe(400);
    expect(rels.length).toBeGreaterThan(400); // some customers have two follow users
    expect(rels.filter((r) => r.remark).length).toBeGreaterThan(100);
    expect(rels.filter((r) => r.tagIds.length > 0).length).toBeGreaterThan(200);
    expect(new Set(rels.map((r) => r.state).filter(Boolean)).size).toBeGreaterThanOrEqual(4);
    expect(rels.filter((r) => r.state).every((r) => r.add_way === 1 || r.add_way === 16)).toBe(true);
    expect(new Set(rels.map((r) => r.add_way)).size).toBeGreaterThanOrEqual(6);
    for (const r of rels) for (const id of r.tagIds) expect(c.tags.get(id)).toBeDefined();
  });

  it('has the tag library in groups, made by an admin, and chats whose members exist', () => {
    const c = seedCorp({ seed: 'demo', chats: 10 });
    expect([...c.tagGroups.values()].map((g) => g.group_name)).toEqual(DEMO_TAG_LIBRARY.map((g) => g.group));
    expect(c.tags.size).toBe(DEMO_TAG_LIBRARY.reduce((n, g) => n + g.tags.length, 0));
    expect([...c.tags.values(), ...c.tagGroups.values()].every((x) => x.createdBy === 'admin')).toBe(true);
    for (const chat of c.chats.values()) {
      expect(chat.member_list[0]!.userid).toBe(chat.owner);
      for (const m of chat.member_list) expect(m.type === 1 ? c.followUsers.has(m.userid) : c.contacts.has(m.userid)).toBe(true);
    }
  });
});
