/**
 * The intake queue's consumer: the events the webhook routes accepted, through the ingest
 * pipeline (./pipeline.ts), a batch at a time.
 *
 * A batch (up to 100 messages, one event each) is grouped by source and each group is ONE
 * pipeline run: one read batch and one write batch for up to 100 events. A group that fails is
 * run again message by message, so a poison message (one that fails alone too) is retried or
 * dead-lettered on its own and never holds back the others. Each message is acked as soon as
 * its run committed (stored, or found a duplicate): if the consumer dies later in the batch,
 * only what was not acked comes back.
 *
 * Delivery is at least once. A redelivered event, or the same event in two batches at once, is
 * harmless: the pipeline's unique index on (source, sender event id) and its guard roll a racing
 * write back and rerun it, where the event reads as a duplicate.
 *
 * Retries back off exponentially (2, 4, 8, 16 s). On its last delivery (the 5th: wrangler.toml's
 * max_retries 4) a failing message is kept in `intake_dead_letters` with the error that failed
 * it; one whose consumer never finished (a crash, a time-out) reaches the dead-letter queue
 * instead and ./dead-letters.ts keeps it there the same way.
 *
 * The source row is read again here. Events of a source revoked after they were accepted
 * (`received_at < revoked_at`) are stored: their sender was answered 2xx when the source was
 * valid. Events received at or after the revocation (possible only through a route's cached
 * source row) are not stored; they are kept as dead letters naming the revocation. A rotated
 * secret changes nothing here: the signature was checked at acceptance. A deleted source's
 * events are dead-lettered too.
 */
import type { ContactKind } from '@shared/domain';
import { ingest, type SourceRow } from './pipeline';
import type { IntakeMessage } from './intake-queue';
import { storeDeadLetters, type DeadLetter } from './dead-letters';
import { tzOffsetMinutes } from '../rules/context';
import { batch, typed } from '../db/rows';

/** Deliveries of a message before it is dead-lettered: the first and wrangler.toml's max_retries (4). */
export const MAX_DELIVERIES = 5;

/** Seconds before the next delivery after the `attempts`-th failed: 2, 4, 8, 16… capped at 5 minutes. */
export function backoffSeconds(attempts: number): number {
  return Math.min(2 ** Math.max(1, attempts), 300);
}

/** The columns of pipeline.ts's `SOURCE_SQL`, for every source of a batch at once. */
const SOURCES_SQL = `SELECT id, kind, secret, previous_secret, previous_secret_expires_at, wecom_token, wecom_aes_key, wecom_corp_id, revoked_at
  FROM event_sources WHERE id IN (SELECT value FROM json_each(?))`;

const DEFAULT_KIND: Record<SourceRow['kind'], ContactKind> = { generic: 'friend', wecom: 'wecom_customer' };

/** Whether a body is a message this consumer knows how to run. */
function readable(body: unknown): body is IntakeMessage {
  if (typeof body !== 'object' || body === null) return false;
  const m = body as Partial<IntakeMessage>;
  return (
    m.v === 1 &&
    typeof m.sourceId === 'string' &&
    typeof m.receivedAt === 'number' &&
    typeof m.event === 'object' &&
    m.event !== null &&
    typeof m.event.id === 'string'
  );
}

type Msg = Message<unknown>;
type Entry = { msg: Msg; body: IntakeMessage };

/** What the consumer needs: the database (tests pass one that injects faults) and the settings. */
export interface IntakeDeps {
  db: D1Database;
  env: Env;
}

/** Runs one batch of the intake queue. Never throws: every message is acked, retried or dead-lettered. */
export async function consumeIntake(batch: MessageBatch<unknown>, deps: IntakeDeps): Promise<void> {
  const dead: { msg: Msg; letter: DeadLetter }[] = [];
  const bySource = new Map<string, Entry[]>();
  for (const msg of batch.messages) {
    if (!readable(msg.body)) {
      dead.push({ msg, letter: letterOf(msg, 'unreadable message: not an intake message of version 1') });
      continue;
    }
    const group = bySource.get(msg.body.sourceId) ?? [];
    group.push({ msg, body: msg.body });
    bySource.set(msg.body.sourceId, group);
  }
  let sources: Map<string, SourceRow>;
  try {
    sources = await readSources(deps.db, [...bySource.keys()]);
  } catch (e) {
    for (const group of bySource.values()) for (const { msg } of group) retry(msg);
    console.error(`intake: cannot read the sources, ${batch.messages.length} messages retried: ${String(e)}`);
    sources = new Map();
    bySource.clear();
  }
  for (const [sourceId, group] of bySource) {
    const source = sources.get(sourceId);
    const runnable: Entry[] = [];
    for (const entry of group) {
      const refusal = refusalOf(source, sourceId, entry.body);
      if (refusal) dead.push({ msg: entry.msg, letter: letterOf(entry.msg, refusal) });
      else runnable.push(entry);
    }
    if (source && runnable.length) await runGroup(deps, source, runnable, dead);
  }
  await settleDead(deps, dead);
}

