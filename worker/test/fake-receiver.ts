/**
 * The remote end of outbound deliveries in the worker tests: a faithful fake of a receiver,
 * running in Node as miniflare's `outboundService` (every `fetch` the worker makes to the
 * outside comes here). It is the external system, not a part of ours; our queue, consumer and
 * D1 stay real.
 *
 * `http://receiver.test/<behaviour>/<key>` where behaviour is
 * - `ok`: 200 (after `?delay=<ms>`);
 * - `fail-once`: 500 for the first request of each delivery id, then 200;
 * - `gone-once`: 410 for the first request of each delivery id, then 200;
 * - `status-<code>`: always `<code>` (a `Retry-After` of `?retryAfter=`);
 * - `slow`: answers after 5 s (past the destination's timeout).
 * `GET http://receiver.test/__log/<key>` answers what `<key>` received: each request's delivery
 * id, timestamp, signature, body and answer, and the most requests it had in flight at once.
 */
// miniflare's own Request / Response (undici's), which its outbound service takes and returns
import { Response, type Request } from 'miniflare';
import { WECOM_TEST_HOST, wecomSimOutbound } from '../../tools/wecom-sim/outbound';

interface Received {
  deliveryId: string | null;
  timestamp: string | null;
  signature: string | null;
  body: string;
  answered: number;
}
interface Log {
  received: Received[];
  inFlight: number;
  maxInFlight: number;
}

const logs = new Map<string, Log>();
const logOf = (key: string) => {
  let l = logs.get(key);
  if (!l) logs.set(key, (l = { received: [], inFlight: 0, maxInFlight: 0 }));
  return l;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function fakeReceiver(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.hostname !== 'receiver.test') return new Response('fake receiver: unknown host', { status: 502 });
  const [behaviour = '', key = ''] = url.pathname.slice(1).split('/');
  if (behaviour === '__log') return Response.json(logOf(key));
  const log = logOf(key);
  log.inFlight++;
  log.maxInFlight = Math.max(log.maxInFlight, log.inFlight);
  try {
    const body = await request.text();
    const deliveryId = request.headers.get('x-segflow-delivery');
    const delay = Number(url.searchParams.get('delay') ?? 0);
    let status = 200;
    const headers: Record<string, string> = {};
    if (behaviour === 'slow') await sleep(5000);
    else if (delay) await sleep(delay);
    const seenBefore = log.received.some((r) => r.deliveryId === deliveryId);
    if (behaviour === 'fail-once') status = seenBefore ? 200 : 500;
    else if (behaviour === 'gone-once') status = seenBefore ? 200 : 410;
    else if (behaviour.startsWith('status-')) status = Number(behaviour.slice(7));
    if (url.searchParams.has('retryAfter')) headers['retry-after'] = url.searchParams.get('retryAfter')!;
    log.received.push({
      deliveryId,
      timestamp: request.headers.get('x-segflow-timestamp'),
      signature: request.headers.get('x-segflow-signature'),
      body,
      answered: status,
    });
    return new Response(status === 204 ? null : 'ok', { status, headers });
  } finally {
    log.inFlight--;
  }
}

/**
 * miniflare's `outboundService`: `http://wecom.test/…` goes to the shared local WeCom simulator
 * (tools/wecom-sim: its `/cgi-bin/` API and its `/__sim/` admin API), everything else to the
 * fake receiver above.
 */
export function outbound(request: Request): Promise<Response> {
  if (new URL(request.url).hostname === WECOM_TEST_HOST) return wecomSimOutbound(request);
  return fakeReceiver(request);
}
