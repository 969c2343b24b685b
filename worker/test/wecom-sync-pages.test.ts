/**
 * The backfill past its first pages (worker/src/wecom/sync/step.ts, `runSteps`): one message
 * writes many contacts pages in a row, each its own guarded batch, each page's WeCom calls made
 * while the page before it is written, and the page after queued all the same (delayed) in case
 * the message stops. Against the simulator, on the real D1, the queue driven message by message.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { seedSmallWorld } from './fixtures';
import { startSync } from '../src/wecom/sync/runs';
import { retryDelaySeconds } from '../src/wecom/sync/consume';
import { HANDOVER_DELAY_SECONDS, PAGES_PER_MESSAGE, SINGLE_CALL_RELATIONS } from '../src/wecom/sync/step';
import { storedKeys } from '../src/search/keys';
import { d1View, db, deliver, drain, fakeQueue, ledgerOf, ROOT_ACTOR, runRow, seedCorp, sim, simView } from './wecom-sync-kit';

beforeAll(async () => {
  await seedSmallWorld();
});

describe('WeCom backfill, many pages a message', () => {
  it('past its first pages, one message writes many pages (each guarded, its WeCom calls made during the write before it): identical, no call wasted', async () => {
    const corp = await seedCorp({ followUsers: 4, contacts: 2600, chats: 0 });
    const q = fakeQueue();
    const run = await startSync(q.env, corp.connectionId, ROOT_ACTOR, Date.now());
    const callsBefore =
      (await sim<Record<string, number>>(`/corps/${corp.corpid}/calls`, undefined, 'GET'))['externalcontact/batch/get_by_user'] ?? 0;
    const advances: number[] = [];
    let stale = 0;
    while (q.sent.length) {
      const m = q.sent.shift()!;
      const before = (await runRow(run.id))!;
      expect(await deliver(q, m)).toBe('acked');
      const after = (await runRow(run.id))!;
      if (before.status === 'running') advances.push(after.step - before.step);
      if (after.step === before.step && m.body.type === 'step' && m.body.step < before.step) stale++;
    }
    const done = (await runRow(run.id))!;
    expect(done.status).toBe('finished');
    const want = await simView(corp.corpid);
    expect(want.relations.length).toBeGreaterThan(SINGLE_CALL_RELATIONS * 3);
    // single pages first (progress at once), then messages that write several pages each
    expect(Math.max(...advances)).toBeGreaterThan(2);
    expect(Math.max(...advances)).toBeLessThanOrEqual(PAGES_PER_MESSAGE);
    // the pages written in a row each queued the next one's message, delayed, dropped later as stale
    expect(stale).toBeGreaterThan(0);
    expect(await d1View(corp.connectionId)).toEqual(want);
    expect(done.relations).toBe(want.relations.length);
    expect(done.customers).toBe(want.customers.length);
    const ledger = await ledgerOf(corp.connectionId);
    expect(ledger.doubled).toBe(0);
    expect(ledger.rows.length).toBe(want.held.length);
    // every call used: 100 relations a call, none asked for twice or for nothing
    const calls = (await sim<Record<string, number>>(`/corps/${corp.corpid}/calls`, undefined, 'GET'))[
      'externalcontact/batch/get_by_user'
    ]!;
    expect(calls - callsBefore).toBe(Math.ceil(want.relations.length / 100));
    // every customer findable at once: its search keys, those of its name and remark (computed once per distinct text)
    const { results: keyed } = await db
      .prepare(
        `SELECT c.id, c.name, c.remark, (SELECT json_group_array(k.key) FROM search_keys k WHERE k.kind = 'contact' AND k.ref_id = c.id) AS keys
         FROM contacts c WHERE c.external_id IN (SELECT external_userid FROM wecom_relations WHERE connection_id = ?)`,
      )
      .bind(corp.connectionId)
      .all<{ id: number; name: string; remark: string | null; keys: string }>();
    expect(keyed.length).toBe(want.customers.length);
    const differing = keyed.filter(
      (c) => (JSON.parse(c.keys) as string[]).sort().join('\n') !== [...storedKeys('contact', c.name, c.remark)].sort().join('\n'),
    );
    expect(differing).toEqual([]);
  }, 120_000);

  it('a WeCom error on a later page of a message stops there: kept on the run, that page queued again (and by its own delayed message), nothing doubled', async () => {
    const corp = await seedCorp({ followUsers: 4, contacts: 3000, chats: 0 });
    const q = fakeQueue();
    const run = await startSync(q.env, corp.connectionId, ROOT_ACTOR, Date.now());
    // the single-call pages, one message each
    for (;;) {
      const r = (await runRow(run.id))!;
      if (r.phase === 'contacts' && r.relations >= SINGLE_CALL_RELATIONS) break;
      await deliver(q, q.sent.shift()!);
    }
    const at = (await runRow(run.id))!;
    // the next message's first page makes 10 calls and asks for its next page's during its write: the 15th call fails
    await sim(`/corps/${corp.corpid}/faults`, { api: 'externalcontact/batch/get_by_user', errcode: 48002, after: 14 });
    expect(q.sent).toHaveLength(1);
    expect(await deliver(q, q.sent.shift()!)).toBe('acked');
    const stopped = (await runRow(run.id))!;
    expect(stopped).toMatchObject({ status: 'running', step: at.step + 1, relations: at.relations + 1000 });
    expect(JSON.parse(stopped.errors)).toEqual([expect.objectContaining({ phase: 'contacts', errcode: 48002 })]);
    // the failed page queued again with a first retry's delay, beside its own message (queued, delayed, before the page before it was written)
    expect(q.sent.map((m) => [m.body.type === 'step' && m.body.step, m.delaySeconds]).sort()).toEqual(
      [
        [at.step + 1, retryDelaySeconds(1)],
        [at.step + 1, HANDOVER_DELAY_SECONDS],
      ].sort(),
    );
    await drain(q);
    const done = (await runRow(run.id))!;
    expect(done.status).toBe('finished');
    const want = await simView(corp.corpid);
    expect(await d1View(corp.connectionId)).toEqual(want);
    expect(done.relations).toBe(want.relations.length);
    const ledger = await ledgerOf(corp.connectionId);
    expect(ledger.doubled).toBe(0);
    expect(ledger.rows.length).toBe(want.held.length);
    const dupContacts = await db
      .prepare('SELECT COUNT(*) AS n FROM (SELECT external_id FROM contacts GROUP BY external_id HAVING COUNT(*) > 1)')
      .first<number>('n');
    expect(dupContacts).toBe(0);
  }, 120_000);
});
