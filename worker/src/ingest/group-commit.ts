/**
 * Group commit for webhook intake: requests of one source that arrive while this isolate is
 * already writing that source's events wait, and the next pipeline run takes all of them
 * together — one read batch and one write batch for many requests instead of two each; under
 * load a group's write batch also carries the next group's reads (`stepLane`).
 *
 * There is no batching delay: a request that finds the source idle runs after one turn of the
 * event loop (requests already received join it), alone if no other came; requests arriving
 * during a run are grouped, so the group grows with the load and D1 sees fewer, larger
 * transactions exactly when it is busiest. Measured in bench/ingest.ts (single-event webhooks
 * against `wrangler dev`).
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
import type { IngestEvent, WebhookResponse } from '@shared/api/webhooks';
import { IngestPass, isRace, MAX_ATTEMPTS, type IngestOptions } from './pipeline';

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

/** A group whose read batch has run (with the previous group's writes), ready to be planned and written. */
interface Ready {
  group: Waiting[];
  pass: IngestPass;
  reads: D1Result[];
  attempt: number;
}

interface Lane {
  waiting: Waiting[];
  ready: Ready | null;
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
 * Any request still pending in the lane may drive its next step; one that another request is
 * writing waits on a timer of its own and reads the outcome the step left on its entry: the
 * runtime cancels a request whose only wait is a promise another request settles, and refuses
 * cross-request promise settlement outright in places.
 */
export async function ingestGrouped(
  db: D1Database,
  lane: object,
  events: IngestEvent[],
  options: GroupOptions,
  keepAlive: KeepAlive,
): Promise<WebhookResponse> {
  const l: Lane = lanes.get(lane) ?? { waiting: [], ready: null, busy: false };
  lanes.set(lane, l);
  const me: Waiting = { events };
  l.waiting.push(me);
  while (!me.outcome) {
    const pending = l.waiting.includes(me) || (l.ready?.group.includes(me) ?? false);
    if (l.busy || !pending) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      continue;
    }
    l.busy = true;
    // A fresh group (nothing read for it yet) waits one turn of the event loop first, so requests
    // the isolate has already received join it: under load, 20% fewer D1 batches per request
    // (bench/ingest.ts, single events); a lone sender waits ~nothing. The turn, the step and the
    // lane's release are one promise kept alive together: a sender hanging up at any point of it
    // cannot leave the lane busy.
    const turn = l.ready ? Promise.resolve() : new Promise((r) => setTimeout(r, 0));
    const step = turn
      .then(() => stepLane(db, l, options))
      .finally(() => {
        l.busy = false;
        if (!l.ready && l.waiting.length === 0 && lanes.get(lane) === l) lanes.delete(lane);
      });
    keepAlive(step);
    await step;
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

function passFor(db: D1Database, group: Waiting[], options: GroupOptions): IngestPass {
  return new IngestPass(
    db,
    group.flatMap((w) => w.events),
    { ...options, now: Date.now(), batchId: crypto.randomUUID() },
  );
}

function fail(group: Waiting[], error: unknown): void {
  for (const w of group) w.outcome = { ok: false, error };
}

/** Each request of the group gets its own slice of the results. */
function succeed(group: Waiting[], res: WebhookResponse): void {
  let at = 0;
  for (const w of group) {
    const results = res.results.slice(at, at + w.events.length);
    at += w.events.length;
    const accepted = results.filter((r) => r.status === 'accepted').length;
    w.outcome = { ok: true, value: { received: w.events.length, accepted, duplicates: results.length - accepted, results } };
  }
}

/**
 * One step: the ready group (or, if none, the oldest waiting ones, read first) is planned and
 * written, and the next waiting group's read batch rides in the same D1 batch after the writes
 * — it sees them, and under load each group costs one round trip instead of two. A failed
 * write puts the next group back in line; a race (see pipeline.ts) reads again and retries.
 */
async function stepLane(db: D1Database, lane: Lane, options: GroupOptions): Promise<void> {
  let cur = lane.ready;
  lane.ready = null;
  if (!cur) {
    const group = take(lane.waiting);
    const pass = passFor(db, group, options);
    try {
      cur = { group, pass, reads: await db.batch(pass.reads()), attempt: 1 };
    } catch (e) {
      fail(group, e);
      return;
    }
  }
  let writes: D1PreparedStatement[];
  try {
    writes = await cur.pass.writes(cur.reads);
  } catch (e) {
    fail(cur.group, e);
    return;
  }
  const nextGroup = lane.waiting.length ? take(lane.waiting) : null;
  const nextPass = nextGroup ? passFor(db, nextGroup, options) : null;
  const nextReads = nextPass ? nextPass.reads() : [];
  let out: D1Result[] = [];
  try {
    if (writes.length + nextReads.length) out = await db.batch([...writes, ...nextReads]);
  } catch (e) {
    if (nextGroup) lane.waiting.unshift(...nextGroup);
    if (isRace(e) && cur.attempt < MAX_ATTEMPTS) {
      try {
        lane.ready = { ...cur, reads: await db.batch(cur.pass.reads()), attempt: cur.attempt + 1 };
      } catch (again) {
        fail(cur.group, again);
      }
      return;
    }
    fail(cur.group, e);
    return;
  }
  succeed(cur.group, cur.pass.response());
  await cur.pass.afterCommit();
  if (nextGroup && nextPass) lane.ready = { group: nextGroup, pass: nextPass, reads: out.slice(writes.length), attempt: 1 };
}
