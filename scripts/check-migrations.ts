/**
 * Migrations are append-only: a D1 database that already ran `0004_imports.sql` never runs it
 * again, so an edited landed migration silently splits production from every fresh database.
 * This check (part of `npm run lint`, so of `npm test` and CI) refuses:
 *   - a change to a `.sql` migration after the commit that added it,
 *   - a landed migration that was deleted or renamed.
 * A new migration (not yet committed, or added by the newest commits) passes. "Landed" means on
 * main's own line of history (first parents): a migration renumbered on a branch before its merge
 * never landed under its old name. It reads the repository's history, so it needs a full clone
 * (CI's `git clone` is one).
 *
 *   npx tsx scripts/check-migrations.ts [repo-dir]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Edits made before this check existed, accepted as the landed text: file → the commit whose
 * version is the landed one. Nothing may be added here: a fix to a landed migration is a new one.
 */
export const ACCEPTED_EDITS: Readonly<Record<string, string>> = {
  // ID numbers sealed and hashed on import, folded into the imports migration before any deploy
  '0004_imports.sql': '8dfca19',
};

export interface MigrationProblem {
  file: string;
  problem: 'edited' | 'deleted';
  landedIn: string;
}

const git = (dir: string, ...args: string[]) => execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });

/** Every landed migration that no longer reads as it landed, in `dir` (a git work tree). */
export function checkMigrations(dir: string, accepted: Readonly<Record<string, string>> = ACCEPTED_EDITS): MigrationProblem[] {
  if (git(dir, 'rev-parse', '--is-shallow-repository').trim() === 'true') {
    throw new Error('a shallow clone has no history to check migrations against: clone with full history');
  }
  // every .sql ever added under migrations/, with the commit that added it (oldest first)
  const added = new Map<string, string>();
  const log = git(
    dir,
    'log',
    '--first-parent',
    '--diff-merges=first-parent',
    '--reverse',
    '--no-renames',
    '--diff-filter=A',
    '--name-only',
    '--format=commit %H',
    '--',
    'migrations/*.sql',
  );
  let commit = '';
  for (const line of log.split('\n')) {
    if (line.startsWith('commit ')) commit = line.slice(7);
    else if (line.trim() && !added.has(line.trim())) added.set(line.trim(), commit);
  }
  const problems: MigrationProblem[] = [];
  for (const [file, firstCommit] of added) {
    const name = path.basename(file);
    const landedIn = accepted[name] ?? firstCommit;
    const full = path.join(dir, file);
    if (!existsSync(full)) {
      problems.push({ file: name, problem: 'deleted', landedIn });
      continue;
    }
    const landed = git(dir, 'show', `${landedIn}:${file}`);
    if (readFileSync(full, 'utf8') !== landed) problems.push({ file: name, problem: 'edited', landedIn });
  }
  return problems;
}

function main() {
  const dir = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..'));
  const problems = checkMigrations(dir);
  const count = readdirSync(path.join(dir, 'migrations')).filter((f) => f.endsWith('.sql')).length;
  if (problems.length === 0) {
    console.log(`migrations: ${count} files, none of the landed ones changed`);
    return;
  }
  for (const p of problems) {
    console.error(
      p.problem === 'edited'
        ? `migrations/${p.file} differs from the version that landed in ${p.landedIn.slice(0, 7)}: migrations are append-only; put the change in a new migration (npm run db:generate)`
        : `migrations/${p.file} landed in ${p.landedIn.slice(0, 7)} and is gone: a database that ran it keeps it; restore the file`,
    );
  }
  process.exit(1);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
