/**
 * Event intake.
 *
 * - `POST /api/webhooks/:sourceId`: the generic webhook. One event, or `{ "events": [...] }`
 *   with up to 500; signed with `X-Segflow-Timestamp` + `X-Segflow-Signature: sha256=<hex>`
 *   (HMAC-SHA256 of `timestamp + "." + rawBody` with the source's secret; scheme in
 *   `shared/src/api/webhooks.ts`). Answers 202 `{ queued: [ids] }` once the events are on the
 *   intake queue, a 4xx naming what is wrong (nothing queued), or 503 when the queue refused them.
 * - `GET /api/webhooks/wecom/:sourceId`: WeCom's URL verification (echostr).
 * - `POST /api/webhooks/wecom/:sourceId`: WeCom callbacks (msg_signature + AES). Every authentic
 *   callback is answered `success` (WeCom retries anything else): its events queued, its sync
 *   hints acknowledged, or ignored (../wecom/map.ts); one we cannot read is kept as a dead letter.
 *   Only a wrong signature, a timestamp outside the window, a failed decryption, another CorpID
 *   or an unknown source are 4xx.
 *
 * Only what must be synchronous happens here: source, signature, timestamp window, validation.
 * The ingest pipeline runs in the intake queue's consumer (worker/src/ingest/consumer.ts).
 *
 * Sources are cached per isolate for a few seconds (../ingest/source-cache.ts) to verify
 * signatures without a D1 read per request. A signature that fails against the cached row is
 * checked once more against a fresh one (a sender already on a rotated secret). A source revoked
 * in another isolate may thus still be answered 202 here for up to that long, but nothing it sent
 * after its revocation is stored: the consumer reads the source again and dead-letters it.
 */
import { Hono, type Context } from 'hono';
import type { z } from 'zod';
import type { AppEnv } from '../app-env';
import { ApiError } from '../errors';
import { SOURCE_SQL, type SourceRow } from '../ingest/pipeline';
import { cachedSource, forgetSource, rememberSource } from '../ingest/source-cache';
import { enqueueEvents, IntakeUnavailable, type IntakeMessage } from '../ingest/intake-queue';
import { verifySignature } from '../ingest/signature';
import { openSourceRow, sealLegacyRow } from '../ingest/source-secrets';
import { checkWindow, envelopeOf, keepUnreadable, readCallback, wecomOpen } from '../wecom/callback';
import { enqueueHints } from '../wecom/sync/message';
import { webhookBatch, webhookEvent, type IngestEvent, type WebhookEvent, type WebhookQueued } from '@shared/api/webhooks';
import type { FieldProblem } from '@shared/api/errors';

const SOURCE_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** On a WeCom callback's `success`: what it was and what became of it (`event/change_external_tag/create; events=0; hints=1`). */
export const WECOM_OUTCOME_HEADER = 'X-Segflow-Wecom';
/** Events may not claim to happen later than this past the server clock. */
const FUTURE_SLACK_MS = 5 * 60_000;

class SourceChanged extends Error {}

async function loadSource(env: Env, id: string, kind: SourceRow['kind'], fresh: boolean): Promise<SourceRow> {
  if (!SOURCE_ID.test(id))
    throw new ApiError(404, 'not_found', `No event source "${id.slice(0, 64)}"`, [{ path: 'sourceId', message: 'no such source' }]);
  let row = fresh ? undefined : cachedSource(id, Date.now());
  if (!row) {
    const stored = await env.DB.prepare(SOURCE_SQL).bind(id).first<SourceRow>();
    if (!stored) {
      forgetSource(id);
      throw new ApiError(404, 'not_found', `No event source "${id}"`, [{ path: 'sourceId', message: 'no such source' }]);
    }
    // the secrets are sealed at rest (../ingest/source-secrets.ts); a row from before that is sealed now
    await sealLegacyRow(env, stored);
    row = await openSourceRow(env, stored);
    rememberSource(row, Date.now());
  }
  if (row.revoked_at !== null)
    throw new ApiError(403, 'forbidden', `Event source "${id}" has been revoked`, [{ path: 'sourceId', message: 'revoked' }]);
  if (row.kind !== kind) {
    const path = row.kind === 'wecom' ? `/api/webhooks/wecom/${id}` : `/api/webhooks/${id}`;
    throw new ApiError(400, 'invalid_request', `Event source "${id}" is a ${row.kind} source: post to ${path}`, [
      { path: 'sourceId', message: `a ${row.kind} source` },
    ]);
  }
  return row;
}

