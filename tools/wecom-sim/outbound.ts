/**
 * The simulator as the worker tests' remote WeCom: one shared instance in the Node process that
 * runs miniflare's `outboundService`, reached at `http://wecom.test` (see worker/test/fake-receiver.ts).
 * miniflare hands its own (undici) Request and wants its own Response back; the simulator speaks
 * the standard ones, so this converts both ways.
 */
import { Response as MiniflareResponse, type Request as MiniflareRequest } from 'miniflare';
import { createWecomSim } from './app';

export const WECOM_TEST_HOST = 'wecom.test';

/** The one simulator every worker test file talks to (each test seeds its own corp id, or resets). */
export const sharedWecomSim = createWecomSim();

export async function wecomSimOutbound(request: MiniflareRequest): Promise<MiniflareResponse> {
  const method = request.method.toUpperCase();
  const body = method === 'GET' || method === 'HEAD' ? undefined : await request.arrayBuffer();
  const standard = new Request(request.url, { method, headers: [...request.headers], body });
  const res = await sharedWecomSim.app.fetch(standard);
  return new MiniflareResponse(res.status === 204 ? null : await res.arrayBuffer(), { status: res.status, headers: [...res.headers] });
}