/** Why `body` is not stored, or null when it may be. */
function refusalOf(source: SourceRow | undefined, sourceId: string, body: IntakeMessage): string | null {
  if (!source) return `source "${sourceId}" no longer exists`;
  if (source.revoked_at !== null && body.receivedAt >= source.revoked_at) {
    return `source "${sourceId}" was revoked at ${new Date(source.revoked_at).toISOString()}, before this event was accepted`;
  }
  return null;
}

async function readSources(db: D1Database, ids: string[]): Promise<Map<string, SourceRow>> {
  if (!ids.length) return new Map();
  // one batch (not a lone statement): a test's fault injection around D1 batches reaches it too
  const [res] = await batch(db, [typed<SourceRow>(db.prepare(SOURCES_SQL).bind(JSON.stringify(ids)))]);
  return new Map(res.results.map((r) => [r.id, r]));
}

/** The group as one run; if it fails, each message alone, so only the failing ones are retried. */
async function runGroup(deps: IntakeDeps, source: SourceRow, group: Entry[], dead: { msg: Msg; letter: DeadLetter }[]): Promise<void> {
  try {
    await run(deps, source, group);
    for (const { msg } of group) msg.ack();
    return;
  } catch (e) {
    if (group.length === 1) {
      failed(group[0] as Entry, e, dead);
      return;
    }
    console.warn(`intake: a run of ${group.length} events of source "${source.id}" failed (${String(e)}); running them one by one`);
  }
  for (const entry of group) {
    try {
      await run(deps, source, [entry]);
      entry.msg.ack();
    } catch (e) {
      failed(entry, e, dead);
    }
  }
}

function run(deps: IntakeDeps, source: SourceRow, group: Entry[]) {
  return ingest(
    deps.db,
    group.map((e) => e.body.event),
    {
      sourceId: source.id,
      now: Date.now(),
      // when each event was accepted (its webhook answered 202), not when this run processes it
      receivedAt: new Map(group.map((e) => [e.body.event, e.body.receivedAt])),
      tzOffsetMinutes: tzOffsetMinutes(deps.env),
      defaultKind: DEFAULT_KIND[source.kind],
      batchId: crypto.randomUUID(),
      // call-webhook / notify actions of event rules enqueue their deliveries after the write commits
      deliveries: deps.env,
      // the row the pipeline reads in its own first batch: a source deleted since readSources is a failure, retried
      checkSource: (row) => {
        if (!row) throw new Error(`source "${source.id}" disappeared while its events were processed`);
      },
    },
  );
}

function retry(msg: Msg): void {
  msg.retry({ delaySeconds: backoffSeconds(msg.attempts) });
}

/** A failed message: retried with backoff, or on its last delivery kept as a dead letter with the error. */
function failed(entry: Entry, error: unknown, dead: { msg: Msg; letter: DeadLetter }[]): void {
  const reason = error instanceof Error ? error.message : String(error);
  if (entry.msg.attempts >= MAX_DELIVERIES) {
    dead.push({ msg: entry.msg, letter: letterOf(entry.msg, `failed ${entry.msg.attempts} deliveries; last error: ${reason}`) });
  } else {
    console.warn(`intake: event "${entry.body.event.id}" of "${entry.body.sourceId}" failed (attempt ${entry.msg.attempts}): ${reason}`);
    retry(entry.msg);
  }
}

function letterOf(msg: Msg, reason: string): DeadLetter {
  return { messageId: msg.id, body: msg.body, attempts: msg.attempts, reason };
}

/** Dead letters stored in one batch, then acked; if they cannot be stored, retried (the last delivery's retry goes to the dead-letter queue). */
async function settleDead(deps: IntakeDeps, dead: { msg: Msg; letter: DeadLetter }[]): Promise<void> {
  if (!dead.length) return;
  try {
    await storeDeadLetters(
      deps.db,
      deps.env,
      dead.map((d) => d.letter),
      Date.now(),
    );
    for (const { msg } of dead) msg.ack();
  } catch (e) {
    console.error(`intake: cannot store ${dead.length} dead letters, retried: ${String(e)}`);
    for (const { msg } of dead) retry(msg);
  }
}
