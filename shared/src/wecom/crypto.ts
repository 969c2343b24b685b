/**
 * WeCom (企业微信) callback crypto, per its documented recipe:
 * - msg_signature = SHA1 of the sorted, concatenated [token, timestamp, nonce, ciphertext];
 * - key = Base64-decode(EncodingAESKey + "=") (32 bytes), IV = the key's first 16 bytes,
 *   AES-256-CBC, PKCS#7 padding to a multiple of **32** bytes;
 * - plaintext = random(16) ‖ message length (4 bytes, big-endian) ‖ message ‖ receiveid.
 *
 * WebCrypto's AES-CBC only knows 16-byte PKCS#7, so both directions work around it: encrypt
 * pads to 32 itself and drops the extra block WebCrypto appends; decrypt appends one block
 * that decrypts to a clean 16-byte padding, so WebCrypto strips only that and hands back the
 * WeCom padding, which is then checked and removed here.
 */
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Thrown for anything wrong with a callback's crypto: the route turns it into a 4xx. */
export class WecomCryptoError extends Error {}

export function base64ToBytes(b64: string): Uint8Array<ArrayBuffer> {
  let bin: string;
  try {
    bin = atob(b64);
  } catch {
    throw new WecomCryptoError('not valid base64');
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function bytesToBase64(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/** SHA1 hex of the sorted, concatenated parts. */
export async function wecomSignature(token: string, timestamp: string, nonce: string, encrypted: string): Promise<string> {
  const joined = [token, timestamp, nonce, encrypted].sort().join('');
  const digest = await crypto.subtle.digest('SHA-1', encoder.encode(joined));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Compares two strings without an early exit (signatures are public-length hex). */
export function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

interface AesKey {
  key: Awaited<ReturnType<typeof crypto.subtle.importKey>>;
  iv: Uint8Array<ArrayBuffer>;
}
const keys = new Map<string, Promise<AesKey>>();

/** The AES key and IV of an EncodingAESKey (43 characters), imported once per isolate. */
export function aesKey(encodingAesKey: string): Promise<AesKey> {
  let k = keys.get(encodingAesKey);
  if (!k) {
    k = (async () => {
      if (!/^[A-Za-z0-9+/]{43}$/.test(encodingAesKey)) throw new WecomCryptoError('EncodingAESKey must be 43 base64 characters');
      const raw = base64ToBytes(`${encodingAesKey}=`);
      if (raw.length !== 32) throw new WecomCryptoError('EncodingAESKey must decode to 32 bytes');
      const key = await crypto.subtle.importKey('raw', raw, { name: 'AES-CBC' }, false, ['encrypt', 'decrypt']);
      return { key, iv: raw.slice(0, 16) };
    })();
    if (keys.size > 100) keys.clear();
    keys.set(encodingAesKey, k);
  }
  return k;
}

/** Decrypts a callback ciphertext; returns the message and the receiveid it was addressed to. */
export async function wecomDecrypt(encodingAesKey: string, encrypted: string): Promise<{ message: string; receiveId: string }> {
  const { key, iv } = await aesKey(encodingAesKey);
  const ct = base64ToBytes(encrypted);
  if (ct.length === 0 || ct.length % 32 !== 0) throw new WecomCryptoError('ciphertext length is not a multiple of 32 bytes');
  // One extra block C' = E(0x10×16 ⊕ C_last): it decrypts to a full 16-byte padding block.
  const last = ct.slice(ct.length - 16);
  const pad16 = new Uint8Array(16).fill(16);
  const extra = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-CBC', iv: last }, key, pad16)).slice(0, 16);
  const padded = new Uint8Array(ct.length + 16);
  padded.set(ct, 0);
  padded.set(extra, ct.length);
  let plain: Uint8Array;
  try {
    plain = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-CBC', iv }, key, padded));
  } catch {
    throw new WecomCryptoError('ciphertext does not decrypt with this EncodingAESKey');
  }
  const pad = plain[plain.length - 1] as number;
  if (pad < 1 || pad > 32 || pad > plain.length) throw new WecomCryptoError('bad padding: wrong EncodingAESKey?');
  for (let i = plain.length - pad; i < plain.length; i++)
    if (plain[i] !== pad) throw new WecomCryptoError('bad padding: wrong EncodingAESKey?');
  const body = plain.subarray(0, plain.length - pad);
  if (body.length < 20) throw new WecomCryptoError('plaintext too short');
  const len = new DataView(body.buffer, body.byteOffset + 16, 4).getUint32(0, false);
  if (20 + len > body.length) throw new WecomCryptoError('message length exceeds the plaintext');
  try {
    return { message: decoder.decode(body.subarray(20, 20 + len)), receiveId: decoder.decode(body.subarray(20 + len)) };
  } catch {
    throw new WecomCryptoError('plaintext is not UTF-8: wrong EncodingAESKey?');
  }
}

/** Encrypts a message the way WeCom does (tests, and replies that need encryption). */
export async function wecomEncrypt(encodingAesKey: string, message: string, receiveId: string, random16?: Uint8Array): Promise<string> {
  const { key, iv } = await aesKey(encodingAesKey);
  const msg = encoder.encode(message);
  const rid = encoder.encode(receiveId);
  const len = 16 + 4 + msg.length + rid.length;
  const pad = 32 - (len % 32);
  const plain = new Uint8Array(len + pad);
  plain.set(random16 ?? crypto.getRandomValues(new Uint8Array(16)), 0);
  new DataView(plain.buffer).setUint32(16, msg.length, false);
  plain.set(msg, 20);
  plain.set(rid, 20 + msg.length);
  plain.fill(pad, len);
  // WebCrypto appends its own 16-byte padding block: drop it (CBC leaves the others unchanged).
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-CBC', iv }, key, plain));
  return bytesToBase64(ct.subarray(0, plain.length));
}
