/**
 * The work of a WeCom callback before it is answered (worker/src/routes/webhooks.ts): the
 * timestamp window, msg_signature against the source's current or previous Token, decryption
 * and CorpID, reading the envelope and the message, and keeping an authentic callback we cannot
 * read as a dead letter (answered `success` all the same: WeCom would resend it unchanged).
 */
import { ApiError } from '../errors';
import { sha256Hex } from '../crypto/sha256';
import type { SourceRow } from '../ingest/pipeline';
import { storeDeadLetters } from '../ingest/dead-letters';
import { wecomDecrypt, WecomCryptoError, wecomSignature, timingSafeEqual } from '@shared/wecom/crypto';
import { parseFlatXml, XmlError } from '@shared/wecom/xml';
import { SIGNATURE_WINDOW_SECONDS } from '@shared/api/webhooks';
import { mapWecomCallback, WecomMappingError, type MappedCallback } from './map';
import { callbackKeysOf, type CallbackKeys } from './callback-keys';

/**
 * WeCom signs `timestamp` into msg_signature: a callback (or URL verification) whose timestamp is
 * further than the generic webhook's window from our clock is a replay or a stale copy, refused
 * like a stale generic signature. WeCom retries within seconds (no reply in 5 s, three times), so
 * the window loses nothing it sends; a replay inside the window is a duplicate (composite ids).
 */
export function checkWindow(timestamp: string, now: number): void {
  if (!/^\d{1,12}$/.test(timestamp)) {
    throw new ApiError(401, 'invalid_signature', 'timestamp must be unix seconds', [
      { path: 'timestamp', message: 'must be unix seconds' },
    ]);
  }
  const skew = Math.abs(now / 1000 - Number(timestamp));
  if (skew > SIGNATURE_WINDOW_SECONDS) {
    const message = `is ${Math.round(skew)} s away from the server clock; at most ${SIGNATURE_WINDOW_SECONDS} s is accepted`;
    throw new ApiError(401, 'invalid_signature', `timestamp ${message} (a replayed or delayed callback)`, [{ path: 'timestamp', message }]);
  }
}

export async function wecomOpen(
  row: SourceRow,
  now: number,
  signature: string,
  timestamp: string,
  nonce: string,
  encrypted: string,
): Promise<string> {
  const candidates = callbackKeysOf(row, now);
  if (!candidates.length) {
    throw new ApiError(400, 'invalid_request', `Event source "${row.id}" has no WeCom Token / EncodingAESKey configured`);
  }
  // The current Token first; during a rotation's grace period, the previous one (./wecom/callback-keys.ts).
  let keys: CallbackKeys | undefined;
  for (const k of candidates) {
    if (timingSafeEqual(await wecomSignature(k.token, timestamp, nonce, encrypted), signature.toLowerCase())) {
      keys = k;
      break;
    }
  }
  if (!keys) {
    throw new ApiError(401, 'invalid_signature', 'msg_signature does not match: SHA1 of sorted token, timestamp, nonce and ciphertext', [
      { path: 'msg_signature', message: 'does not match' },
    ]);
  }
  try {
    const { message, receiveId } = await wecomDecrypt(keys.aesKey, encrypted);
    if (row.wecom_corp_id && receiveId !== row.wecom_corp_id) {
      throw new ApiError(400, 'invalid_request', `The message is addressed to "${receiveId}", not this source's CorpID`, [
        { path: 'Encrypt', message: 'wrong receiveid' },
      ]);
    }
    return message;
  } catch (e) {
    if (e instanceof WecomCryptoError)
      throw new ApiError(400, 'invalid_request', `Cannot decrypt: ${e.message}`, [{ path: 'Encrypt', message: e.message }]);
    throw e;
  }
}

/** The outer envelope (`<xml><ToUserName/><Encrypt/><AgentID/></xml>`), or a 400: nothing is authenticated yet. */
export function envelopeOf(raw: string): string {
  let outer: ReturnType<typeof parseFlatXml>;
  try {
    outer = parseFlatXml(raw);
  } catch (e) {
    if (e instanceof XmlError)
      throw new ApiError(400, 'invalid_request', `The body is not a WeCom callback: ${e.message}`, [{ path: 'body', message: e.message }]);
    throw e;
  }
  const encrypted = outer.Encrypt;
  if (typeof encrypted !== 'string' || encrypted === '') {
    throw new ApiError(400, 'invalid_request', 'The callback has no <Encrypt> element', [{ path: 'Encrypt', message: 'required' }]);
  }
  return encrypted;
}

export type CallbackOutcome = { mapped: MappedCallback } | { unreadable: string; message: string };

/** What an authentic, decrypted callback means; an unreadable one is an outcome too, never a 4xx (see below). */
export function readCallback(message: string): CallbackOutcome {
  try {
    return { mapped: mapWecomCallback(parseFlatXml(message)) };
  } catch (e) {
    if (e instanceof XmlError || e instanceof WecomMappingError) return { unreadable: e.message, message };
    throw e;
  }
}

/**
 * An authentic callback (signature, decryption and CorpID all check out) that we cannot read: a
 * 4xx would make WeCom send the same bytes again, which can never succeed. It is kept sealed as an
 * intake dead letter instead (super admins read them at `GET /api/intake/dead-letters`), once however often WeCom retries it, and answered
 * `success`. Requeuing it changes nothing: it is not an intake message.
 */
export async function keepUnreadable(env: Env, sourceId: string, message: string, why: string, now: number): Promise<void> {
  try {
    await storeDeadLetters(
      env.DB,
      env,
      [
        {
          messageId: `wecom-unreadable:${sourceId}:${await sha256Hex(message)}`,
          body: { sourceId, receivedAt: now, wecomCallback: message.slice(0, 20_000) },
          attempts: 0,
          reason: `WeCom callback could not be read (${why}); answered "success" so WeCom does not retry it, nothing stored`,
        },
      ],
      now,
    );
  } catch (e) {
    console.error(`wecom: source "${sourceId}": an unreadable callback (${why}) could not be kept as a dead letter: ${String(e)}`);
  }
}
