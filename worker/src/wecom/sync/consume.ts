/**
 * The `segflow-wecom-sync` queue's consumer: backfill pages, callback hints and pushes (mark_tag
 * per relation of one contact, wecom/push/push.ts), one message at a time (the queue runs one invocation at a time: WeCom's limits are per corp).
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
import { markLog, pushContact } from '../push/push';
import { applyHint } from './hints';
import { isSyncMessage, sendSync, type WecomSyncMessage } from './message';
import { failRun, readRun, recordRunError } from './runs';
import { runStep } from './step';

/** Seconds before retry n (1-based) of a failed page: 2, 4, 8, 16, 32. */
export const retryDelaySeconds = (attempts: number) => Math.min(300, 2 ** Math.max(1, attempts));
/** A page that came before its run reached it waits this long. */
const AHEAD_DELAY_SECONDS = 1;

export async function consumeWecomSync(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  for (const msg of batch.messages) {
    const body = msg.body;
    if (!isSyncMessage(body)) {
      console.error('wecom-sync: an unreadable message was dropped', JSON.stringify(body).slice(0, 200));
      msg.ack();
      continue;
    }
    try {
      if (body.type === 'step') {
        const outcome = await runStep(env, body.runId, body.step);
        if (outcome === 'ahead') {
          msg.retry({ delaySeconds: AHEAD_DELAY_SECONDS });
          continue;
        }
      } else if (body.type === 'hint') {
        await applyHint(env, body.connectionId, body.hint);
      } else {
        await pushContact(env, body.connectionId, body.contactId);
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
        continue;
      }
      console.error(`wecom-sync: ${describe(body)} failed (attempt ${msg.attempts})`, e);
      if (body.type === 'step') await keepError(env.DB, body.runId, e).catch(() => undefined);
      if (body.type === 'push') await keepPushError(env.DB, body.connectionId, body.contactId, 'queued', e).catch(() => undefined);
      msg.retry({ delaySeconds: retryDelaySeconds(msg.attempts) });
    }
  }
}

export async function consumeWecomSyncDead(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  for (const msg of batch.messages) {
    const body = msg.body;
    if (isSyncMessage(body)) {
      if (body.type === 'step') await failRun(env.DB, body.runId, body.step, Date.now());
      else if (body.type === 'push') await markLog(env.DB, body.connectionId, body.contactId, { status: 'dead' });
      else console.error(`wecom-sync: hint ${body.hint.id} of connection ${body.connectionId} failed every attempt`);
    }
    msg.ack();
  }
}

function describe(m: WecomSyncMessage): string {
  if (m.type === 'push') return `push of contact ${m.contactId} to connection ${m.connectionId}`;
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
