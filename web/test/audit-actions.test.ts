import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import zhCN from '../src/locales/zh-CN/index';
import en from '../src/locales/en/index';
import { ROLLBACK_KINDS } from '../../shared/src/domain';

const root = join(import.meta.dirname, '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    return d.isDirectory() ? sources(p) : d.name.endsWith('.ts') ? [p] : [];
  });
}

/**
 * Every audit action the worker writes, read from its sources: `action: 'x.y'` given to the
 * audit helpers and `'x.y'` written into `INSERT INTO audit_log` SQL; rollbacks write
 * `rollback.<kind>` for each ROLLBACK_KINDS.
 */
function workerActions(): Set<string> {
  const actions = new Set<string>(ROLLBACK_KINDS.map((k) => `rollback.${k}`));
  for (const file of sources(join(root, 'worker', 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/action:\s*'([a-z_]+\.[a-z_]+)'/g)) actions.add(m[1]!);
    for (const m of text.matchAll(/INSERT INTO audit_log[\s\S]{0,400}?'([a-z_]+\.[a-z_]+)'/g)) actions.add(m[1]!);
  }
  return actions;
}

const lookup = (messages: Record<string, unknown>, action: string) => {
  const [object, verb] = action.split('.') as [string, string];
  return ((messages.auditAction as Record<string, Record<string, string>>)[object] ?? {})[verb];
};

describe('audit actions in words', () => {
  it('the audit screen has a zh-CN and an en phrase for every action the worker writes', () => {
    const actions = [...workerActions()];
    expect(actions.length).toBeGreaterThan(30);
    expect(actions.filter((a) => !lookup(zhCN, a)), 'zh-CN').toEqual([]);
    expect(actions.filter((a) => !lookup(en, a)), 'en').toEqual([]);
  });
});
