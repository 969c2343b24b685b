import { env } from 'cloudflare:workers';
import { beforeEach, describe, expect, it } from 'vitest';
import { tagChangeStatements, tagSetStatements, type TagWriteSource } from '../src/tagging/tag-writer';
import { NOW, seedSmallWorld } from './fixtures';

// Small world (fixtures.ts): 生命周期 is exclusive (1 活跃客户, 2 沉睡客户); 兴趣偏好 is not
// (3 美妆, 4 护肤, 5 抗老, 6 旧标签 retired). Contact 1 holds 1, 4, 5; contact 4 holds 2.
const db = env.DB;
const RULE: TagWriteSource = { source: 'rule', ruleId: 7, ruleVersion: 3, batchId: 'publish-1', at: NOW + 1000 };

async function holdings(contactId: number): Promise<number[]> {
  const { results } = await db
    .prepare('SELECT tag_id FROM contact_tags WHERE contact_id = ? ORDER BY tag_id')
    .bind(contactId)
    .all<{ tag_id: number }>();
  return results.map((r) => r.tag_id);
}
async function ledger(): Promise<
  {
    contact_id: number;
    tag_id: number;
    op: string;
    source: string;
    rule_id: number | null;
    rule_version: number | null;
    batch_id: string | null;
  }[]
> {
  return (await db.prepare('SELECT contact_id, tag_id, op, source, rule_id, rule_version, batch_id FROM tag_ledger ORDER BY id').all<any>())
    .results;
}

beforeEach(async () => {
  await db.batch(
    ['contact_tags', 'tag_ledger', 'tags', 'tag_groups', 'contacts', 'departments'].map((t) => db.prepare(`DELETE FROM ${t}`)),
  );
  await seedSmallWorld();
});

