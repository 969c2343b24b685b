/**
 * The `segflow-wecom-sync` queue's consumer: backfill pages, callback hints and pushes (mark_tag
 * per relation of one contact, wecom/push/push.ts). The queue runs one invocation at a time
 * (WeCom's limits are per corp); in a batch, pages and hints go one at a time, in order, then
 * pushes PUSH_LANES at once (never two of the same contact at once), with at most
 * MARK_TAG_CONCURRENCY mark_tag calls in flight.
 *
 * - WeCom asked to slow down (`WecomRateLimitedError` after the client's own short backoff): the
 *   message is sent again with the delay WeCom's limit suggests and acked, so a storm costs no
 *   delivery attempt; the run counts the wait.
 * - Any other failure: the error (errcode in words) is kept on the run and the message retried
 *   with exponential backoff; after the last attempt it goes to the dead-letter queue, whose
 *   consumer marks the run failed (resumable from that page).
 */
import type { WecomSyncPhase } from '@shared/api/wecom';
import { WecomApiError, WecomRateLimitedError } from '../errors';
import { errcodeWords } from '../words';
import { markLog, pushContact, type CallGate } from '../push/push';
import { applyHint } from './hints';
import { consumeDrainHint } from '../push/hint';
import { applyTagOp, failTagOp, keepTagOpError } from '../push/tag-ops';
import { isSyncMessage, sendSync, type WecomSyncMessage } from './message';
import { failRun, readRun, recordRunError } from './runs';
import { runSteps } from './step';

/** Seconds before retry n (1-based) of a failed page: 2, 4, 8, 16, 32. */
export const retryDelaySeconds = (attempts: number) => Math.min(300, 2 ** Math.max(1, attempts));
/** A page that came before its run reached it waits this long. */
const AHEAD_DELAY_SECONDS = 1;

/**
 * mark_tag calls in flight at once across a batch's pushes. WeCom names no concurrency limit for
 * mark_tag; a WeCom staff answer in its developer community gives 5 (45033 past it), so 5.
 */
export const MARK_TAG_CONCURRENCY = 5;
/**
 * Pushes of a batch run this many at once, each its own contact. 5 beat 10 (the whole batch) on
 * bench/wecom.ts, 3,000 pushes in alternation at load 13-16: 39.9 / 27.5 s against 48.8 / 39.8 s;
 * the D1 work around the calls contends past a few.
 */
const PUSH_LANES = 5;

