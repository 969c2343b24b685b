/**
 * Password hashing: PBKDF2-SHA256 through WebCrypto, a random 16-byte salt per user. The same
 * code runs in the worker (sign-in), in Node (the seed and the create-admin script) and in tests.
 * 100,000 iterations is the most Workers' WebCrypto accepts.
 */
export const PBKDF2_ITERATIONS = 100_000;

const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const unb64 = (s: string) => Uint8Array.from(atob(s), (ch) => ch.charCodeAt(0));

export function randomSalt(): string {
  return b64(crypto.getRandomValues(new Uint8Array(16)));
}

/** The base64 PBKDF2-SHA256 hash (32 bytes) of `password` with a base64 `salt`. */
export async function hashPassword(password: string, salt: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(password), 'PBKDF2', false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits(
    { name: 'PBKDF2', hash: 'SHA-256', salt: unb64(salt), iterations: PBKDF2_ITERATIONS },
    key,
    256,
  );
  return b64(new Uint8Array(bits));
}

/** Compares in time independent of where the strings differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

export async function verifyPassword(password: string, salt: string, expectedHash: string): Promise<boolean> {
  return constantTimeEqual(await hashPassword(password, salt), expectedHash);
}

/** Passwords we accept for new accounts: long enough to resist the rate-limited guessing we allow. */
export const MIN_PASSWORD_LENGTH = 10;