/** The secrets a generic source's signature may use at `now`: the current one, and the previous one during a rotation's grace period. */
function secretsOf(row: SourceRow, now: number): string[] {
  return row.previous_secret && row.previous_secret_expires_at !== null && row.previous_secret_expires_at > now
    ? [row.secret, row.previous_secret]
    : [row.secret];
}

/** Runs a handler with the cached source, and once more with a fresh read if the source changed under it. */
async function withSource<T>(run: (fresh: boolean) => Promise<T>): Promise<T> {
  try {
    return await run(false);
  } catch (e) {
    if (e instanceof SourceChanged) return run(true);
    throw e;
  }
}

function zodProblems(error: z.ZodError, prefix: string): FieldProblem[] {
  return error.issues.map((issue) => {
    const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
    if (issue.code === 'unrecognized_keys') {
      return { path: issue.keys.map((k) => (path ? `${path}.${k}` : k)).join(', '), message: 'unknown field' };
    }
    return { path: path || 'body', message: issue.message };
  });
}

function invalid(details: FieldProblem[]): ApiError {
  const shown = details.slice(0, 20);
  const more = details.length > shown.length ? `; and ${details.length - shown.length} more` : '';
  return new ApiError(400, 'invalid_request', `Invalid body: ${shown.map((d) => `${d.path}: ${d.message}`).join('; ')}${more}`, shown);
}

/** The body as events, or a 400 naming every bad field (`events.3.type: …`). */
export function parseEvents(text: string, now: number): IngestEvent[] {
  if (text.trim() === '') throw new ApiError(400, 'invalid_json', 'The body is empty: send one event or { "events": [...] } as JSON');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new ApiError(400, 'invalid_json', `The body is not valid JSON: ${(e as Error).message}`);
  }
  let list: WebhookEvent[];
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalid([{ path: 'body', message: 'must be an event object or { "events": [...] }' }]);
  }
  if ('events' in body) {
    const r = webhookBatch.safeParse(body);
    if (!r.success) throw invalid(zodProblems(r.error, ''));
    list = r.data.events;
  } else {
    const r = webhookEvent.safeParse(body);
    if (!r.success) throw invalid(zodProblems(r.error, ''));
    list = [r.data];
  }
  const problems: FieldProblem[] = [];
  const events = list.map((e, i) => {
    const at = e.occurredAt ?? now;
    if (at > now + FUTURE_SLACK_MS) {
      problems.push({ path: list.length > 1 || 'events' in body ? `events.${i}.occurredAt` : 'occurredAt', message: 'is in the future' });
    }
    if (e.properties !== undefined && JSON.stringify(e.properties).length > 8_000) {
      problems.push({
        path: 'events' in body ? `events.${i}.properties` : 'properties',
        message: 'must be at most 8000 characters as JSON',
      });
    }
    return { ...e, occurredAt: at };
  });
  if (problems.length) throw invalid(problems);
  return events;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Queues the events, or a 503 naming the problem (the sender retries; nothing it sent is lost or doubled by that). */
async function enqueue(c: Context<AppEnv>, sourceId: string, events: IngestEvent[], receivedAt: number): Promise<void> {
  try {
    await enqueueEvents(c.env.INTAKE as Queue<IntakeMessage>, sourceId, events, receivedAt);
  } catch (e) {
    if (e instanceof IntakeUnavailable) throw new ApiError(503, 'unavailable', `${e.message}; nothing is lost by retrying: send it again`);
    throw e;
  }
}

export const webhooks = new Hono<AppEnv>();

// ---- WeCom ----

function query(c: Context<AppEnv>, name: string): string {
  const v = c.req.query(name);
  if (!v) throw new ApiError(400, 'invalid_request', `Missing query parameter ${name}`, [{ path: name, message: 'required' }]);
  return v;
}

