/**
 * HMAC-SHA256 webhook signatures (scheme in `shared/src/api/webhooks.ts`): the key is imported
 * once per isolate and secret, and `crypto.subtle.verify` compares in constant time.
 */
import { SIGNATURE_HEADER, SIGNATURE_WINDOW_SECONDS, TIMESTAMP_HEADER } from '@shared/api/webhooks';
import { ApiError } from '../errors';

const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
    if (keys.size > 1000) keys.clear();
    keys.set(secret, key);
  }
  return key;
}

const HEX = /^[0-9a-f]{64}$/i;

function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

const refuse = (path: string, message: string) => new ApiError(401, 'invalid_signature', message, [{ path, message }]);

/**
 * Checks the signature headers of a request against the source's secret (or, during a
 * rotation's grace period, either of its secrets: the current one first). Throws a 401
 * `invalid_signature` naming the header that is missing, malformed, stale or wrong.
 */
export async function verifySignature(
  headers: Headers,
  body: Uint8Array,
  secrets: string | readonly string[],
  nowMs: number,
): Promise<void> {
  const ts = headers.get(TIMESTAMP_HEADER);
  const sig = headers.get(SIGNATURE_HEADER);
  if (ts === null) throw refuse(TIMESTAMP_HEADER, `missing ${TIMESTAMP_HEADER} header (unix seconds)`);
  if (sig === null)
    throw refuse(SIGNATURE_HEADER, `missing ${SIGNATURE_HEADER} header (sha256=<hex HMAC-SHA256 of timestamp + "." + body>)`);
  if (!/^\d{1,12}$/.test(ts)) throw refuse(TIMESTAMP_HEADER, `${TIMESTAMP_HEADER} must be unix seconds`);
  const skew = Math.abs(nowMs / 1000 - Number(ts));
  if (skew > SIGNATURE_WINDOW_SECONDS) {
    throw refuse(
      TIMESTAMP_HEADER,
      `${TIMESTAMP_HEADER} is ${Math.round(skew)} s away from the server clock; at most ${SIGNATURE_WINDOW_SECONDS} s is accepted`,
    );
  }
  const hex = sig.startsWith('sha256=') ? sig.slice(7) : '';
  if (!HEX.test(hex)) throw refuse(SIGNATURE_HEADER, `${SIGNATURE_HEADER} must be sha256=<64 hex digits>`);
  const signed = concat(encoder.encode(`${ts}.`), body);
  for (const secret of typeof secrets === 'string' ? [secrets] : secrets) {
    if (await crypto.subtle.verify('HMAC', await hmacKey(secret), hexBytes(hex), signed)) return;
  }
  throw refuse(SIGNATURE_HEADER, `${SIGNATURE_HEADER} does not match the body: sign timestamp + "." + raw body with the source's secret`);
}
