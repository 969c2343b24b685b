/**
 * Creates a super admin: the one-time step after the first deploy (the local seed creates
 * admin@segflow.demo itself). The password is read from SEGFLOW_ADMIN_PASSWORD or asked for
 * on the terminal, hashed here (PBKDF2, the worker's parameters, a fresh salt), and only the
 * hash reaches D1, through `wrangler d1 execute`.
 *
 *   npm run admin:create -- --email ops@example.com --name 运营负责人 [--remote | --local]
 */
import { execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { hashPassword, MIN_PASSWORD_LENGTH, randomSalt } from '@shared/auth/password';
import { sqlLiteral } from '@shared/demo/sql';

const { values } = parseArgs({
  options: {
    email: { type: 'string' },
    name: { type: 'string' },
    remote: { type: 'boolean', default: false },
    local: { type: 'boolean', default: false },
  },
});
const email = values.email?.trim().toLowerCase();
if (!email || !/^[^@\s]+@[^@\s]+$/.test(email) || !values.name?.trim() || values.remote === values.local) {
  console.error('usage: npm run admin:create -- --email ops@example.com --name 运营负责人 (--remote | --local)');
  process.exit(2);
}

async function readPassword(): Promise<string> {
  if (process.env.SEGFLOW_ADMIN_PASSWORD) return process.env.SEGFLOW_ADMIN_PASSWORD;
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  const answer = await rl.question(`password for ${email} (at least ${MIN_PASSWORD_LENGTH} characters): `);
  rl.close();
  return answer;
}

const password = await readPassword();
if (password.length < MIN_PASSWORD_LENGTH) {
  console.error(`the password must have at least ${MIN_PASSWORD_LENGTH} characters`);
  process.exit(2);
}
const salt = randomSalt();
const hash = await hashPassword(password, salt);
// email and name are quoted as SQL literals; salt and hash are base64
const sql = `INSERT INTO users (email, name, role, department_id, password_hash, password_salt, created_at)
  VALUES (${sqlLiteral(email)}, ${sqlLiteral(values.name.trim())}, 'super_admin', NULL, '${hash}', '${salt}', ${Date.now()})
  ON CONFLICT (email) DO UPDATE SET role = 'super_admin', password_hash = excluded.password_hash, password_salt = excluded.password_salt, disabled = 0`;
execFileSync('node_modules/.bin/wrangler', ['d1', 'execute', 'DB', values.remote ? '--remote' : '--local', '--command', sql], {
  stdio: 'inherit',
  env: { ...process.env, WRANGLER_SEND_METRICS: 'false', WRANGLER_HIDE_BANNER: 'true', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
});
console.log(`${email} is a super admin; sign in at /login`);
