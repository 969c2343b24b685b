import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { anonApi } from './fixtures';
import { hashPassword } from '@shared/auth/password';
import { FAILURE_WINDOW_MS, FREE_FAILURES, MAX_FAILURES_PER_IP, pairDelayMs } from '../src/auth/throttle';

/**
 * Sign-in throttling slows guessing per (account, address) pair and per address, and never locks
 * an account: its owner, from their own address, gets in while someone hammers it from elsewhere.
 */
const PASSWORD = 'correct-horse-battery';
const db = env.DB;

async function addUser(id: number, email: string) {
  const salt = 'c2FsdHNhbHRzYWx0c2FsdA==';
  await db
    .prepare('INSERT INTO users (id, email, name, role, password_hash, password_salt) VALUES (?, ?, ?, ?, ?, ?)')
    .bind(id, email, '用户', 'super_admin', await hashPassword(PASSWORD, salt), salt)
    .run();
}

const login = (email: string, password: string, ip: string) =>
  anonApi('/api/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'cf-connecting-ip': ip },
    body: JSON.stringify({ email, password }),
  });

/** Moves a pair's recorded attempts `ms` into the past: waiting, without waiting. */
const age = (email: string, ip: string, ms: number) =>
  db.prepare('UPDATE login_attempts SET at = at - ? WHERE email = ? AND ip = ?').bind(ms, email, ip).run();

beforeAll(async () => {
  await addUser(11, 'owner@segflow.test');
  await addUser(12, 'slow@segflow.test');
  await addUser(13, 'para@segflow.test');
  for (let i = 0; i < 8; i++) await addUser(20 + i, `spray${i}@segflow.test`);
});

describe('sign-in throttling', () => {
  it('the owner signs in from their own address while a stranger hammers the account from elsewhere', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      statuses.push((await login('owner@segflow.test', `guess-${i}-guess`, '198.51.100.200')).status);
      await age('owner@segflow.test', '198.51.100.200', FAILURE_WINDOW_MS / 20); // the attacker waits out each delay
    }
    expect(statuses.filter((s) => s === 401).length).toBeGreaterThan(5);
    const owner = await login('owner@segflow.test', PASSWORD, '203.0.113.200');
    expect(owner.status).toBe(200);
    // and the owner's own typos are slowed on their pair only, not the stranger's
    expect((await login('owner@segflow.test', 'typo-typo-typo', '203.0.113.200')).status).toBe(401);
  });

  it('a pair is slowed, not locked: after the free tries each try waits a doubling delay (Retry-After), then the right password works', async () => {
    const ip = '198.51.100.201';
    for (let i = 0; i < FREE_FAILURES; i++) expect((await login('slow@segflow.test', 'wrong-password', ip)).status).toBe(401);
    const wait1 = await login('slow@segflow.test', PASSWORD, ip);
    expect(wait1.status).toBe(429);
    expect(wait1.body.error.code).toBe('rate_limited');
    expect(Number(wait1.headers.get('retry-after'))).toBe(pairDelayMs(FREE_FAILURES) / 1000);
    // a refused try is not a guess: hammering during the wait does not lengthen it
    for (let i = 0; i < 5; i++) expect((await login('slow@segflow.test', 'wrong-password', ip)).status).toBe(429);
    expect(
      await db
        .prepare('SELECT count(*) AS n FROM login_attempts WHERE email = ? AND ip = ?')
        .bind('slow@segflow.test', ip)
        .first<number>('n'),
    ).toBe(FREE_FAILURES);
    await age('slow@segflow.test', ip, pairDelayMs(FREE_FAILURES));
    expect((await login('slow@segflow.test', 'wrong-again', ip)).status).toBe(401);
    const wait2 = await login('slow@segflow.test', PASSWORD, ip);
    expect(wait2.status).toBe(429);
    expect(Number(wait2.headers.get('retry-after'))).toBe(2 * (pairDelayMs(FREE_FAILURES) / 1000));
    await age('slow@segflow.test', ip, pairDelayMs(FREE_FAILURES + 1));
    expect((await login('slow@segflow.test', PASSWORD, ip)).status).toBe(200);
    // success forgives the pair's failures
    expect(
      await db
        .prepare('SELECT count(*) AS n FROM login_attempts WHERE email = ? AND ip = ? AND ok = 0')
        .bind('slow@segflow.test', ip)
        .first<number>('n'),
    ).toBe(0);
  });

  it('the delay doubles and stops at 15 minutes', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map(pairDelayMs)).toEqual([0, 0, 0, 1000, 2000, 4000, 8000]);
    expect(pairDelayMs(40)).toBe(FAILURE_WINDOW_MS);
  });

  it('parallel guesses from one pair cannot slip under the limit together', async () => {
    const ip = '198.51.100.202';
    const res = await Promise.all(Array.from({ length: 10 }, (_, i) => login('para@segflow.test', `parallel-${i}-x`, ip)));
    const statuses = res.map((r) => r.status);
    expect(statuses.filter((s) => s === 401).length).toBe(FREE_FAILURES);
    expect(statuses.filter((s) => s === 429).length).toBe(10 - FREE_FAILURES);
  });

  it('keeps the per-address limit: an address that failed 30 times over many accounts is refused for any account; other addresses are not', async () => {
    const ip = '198.51.100.203';
    let n = 0;
    for (let round = 0; n < MAX_FAILURES_PER_IP; round++) {
      for (let i = 0; i < 8 && n < MAX_FAILURES_PER_IP; i++, n++)
        expect((await login(`spray${i}@segflow.test`, `wrong-${round}-pw`, ip)).status).toBe(401);
      await db.prepare('UPDATE login_attempts SET at = at - 20000 WHERE ip = ?').bind(ip).run(); // past every pair's delay, within the window
    }
    const spent = await login('spray0@segflow.test', PASSWORD, ip);
    expect(spent.status).toBe(429);
    expect(spent.body.error.message).toContain('from this address');
    expect(Number(spent.headers.get('retry-after'))).toBeGreaterThan(60);
    expect((await login('spray0@segflow.test', PASSWORD, '198.51.100.204')).status).toBe(200);
  });
});
