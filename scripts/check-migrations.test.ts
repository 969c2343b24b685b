import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkMigrations } from './check-migrations';

let dir: string;
const git = (...args: string[]) =>
  execFileSync('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@example.invalid', ...args], { encoding: 'utf8' });
const write = (name: string, sql: string) => writeFileSync(path.join(dir, 'migrations', name), sql);
const commit = (msg: string) => {
  git('add', '-A');
  git('commit', '-q', '-m', msg);
  return git('rev-parse', 'HEAD').trim();
};

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'segflow-migrations-'));
  mkdirSync(path.join(dir, 'migrations'));
  git('init', '-q');
  write('0000_init.sql', 'CREATE TABLE a (id integer);\n');
  commit('init');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('landed migrations are append-only', () => {
  it('passes an untouched history and a new migration, committed or not', () => {
    expect(checkMigrations(dir, {})).toEqual([]);
    write('0001_b.sql', 'CREATE TABLE b (id integer);\n');
    expect(checkMigrations(dir, {})).toEqual([]);
    commit('b');
    expect(checkMigrations(dir, {})).toEqual([]);
  });

  it('refuses a landed migration edited in the work tree, and once that edit is committed', () => {
    const first = git('rev-parse', 'HEAD').trim();
    appendFileSync(path.join(dir, 'migrations', '0000_init.sql'), 'ALTER TABLE a ADD b integer;\n');
    expect(checkMigrations(dir, {})).toEqual([{ file: '0000_init.sql', problem: 'edited', landedIn: first }]);
    commit('edit a landed migration');
    expect(checkMigrations(dir, {})).toEqual([{ file: '0000_init.sql', problem: 'edited', landedIn: first }]);
  });

  it('refuses a landed migration deleted or renamed', () => {
    const first = git('rev-parse', 'HEAD').trim();
    git('mv', 'migrations/0000_init.sql', 'migrations/0000_renamed.sql');
    commit('rename');
    expect(checkMigrations(dir, {})).toEqual([{ file: '0000_init.sql', problem: 'deleted', landedIn: first }]);
  });

  it('takes an edit listed as accepted as the landed text, and refuses any change after it', () => {
    appendFileSync(path.join(dir, 'migrations', '0000_init.sql'), '-- folded in before deploy\n');
    const edit = commit('old edit');
    expect(checkMigrations(dir, { '0000_init.sql': edit })).toEqual([]);
    appendFileSync(path.join(dir, 'migrations', '0000_init.sql'), 'DROP TABLE a;\n');
    expect(checkMigrations(dir, { '0000_init.sql': edit })).toEqual([{ file: '0000_init.sql', problem: 'edited', landedIn: edit }]);
  });
});

describe("this repository's migrations", () => {
  it('read as they landed (the check CI runs through npm run lint)', () => {
    expect(checkMigrations(path.resolve(__dirname, '..'))).toEqual([]);
  });
});