describe('tagChangeStatements', () => {
  it('adds a tag with a ledger row naming the rule, version and batch', async () => {
    await db.batch(tagChangeStatements(db, [{ contactId: 2, tagId: 3, op: 'add' }], RULE));
    expect(await holdings(2)).toEqual([1, 3]);
    expect(await ledger()).toEqual([
      { contact_id: 2, tag_id: 3, op: 'add', source: 'rule', rule_id: 7, rule_version: 3, batch_id: 'publish-1' },
    ]);
    const row = await db
      .prepare('SELECT source, rule_id, rule_version, added_at FROM contact_tags WHERE contact_id = 2 AND tag_id = 3')
      .first();
    expect(row).toEqual({ source: 'rule', rule_id: 7, rule_version: 3, added_at: NOW + 1000 });
    const tag = await db.prepare('SELECT last_applied_at FROM tags WHERE id = 3').first<{ last_applied_at: number }>();
    expect(tag?.last_applied_at).toBe(NOW + 1000);
  });

  it('changes nothing and writes no ledger row when adding a held tag or removing one not held', async () => {
    await db.batch(
      tagChangeStatements(
        db,
        [
          { contactId: 1, tagId: 1, op: 'add' },
          { contactId: 2, tagId: 5, op: 'remove' },
        ],
        RULE,
      ),
    );
    expect(await holdings(1)).toEqual([1, 4, 5]);
    expect(await holdings(2)).toEqual([1]);
    expect(await ledger()).toEqual([]);
  });

  it('adding a tag of an exclusive group removes the sibling, with a remove row of the same source', async () => {
    await db.batch(tagChangeStatements(db, [{ contactId: 1, tagId: 2, op: 'add' }], RULE));
    expect(await holdings(1)).toEqual([2, 4, 5]);
    expect((await ledger()).map((r) => [r.tag_id, r.op, r.source, r.rule_id])).toEqual([
      [1, 'remove', 'rule', 7],
      [2, 'add', 'rule', 7],
    ]);
  });

  it('does not remove other tags of a group that is not exclusive', async () => {
    await db.batch(tagChangeStatements(db, [{ contactId: 1, tagId: 3, op: 'add' }], RULE));
    expect(await holdings(1)).toEqual([1, 3, 4, 5]);
  });

  it('removes a held tag with a ledger row', async () => {
    await db.batch(tagChangeStatements(db, [{ contactId: 1, tagId: 5, op: 'remove' }], { source: 'manual', actorUserId: 9, at: NOW }));
    expect(await holdings(1)).toEqual([1, 4]);
    const rows = await db.prepare('SELECT op, source, actor_user_id FROM tag_ledger').all();
    expect(rows.results).toEqual([{ op: 'remove', source: 'manual', actor_user_id: 9 }]);
  });

  it('never adds a retired tag', async () => {
    await db.batch(tagChangeStatements(db, [{ contactId: 2, tagId: 6, op: 'add' }], RULE));
    expect(await holdings(2)).toEqual([1]);
    expect(await ledger()).toEqual([]);
  });

  it('tags a contact inserted earlier in the same batch, named by external id', async () => {
    await db.batch([
      db
        .prepare(
          `INSERT INTO contacts (kind, external_id, name, bucket, created_at, updated_at) VALUES ('friend', 'wxid_new', '新朋友', 1, ?, ?)`,
        )
        .bind(NOW, NOW),
      ...tagChangeStatements(db, [{ contactId: { externalId: 'wxid_new' }, tagId: 2, op: 'add' }], RULE),
    ]);
    const id = (await db.prepare(`SELECT id FROM contacts WHERE external_id = 'wxid_new'`).first<{ id: number }>())!.id;
    expect(await holdings(id)).toEqual([2]);
    expect((await ledger())[0]).toMatchObject({ contact_id: id, tag_id: 2, op: 'add' });
  });

  it('attributes each change to the rule version that asked for it', async () => {
    await db.batch(
      tagChangeStatements(
        db,
        [
          { contactId: 1, tagId: 5, op: 'remove', ruleId: 11, ruleVersion: 2 },
          { contactId: 2, tagId: 3, op: 'add', ruleId: 12, ruleVersion: 4 },
          { contactId: 1, tagId: 2, op: 'add', ruleId: 13, ruleVersion: 1 },
        ],
        { source: 'rule', batchId: 'webhook-1', at: NOW },
      ),
    );
    const rows = (await ledger()).map((r) => [r.contact_id, r.tag_id, r.op, r.rule_id, r.rule_version, r.batch_id]);
    // removals first (the displaced sibling attributed to the adding rule), then the additions
    expect(rows.slice(0, 2)).toEqual([
      [1, 5, 'remove', 11, 2, 'webhook-1'],
      [1, 1, 'remove', 13, 1, 'webhook-1'],
    ]);
    expect(rows.slice(2)).toHaveLength(2);
    expect(rows.slice(2)).toEqual(
      expect.arrayContaining([
        [2, 3, 'add', 12, 4, 'webhook-1'],
        [1, 2, 'add', 13, 1, 'webhook-1'],
      ]),
    );
    const row = await db.prepare('SELECT rule_id, rule_version FROM contact_tags WHERE contact_id = 2 AND tag_id = 3').first();
    expect(row).toEqual({ rule_id: 12, rule_version: 4 });
  });

  it('writes one change or a hundred in the same few statements', async () => {
    const one = tagChangeStatements(db, [{ contactId: 1, tagId: 3, op: 'add' }], RULE).length;
    const many = Array.from({ length: 100 }, (_, i) => ({
      contactId: 1 + (i % 5),
      tagId: 3 + (i % 3),
      op: i % 2 ? ('add' as const) : ('remove' as const),
    }));
    expect(tagChangeStatements(db, many, RULE).length).toBeLessThanOrEqual(one + 2);
    await db.batch(tagChangeStatements(db, many, RULE));
    // per contact and tag, the last change counts
    const expected = new Map<string, 'add' | 'remove'>();
    for (const ch of many) expected.set(`${ch.contactId}|${ch.tagId}`, ch.op);
    for (const [key, op] of expected) {
      const [c, t] = key.split('|').map(Number);
      const held = (await holdings(c as number)).includes(t as number);
      expect(held, key).toBe(op === 'add');
    }
  });

  it('of two additions into one exclusive group for a contact, keeps the last', async () => {
    await db.batch(
      tagChangeStatements(
        db,
        [
          { contactId: 3, tagId: 1, op: 'add' },
          { contactId: 3, tagId: 2, op: 'add' },
        ],
        RULE,
      ),
    );
    expect(await holdings(3)).toEqual([2]);
    expect((await ledger()).map((r) => [r.contact_id, r.tag_id, r.op])).toEqual([[3, 2, 'add']]);
  });

  it('writes nothing at all when another statement of the batch fails', async () => {
    const failing = db.prepare(
      `INSERT INTO contacts (kind, external_id, name, bucket, created_at, updated_at) VALUES ('robot', 'x', 'x', 1, 0, 0)`,
    );
    await expect(db.batch([...tagChangeStatements(db, [{ contactId: 2, tagId: 3, op: 'add' }], RULE), failing])).rejects.toThrow();
    expect(await holdings(2)).toEqual([1]);
    expect(await ledger()).toEqual([]);
  });
});

