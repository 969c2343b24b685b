/**
 * Signs an outbound delivery in the scheme inbound webhooks use (shared/src/api/webhooks.ts):
 * `X-Segflow-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`, so a receiver
 * verifies our deliveries with the same few lines a sender uses to sign events to us.
 */
import { SIGNATURE_HEADER, TIMESTAMP_HEADER } from '@shared/api/webhooks';

export const DELIVERY_HEADER = 'X-Segflow-Delivery';

const encoder = new TextEncoder();
const hex = (buf: ArrayBuffer) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');

/** The hex HMAC-SHA256 of `timestamp.body` under `secret`. */
export async function signature(secret: string, timestamp: string, body: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return hex(await crypto.subtle.sign('HMAC', key, encoder.encode(`${timestamp}.${body}`)));
}

/** The headers of one attempt: the delivery id (the receiver's dedupe key), the timestamp and the signature. */
export async function signedHeaders(secret: string, deliveryId: string, body: string, nowMs: number): Promise<Record<string, string>> {
  const timestamp = String(Math.floor(nowMs / 1000));
  return {
    'content-type': 'application/json',
    'user-agent': 'Segflow-Delivery/1',
    [DELIVERY_HEADER]: deliveryId,
    [TIMESTAMP_HEADER]: timestamp,
    [SIGNATURE_HEADER]: `sha256=${await signature(secret, timestamp, body)}`,
  };
}