/** A gate letting at most `n` calls run at once. */
function gateOf(n: number): CallGate {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (call) => {
    // a finished call hands its place straight to the next waiting one
    if (running >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    else running++;
    try {
      return await call();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
}

export async function consumeWecomSync(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  // backfill pages and hints one at a time, in order; then pushes, a few at once, one lane per contact
  // (two pushes of one contact at once would both mark its relations: the second waits for the first)
  const lanes = new Map<string, Message<unknown>[]>();
  const others: Message<unknown>[] = [];
  for (const msg of batch.messages) {
    const body = msg.body;
    if (isSyncMessage(body) && body.type === 'push') {
      const key = `${body.connectionId}|${body.contactId}`;
      lanes.set(key, [...(lanes.get(key) ?? []), msg]);
    } else others.push(msg);
  }
  // pages and hints first, in order: a hint re-reading a contact while its push marks it could write
  // WeCom's state from before the mark over the push's, and count it as a WeCom-side edit
  for (const msg of others) await consumeOne(msg, env, noGate);
  const gate = gateOf(MARK_TAG_CONCURRENCY);
  const queue = [...lanes.values()];
  await Promise.all(
    Array.from({ length: Math.min(PUSH_LANES, queue.length) }, async () => {
      for (let same = queue.shift(); same; same = queue.shift()) for (const msg of same) await consumeOne(msg, env, gate);
    }),
  );
}

const noGate: CallGate = (call) => call();

async function consumeOne(msg: Message<unknown>, env: Env, gate: CallGate): Promise<void> {
  const body = msg.body;
  if (!isSyncMessage(body)) {
    console.error('wecom-sync: an unreadable message was dropped', JSON.stringify(body).slice(0, 200));
    msg.ack();
    return;
  }
  try {
    if (body.type === 'step') {
      // a later page's failure: kept on the run (a rate limit counted as a wait) and that page queued again
      // with the delay its own first delivery would have got (its handover message is delayed much longer)
      const outcome = await runSteps(env, body.runId, body.step, async (e, step) => {
        const again = { ...body, step };
        if (e instanceof WecomRateLimitedError) {
          await sendSync(env, again, Math.ceil(e.retryAfterMs / 1000));
          await env.DB.prepare('UPDATE wecom_sync_runs SET rate_limit_waits = rate_limit_waits + 1, updated_at = ? WHERE id = ?')
            .bind(Date.now(), body.runId)
            .run();
          return;
        }
        console.error(`wecom-sync: run ${body.runId} page ${step} failed (in a run of pages)`, e);
        await keepError(env.DB, body.runId, e).catch(() => undefined);
        await sendSync(env, again, retryDelaySeconds(1));
      });
      if (outcome === 'ahead') {
        msg.retry({ delaySeconds: AHEAD_DELAY_SECONDS });
        return;
      }
    } else if (body.type === 'hint') {
      await applyHint(env, body.connectionId, body.hint);
    } else if (body.type === 'drain') {
      await consumeDrainHint(env, body.connectionId);
    } else if (body.type === 'tag_op') {
      await applyTagOp(env, body.connectionId, body.kind, body.wecomId);
    } else {
      await pushContact(env, body.connectionId, body.contactId, Date.now(), gate);
    }
    msg.ack();
  } catch (e) {
    if (e instanceof WecomRateLimitedError) {
      await sendSync(env, body, Math.ceil(e.retryAfterMs / 1000));
      if (body.type === 'step') {
        await env.DB.prepare('UPDATE wecom_sync_runs SET rate_limit_waits = rate_limit_waits + 1, updated_at = ? WHERE id = ?')
          .bind(Date.now(), body.runId)
          .run();
      }
      msg.ack();
      return;
    }
    console.error(`wecom-sync: ${describe(body)} failed (attempt ${msg.attempts})`, e);
    if (body.type === 'step') await keepError(env.DB, body.runId, e).catch(() => undefined);
    if (body.type === 'push') await keepPushError(env.DB, body.connectionId, body.contactId, 'queued', e).catch(() => undefined);
    if (body.type === 'tag_op') await keepTagOpError(env.DB, body.connectionId, body.kind, body.wecomId, e).catch(() => undefined);
    msg.retry({ delaySeconds: retryDelaySeconds(msg.attempts) });
  }
}

export async function consumeWecomSyncDead(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  for (const msg of batch.messages) {
    const body = msg.body;
    if (isSyncMessage(body)) {
      if (body.type === 'step') await failRun(env.DB, body.runId, body.step, Date.now());
      else if (body.type === 'push') await markLog(env.DB, body.connectionId, body.contactId, { status: 'dead' });
      else if (body.type === 'tag_op') await failTagOp(env.DB, body.connectionId, body.kind, body.wecomId);
      else if (body.type === 'drain')
        console.error(`wecom-sync: a push hint of connection ${body.connectionId} failed every attempt (the cron drains)`);
      else console.error(`wecom-sync: hint ${body.hint.id} of connection ${body.connectionId} failed every attempt`);
    }
    msg.ack();
  }
}

function describe(m: WecomSyncMessage): string {
  if (m.type === 'push') return `push of contact ${m.contactId} to connection ${m.connectionId}`;
  if (m.type === 'drain') return `push hint of connection ${m.connectionId}`;
  if (m.type === 'tag_op') return `${m.kind} ${m.wecomId} of connection ${m.connectionId} renamed or deleted`;
  return m.type === 'step' ? `run ${m.runId} page ${m.step}` : `hint ${m.hint.id}`;
}

async function keepError(db: D1Database, runId: number, e: unknown): Promise<void> {
  const run = await readRun(db, runId);
  if (!run) return;
  const errcode = e instanceof WecomApiError ? e.errcode : null;
  const errmsg = e instanceof WecomApiError ? e.errmsg : e instanceof Error ? e.message.slice(0, 300) : String(e).slice(0, 300);
  await recordRunError(db, run, {
    at: Date.now(),
    phase: run.phase as WecomSyncPhase | 'done',
    errcode,
    errmsg,
    words: errcodeWords(errcode, errmsg),
  });
}

/** A failed push attempt's errcode and message on its log row, for the sync screen (the row goes `dead` after the last). */
async function keepPushError(db: D1Database, connectionId: number, contactId: number, status: 'queued', e: unknown): Promise<void> {
  const errcode = e instanceof WecomApiError ? e.errcode : null;
  const errmsg = e instanceof WecomApiError ? e.errmsg : e instanceof Error ? e.message.slice(0, 300) : String(e).slice(0, 300);
  await markLog(db, connectionId, contactId, { status, errcode, errmsg });
}