webhooks.get('/wecom/:sourceId', async (c) => {
  const row = await loadSource(c.env, c.req.param('sourceId'), 'wecom', true);
  const now = Date.now();
  const [signature, timestamp, nonce, echostr] = ['msg_signature', 'timestamp', 'nonce', 'echostr'].map((n) => query(c, n)) as [
    string,
    string,
    string,
    string,
  ];
  checkWindow(timestamp, now);
  const message = await wecomOpen(row, now, signature, timestamp, nonce, echostr);
  // WeCom expects the decrypted echostr, as is, within 1 s.
  return c.text(message, 200);
});

webhooks.post('/wecom/:sourceId', async (c) => {
  const id = c.req.param('sourceId');
  const raw = await c.req.text();
  const now = Date.now();
  const outcome = await withSource(async (fresh) => {
    const row = await loadSource(c.env, id, 'wecom', fresh);
    const encrypted = envelopeOf(raw);
    const [signature, timestamp, nonce] = ['msg_signature', 'timestamp', 'nonce'].map((n) => query(c, n)) as [string, string, string];
    checkWindow(timestamp, now);
    let message: string;
    try {
      message = await wecomOpen(row, now, signature, timestamp, nonce, encrypted);
    } catch (e) {
      // The cached row may predate a change of Token / EncodingAESKey: read it again once.
      if (!fresh && e instanceof ApiError) throw new SourceChanged();
      throw e;
    }
    return { ...readCallback(message), connectionId: row.wecom_connection_id ?? null };
  });
  let summary: string;
  if ('unreadable' in outcome) {
    await keepUnreadable(c.env, id, outcome.message, outcome.unreadable, now);
    summary = 'unreadable; kept as a dead letter';
  } else {
    const { mapped } = outcome;
    if (mapped.events.length) await enqueue(c, id, mapped.events, now);
    // Sync hints go to the WeCom sync queue when a connection links this source (wecom/sync/hints.ts); otherwise acknowledged only.
    let synced = 0;
    // the linked connection comes with the cached source row: no D1 read per callback
    if (mapped.hints.length && outcome.connectionId !== null) {
      await enqueueHints(c.env, outcome.connectionId, mapped.hints);
      synced = mapped.hints.length;
    }
    summary = `${mapped.kind}; ${mapped.ignored ? 'ignored' : `events=${mapped.events.length}; hints=${mapped.hints.length}${synced ? ' (queued for sync)' : ''}`}`;
    // What stored nothing leaves one log line (Workers Logs / `wrangler tail`; warn: the level the
    // lint allows), so an operator can see what WeCom sends that no rule uses.
    if (!mapped.events.length && !synced) console.warn(`wecom: source "${id}" ${summary}${mapped.ignored ? ` (${mapped.ignored})` : ''}`);
  }
  // WeCom wants a quick plain "success"; anything else makes it retry. The header is for people reading logs or curl.
  c.header(WECOM_OUTCOME_HEADER, summary);
  return c.text('success', 200);
});

// ---- generic ----

webhooks.post('/:sourceId', async (c) => {
  const id = c.req.param('sourceId');
  const body = new Uint8Array(await c.req.arrayBuffer());
  const now = Date.now();
  const events = await withSource(async (fresh) => {
    const row = await loadSource(c.env, id, 'generic', fresh);
    try {
      await verifySignature(c.req.raw.headers, body, secretsOf(row, now), now);
    } catch (e) {
      // The cached row may predate a rotation (a sender already on the new secret): read it again once.
      if (!fresh && e instanceof ApiError && e.code === 'invalid_signature') {
        throw new SourceChanged();
      }
      throw e;
    }
    let text: string;
    try {
      text = utf8.decode(body);
    } catch {
      throw new ApiError(400, 'invalid_json', 'The body is not UTF-8 text');
    }
    return parseEvents(text, now);
  });
  await enqueue(c, id, events, now);
  const queued: WebhookQueued = { queued: events.map((e) => e.id) };
  return c.json(queued, 202);
});
