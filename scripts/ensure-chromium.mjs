// Browser tests drive Debian's Chromium (never a downloaded browser). Installs it when missing.
import { existsSync } from 'node:fs';
import { execSync } from 'node:child_process';

const CHROMIUM = '/usr/bin/chromium';
if (existsSync(CHROMIUM)) {
  process.exit(0);
}
console.log(`${CHROMIUM} not found: installing Debian's chromium package…`);
const sudo = process.getuid?.() === 0 ? '' : 'sudo ';
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
try {
  execSync(`${sudo}apt-get install -y --no-install-recommends chromium`, { stdio: 'inherit', env });
} catch {
  // a fresh machine may have no package lists yet
  execSync(`${sudo}apt-get update && ${sudo}apt-get install -y --no-install-recommends chromium`, { stdio: 'inherit', env });
}
if (!existsSync(CHROMIUM)) {
  console.error(`Chromium is still missing at ${CHROMIUM}; browser tests cannot run.`);
  process.exit(1);
}
