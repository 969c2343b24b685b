/**
 * The contact upsert every event-driven writer shares (worker/src/ingest/pipeline.ts,
 * `contactUpsertStatements`), on the real D1: new contacts are written by their INSERT alone (the
 * attribute UPDATE after it skips them, and their keys are written without dropping old ones),
 * unless a concurrent writer created one of them between the caller's read and this batch — then
 * every given attribute still wins and the keys are those of the name and remark after the write.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { seedSmallWorld } from './fixtures';
import { contactUpsertStatements, type ContactUpsert } from '../src/ingest/pipeline';
import { keyQueued, storedKeys } from '../src/search/keys';

const db = env.DB;
const NOW = 1_790_000_000_000;

beforeAll(async () => {
  await seedSmallWorld();
});

async function row(ext: string) {
  return db
    .prepare('SELECT id, kind, name, remark, gender, company, city, source_channel, created_at FROM contacts WHERE external_id = ?')
    .bind(ext)
    .first<Record<string, unknown> & { id: number }>();
}
async function keysOf(id: number) {
  const { results } = await db
    .prepare(`SELECT key FROM search_keys WHERE kind = 'contact' AND ref_id = ? ORDER BY key`)
    .bind(id)
    .all<{ key: string }>();
  return results.map((r) => r.key);
}
async function queued(id: number) {
  return db.prepare(`SELECT count(*) AS n FROM search_key_queue WHERE kind = 'contact' AND ref_id = ?`).bind(id).first<number>('n');
}
const sorted = (xs: string[]) => [...xs].sort();

describe('contactUpsertStatements', () => {
  it('a batch of new and existing contacts: new ones as inserted, existing ones updated (given attributes only), all keyed, none queued', async () => {
    // an existing contact, keyed
    await db.batch(
      contactUpsertStatements(
        db,
        [
          {
            externalId: 'up_old',
            isNew: true,
            attrs: { name: '王女士', city: '杭州', company: '旧公司' },
            keys: { name: '王女士', remark: null },
          },
        ],
        'wecom_customer',
        NOW,
      ),
    );
    const old = (await row('up_old'))!;
    // the existing one between the new ones: its rename's trigger runs mid-UPDATE, and must not make the rows after it look missed
    const rows: ContactUpsert[] = [
      {
        externalId: 'up_new1',
        isNew: true,
        attrs: { kind: 'wecom_customer', name: '张丽坤', gender: 'female', remark: '张总-华东采购' },
        keys: { name: '张丽坤', remark: '张总-华东采购' },
      },
      {
        externalId: 'up_old',
        isNew: false,
        attrs: { name: '王丽', remark: '老客户', sourceChannel: 'qr-1' },
        keys: { name: '王丽', remark: '老客户' },
      },
      { externalId: 'up_new2', isNew: true, attrs: { gender: 'male' }, keys: { name: 'up_new2', remark: null } },
    ];
    const res = await db.batch(contactUpsertStatements(db, rows, 'friend', NOW + 1));
    // (D1's `changes` counts trigger rows: each insert and rename queues its contact for keying)
    // the INSERT: 2 new contacts + 2 queue rows; the UPDATE: the existing contact + its rename's queue row, not the new ones
    expect(res[0]!.meta.changes).toBe(4);
    expect(res[1]!.meta.changes).toBe(2);

    expect(await row('up_new1')).toMatchObject({
      kind: 'wecom_customer',
      name: '张丽坤',
      remark: '张总-华东采购',
      gender: 'female',
      company: null,
      created_at: NOW + 1,
    });
    expect(await row('up_new2')).toMatchObject({ kind: 'friend', name: 'up_new2', remark: null, gender: 'male' });
    // the existing one: the given attributes written, the others kept
    expect(await row('up_old')).toMatchObject({
      id: old.id,
      name: '王丽',
      remark: '老客户',
      source_channel: 'qr-1',
      city: '杭州',
      company: '旧公司',
      created_at: NOW,
    });
    for (const [ext, name, remark] of [
      ['up_new1', '张丽坤', '张总-华东采购'],
      ['up_new2', 'up_new2', null],
      ['up_old', '王丽', '老客户'],
    ] as const) {
      const c = (await row(ext))!;
      expect(await keysOf(c.id)).toEqual(sorted(storedKeys('contact', name, remark)));
      expect(await queued(c.id)).toBe(0);
    }
    // the old name's keys are gone: 王女士 is not found by "wangnvshi" any more
    expect(await keysOf(old.id)).not.toContain('wangnvshi');
  });

  it('a contact another writer created after the caller read (isNew, but there): the given attributes still win, its keys follow the new name', async () => {
    // the other writer: created and keyed with its own attributes
    await db.batch(
      contactUpsertStatements(
        db,
        [
          {
            externalId: 'up_race',
            isNew: true,
            attrs: { name: '李雷', city: '上海', gender: 'male' },
            keys: { name: '李雷', remark: null },
          },
        ],
        'friend',
        NOW,
      ),
    );
    const before = (await row('up_race'))!;
    expect(await keysOf(before.id)).toContain('lilei');
    // this writer still thinks it new (its read came first), together with a really new one
    const res = await db.batch(
      contactUpsertStatements(
        db,
        [
          {
            externalId: 'up_race',
            isNew: true,
            attrs: { kind: 'wecom_customer', name: '韩梅梅', remark: '韩总', gender: 'female' },
            keys: { name: '韩梅梅', remark: '韩总' },
          },
          { externalId: 'up_race_new', isNew: true, attrs: { name: '赵六' }, keys: { name: '赵六', remark: null } },
        ],
        'wecom_customer',
        NOW + 5,
      ),
    );
    // the INSERT inserted one of two (+ its queue row): the UPDATE then writes both (+ the renamed one's queue row)
    expect(res[0]!.meta.changes).toBe(2);
    expect(res[1]!.meta.changes).toBe(3);
    // last value wins on every given attribute (the UPDATE ran for the contact the INSERT did not insert), the rest kept
    expect(await row('up_race')).toMatchObject({
      id: before.id,
      kind: 'wecom_customer',
      name: '韩梅梅',
      remark: '韩总',
      gender: 'female',
      city: '上海',
      created_at: NOW,
    });
    expect(await keysOf(before.id)).toEqual(sorted(storedKeys('contact', '韩梅梅', '韩总')));
    expect(await queued(before.id)).toBe(0);
    const fresh = (await row('up_race_new'))!;
    expect(fresh).toMatchObject({ name: '赵六', kind: 'wecom_customer', gender: 'unknown' });
    expect(await keysOf(fresh.id)).toEqual(sorted(storedKeys('contact', '赵六', null)));
  });

  it('a raced contact whose name and remark the other writer already gave: same keys, none doubled or queued', async () => {
    await db.batch(
      contactUpsertStatements(
        db,
        [{ externalId: 'up_same', isNew: true, attrs: { name: '周杰', remark: 'VIP' }, keys: { name: '周杰', remark: 'VIP' } }],
        'friend',
        NOW,
      ),
    );
    const c = (await row('up_same'))!;
    await db.batch(
      contactUpsertStatements(
        db,
        [
          {
            externalId: 'up_same',
            isNew: true,
            attrs: { name: '周杰', remark: 'VIP', company: '周氏' },
            keys: { name: '周杰', remark: 'VIP' },
          },
        ],
        'friend',
        NOW + 9,
      ),
    );
    expect(await row('up_same')).toMatchObject({ id: c.id, company: '周氏', name: '周杰' });
    expect(await keysOf(c.id)).toEqual(sorted(storedKeys('contact', '周杰', 'VIP')));
    expect(await queued(c.id)).toBe(0);
    // and the cron has nothing left to key for it
    await keyQueued(db);
    expect(await keysOf(c.id)).toEqual(sorted(storedKeys('contact', '周杰', 'VIP')));
  });
});
