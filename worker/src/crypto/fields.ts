/**
 * Sensitive contact fields (phone, ID number) are stored sealed: AES-256-GCM ciphertext
 * (base64 of iv | ciphertext+tag) for display to those allowed, and a keyed HMAC-SHA256 hash
 * (hex) for exact search and duplicate detection without decrypting. Both keys derive from
 * the one Worker secret `FIELD_KEY` (HKDF with distinct labels), so rotating it is one secret.
 */
import { ApiError } from '../errors';
import { normalizePhone } from '@shared/import/fields';

export interface FieldKeys {
  enc: CryptoKey;
  mac: CryptoKey;
}

let cached: { secret: string; keys: Promise<FieldKeys> } | null = null;

async function derive(secret: string): Promise<FieldKeys> {
  const base = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), 'HKDF', false, ['deriveKey']);
  const params = (info: string) => ({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: new TextEncoder().encode(info) });
  const [enc, mac] = await Promise.all([
    crypto.subtle.deriveKey(params('segflow field encryption v1'), base, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']),
    crypto.subtle.deriveKey(params('segflow field hash v1'), base, { name: 'HMAC', hash: 'SHA-256', length: 256 }, false, ['sign']),
  ]);
  return { enc, mac };
}

/** The keys from `FIELD_KEY`, derived once per isolate. A missing secret is a configuration error (503). */
export function fieldKeys(env: Env): Promise<FieldKeys> {
  const secret = env.FIELD_KEY;
  if (!secret || secret.length < 16) {
    throw new ApiError(503, 'internal', 'FIELD_KEY is not configured (at least 16 characters): sensitive fields cannot be stored');
  }
  if (cached?.secret !== secret) cached = { secret, keys: derive(secret) };
  return cached.keys;
}

const hex = (buf: ArrayBuffer) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');

/** Keyed hash of a normalized value: equal values give equal hashes, only with the key. */
export async function fieldHash(keys: FieldKeys, value: string): Promise<string> {
  return hex(await crypto.subtle.sign('HMAC', keys.mac, new TextEncoder().encode(value)));
}

function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return btoa(s);
}

/** AES-256-GCM with a fresh 96-bit IV: base64(iv | ciphertext | tag). */
export async function sealField(keys: FieldKeys, value: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, keys.enc, new TextEncoder().encode(value)));
  const out = new Uint8Array(iv.length + ct.length);
  out.set(iv);
  out.set(ct, iv.length);
  return toBase64(out);
}

/** The clear value of {@link sealField}'s output; throws when it was not sealed with this key. */
export async function openField(keys: FieldKeys, sealed: string): Promise<string> {
  const bytes = Uint8Array.from(atob(sealed), (ch) => ch.charCodeAt(0));
  const pt = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: bytes.subarray(0, 12) }, keys.enc, bytes.subarray(12));
  return new TextDecoder().decode(pt);
}

/** 138****1234: the first three and last four characters kept (phones, ID numbers). */
export function maskSensitive(value: string): string {
  return value.length <= 7 ? '*'.repeat(value.length) : `${value.slice(0, 3)}${'*'.repeat(value.length - 7)}${value.slice(-4)}`;
}

/**
 * The keyed hash to find contacts by a phone number typed into a search box (any usual
 * spelling: +86, spaces, dashes), or null when the text is not a phone number or no key is set.
 */
export async function phoneSearchHash(env: Env, text: string): Promise<string | null> {
  const phone = normalizePhone(text);
  if (!phone || !env.FIELD_KEY || env.FIELD_KEY.length < 16) return null;
  return fieldHash(await fieldKeys(env), phone);
}

/** A sealed value for display: clear for those allowed, masked for others, null if none or unreadable. */
export async function revealField(env: Env, sealed: unknown, clear: boolean): Promise<string | null> {
  if (typeof sealed !== 'string' || !sealed || !env.FIELD_KEY) return null;
  try {
    const value = await openField(await fieldKeys(env), sealed);
    return clear ? value : maskSensitive(value);
  } catch {
    // sealed with another key (rotated without re-encryption): shown as stored, not as a 500
    return null;
  }
}

/**
 * Free text (a search, a filter) as it may be stored in an audit entry: every run of 7 or more
 * digits (spaces and dashes between them allowed, an ID number's final X included) masked, so a
 * phone or ID number typed into a search box is never kept in clear.
 */
export function redactNumbers(text: string): string {
  return text.replace(/\+?\d[\d\s-]{5,}[\dXx]/g, (run) => {
    const digits = run.replace(/[\s-]/g, '');
    return digits.replace(/[+]/g, '').length >= 7 ? maskSensitive(digits) : run;
  });
}