describe('tagSetStatements', () => {
  it('adds a tag to exactly the target contacts, once each, displacing exclusive siblings', async () => {
    // targets: contacts 1, 3, 4 (contact 1 holds 1 活跃客户, contact 4 holds 2 沉睡客户)
    const targets = { sql: 'SELECT c.id FROM contacts c WHERE c.id IN (?, ?, ?)', params: [1, 3, 4] };
    await db.batch(tagSetStatements(db, targets, 2, 'add', RULE));
    expect(await holdings(1)).toEqual([2, 4, 5]);
    expect(await holdings(3)).toEqual([2]);
    expect(await holdings(4)).toEqual([2]);
    expect(await holdings(2)).toEqual([1]);
    const rows = (await ledger()).map((r) => [r.contact_id, r.tag_id, r.op]);
    expect(rows).toEqual([
      [1, 1, 'remove'],
      [1, 2, 'add'],
      [3, 2, 'add'],
    ]);
    const scratch = await db.prepare('SELECT count(*) AS n FROM tag_apply_targets').first<{ n: number }>();
    expect(scratch?.n).toBe(0);
  });

  it('removes a tag from the target contacts that hold it', async () => {
    const targets = { sql: 'SELECT id FROM contacts WHERE id <= ?', params: [3] };
    await db.batch(tagSetStatements(db, targets, 1, 'remove', RULE));
    expect(await holdings(1)).toEqual([4, 5]);
    expect(await holdings(2)).toEqual([]);
    expect(await holdings(5)).toEqual([1, 3]);
    expect((await ledger()).map((r) => [r.contact_id, r.op])).toEqual([
      [1, 'remove'],
      [2, 'remove'],
    ]);
  });

  it('keeps contact_tags equal to the replay of the ledger over a sequence of writes', async () => {
    // start from a ledger that explains the fixture's holdings
    await db
      .prepare(
        `INSERT INTO tag_ledger (contact_id, tag_id, op, source, at) SELECT contact_id, tag_id, 'add', 'import', added_at FROM contact_tags`,
      )
      .run();
    await db.batch(tagSetStatements(db, { sql: 'SELECT id FROM contacts', params: [] }, 2, 'add', RULE));
    await db.batch(
      tagChangeStatements(
        db,
        [
          { contactId: 5, tagId: 1, op: 'add' },
          { contactId: 1, tagId: 4, op: 'remove' },
          { contactId: 3, tagId: 4, op: 'add' },
        ],
        { source: 'manual', at: NOW + 2000 },
      ),
    );
    await db.batch(tagSetStatements(db, { sql: 'SELECT id FROM contacts WHERE id > ?', params: [3] }, 3, 'add', RULE));
    const replay = await db
      .prepare(
        `SELECT contact_id, tag_id FROM (
           SELECT contact_id, tag_id, op, row_number() OVER (PARTITION BY contact_id, tag_id ORDER BY id DESC) AS rn FROM tag_ledger
         ) WHERE rn = 1 AND op = 'add' ORDER BY contact_id, tag_id`,
      )
      .all();
    const current = await db.prepare('SELECT contact_id, tag_id FROM contact_tags ORDER BY contact_id, tag_id').all();
    expect(replay.results).toEqual(current.results);
    expect(current.results.length).toBeGreaterThan(5);
  });
});
