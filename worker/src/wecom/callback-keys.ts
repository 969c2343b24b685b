/**
 * The Token / EncodingAESKey pairs a WeCom source's callbacks may be signed and encrypted with.
 *
 * Rotating them is two steps an admin cannot do at once: enter the new pair here, then save it in
 * WeCom's console (which verifies the URL with the new pair at that moment). In between WeCom still
 * signs with the old pair, so a rotation keeps the previous pair for `SECRET_GRACE_MS`, like a
 * generic source's previous secret. It is kept in the same columns as that secret
 * (`previous_secret` / `previous_secret_expires_at`), which a WeCom source does not otherwise use,
 * as `token:aesKey` (both are letters and digits only, so ":" cannot be part of either).
 */
import type { SourceRow } from '../ingest/pipeline';

export interface CallbackKeys {
  token: string;
  aesKey: string;
}

/** The value stored in `previous_secret` for a WeCom source's previous pair. */
export const packCallbackKeys = (k: CallbackKeys): string => `${k.token}:${k.aesKey}`;

/** The current pair first, then the previous one while its grace period lasts. */
export function callbackKeysOf(
  row: Pick<SourceRow, 'wecom_token' | 'wecom_aes_key' | 'previous_secret' | 'previous_secret_expires_at'>,
  now: number,
): CallbackKeys[] {
  const out: CallbackKeys[] = [];
  if (row.wecom_token && row.wecom_aes_key) out.push({ token: row.wecom_token, aesKey: row.wecom_aes_key });
  if (row.previous_secret && row.previous_secret_expires_at !== null && row.previous_secret_expires_at > now) {
    const [token, aesKey, ...rest] = row.previous_secret.split(':');
    if (token && aesKey && rest.length === 0) out.push({ token, aesKey });
  }
  return out;
}
