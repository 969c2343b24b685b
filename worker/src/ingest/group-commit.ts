/**
 * Group commit for webhook intake: requests of one source that arrive while this isolate is
 * already writing that source's events wait, and the next pipeline run takes all of them
 * together — one read batch and one write batch for many requests instead of two each.
 *
 * There is no batching delay: a request that finds the source idle runs at once, alone (a lone
 * sender pays nothing); only requests arriving during a run are grouped, so the group grows with the
 * load and D1 sees fewer, larger transactions exactly when it is busiest. Measured in
 * bench/ingest.ts (single-event webhooks against `wrangler dev`).
 *
 * What stays per request: validation, signature, the 4xx for bad input (all before a request
 * joins a group), and its own results (`accepted` / `duplicate` per event, tag changes). What a
 * group shares: one transaction — if it fails, every request in it gets the error, and nothing
 * of any of them is stored (senders retry; dedupe makes the retry safe) — and one `batchId` on
 * the ledger rows it writes. An event id sent twice in one group is stored once: the later copy
 * reads `duplicate`, as it would have in two separate requests.
 *
 * Each run happens in the request context of one of the waiting requests (the first to find the
 * lane idle), kept alive with `waitUntil` so a sender hanging up does not cancel the others'
 * write. Within an isolate a source's events are thus written in arrival order, each run seeing
 * every earlier run's effects.
 */
import type { IngestEvent, WebhookResponse } from '../../../shared/src/api/webhooks';
import { ingest, type IngestOptions } from './pipeline';

/** At most this many events per run (the webhook's own batch limit); a bigger request runs alone. */
export const MAX_GROUP_EVENTS = 500;
/** How often a request waiting on another's run looks again (its own timer; see `ingestGrouped`). */
const POLL_MS = 2;

/** What a run needs besides the events: the options of its first request, with the run's own clock and batch id. */
export type GroupOptions = Omit<IngestOptions, 'now' | 'batchId'>;

/** One request in a lane. Only plain data crosses requests: the runtime forbids settling another request's promises. */
interface Waiting {
  events: IngestEvent[];
  outcome?: { ok: true; value: WebhookResponse } | { ok: false; error: unknown };
}

interface Lane {
  waiting: Waiting[];
  busy: boolean;
}

const lanes = new Map<object, Lane>();

/** Keeps a promise running after the response (no-op where there is no execution context, e.g. direct calls in tests). */
export type KeepAlive = (p: Promise<unknown>) => void;

/**
 * Ingests `events` together with whatever other requests of the same `lane` are waiting.
 * `lane` stands for everything the group shares besides the events: the webhook routes pass the
 * source row the signature was checked against (a rotated or re-read source is a new object,
 * so requests verified against different rows never share a run).
 *
 * A request whose events another request is writing waits on a timer of its own and reads the
 * outcome the run left on its entry: the runtime cancels a request whose only wait is a promise
 * another request settles, and refuses cross-request promise settlement outright in places.
 */
export async function ingestGrouped(db: D1Database, lane: object, events: IngestEvent[], options: GroupOptions, keepAlive: KeepAlive): Promise<WebhookResponse> {
  let l = lanes.get(lane);
  if (!l) {
    l = { waiting: [], busy: false };
    lanes.set(lane, l);
  }
  const me: Waiting = { events };
  l.waiting.push(me);
  while (!me.outcome) {
    if (l.busy || !l.waiting.includes(me)) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      continue;
    }
    l.busy = true;
    const run = runGroup(db, take(l.waiting), options);
    keepAlive(run);
    try {
      await run;
    } finally {
      l.busy = false;
      if (l.waiting.length === 0 && lanes.get(lane) === l) lanes.delete(lane);
    }
  }
  if (!me.outcome.ok) throw me.outcome.error;
  return me.outcome.value;
}

/** The oldest waiting requests, up to MAX_GROUP_EVENTS events (at least one request). */
function take(waiting: Waiting[]): Waiting[] {
  let n = 0;
  let events = 0;
  while (n < waiting.length && (n === 0 || events + (waiting[n] as Waiting).events.length <= MAX_GROUP_EVENTS)) {
    events += (waiting[n] as Waiting).events.length;
    n++;
  }
  return waiting.splice(0, n);
}

/** Runs one group through the pipeline and leaves each request its own results (or the shared error). */
async function runGroup(db: D1Database, group: Waiting[], options: GroupOptions): Promise<void> {
  try {
    const res = await ingest(db, group.flatMap((w) => w.events), { ...options, now: Date.now(), batchId: crypto.randomUUID() });
    let at = 0;
    for (const w of group) {
      const results = res.results.slice(at, at + w.events.length);
      at += w.events.length;
      const accepted = results.filter((r) => r.status === 'accepted').length;
      w.outcome = { ok: true, value: { received: w.events.length, accepted, duplicates: results.length - accepted, results } };
    }
  } catch (error) {
    for (const w of group) w.outcome = { ok: false, error };
  }
}
