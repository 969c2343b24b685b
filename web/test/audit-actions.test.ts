import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import zhCN from '../src/locales/zh-CN/index';
import en from '../src/locales/en/index';
import { ROLLBACK_KINDS } from '@shared/domain';
import { createI18n } from 'vue-i18n';
import { auditSummaryText, type SummaryWords } from '../src/features/audit/audit-summary';
import type { AuditAction, AuditListItem } from '@shared/api/audit';

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
    // rule status changes name their action as an argument: transition('paused', [...], 'rule.pause', …)
    for (const m of text.matchAll(/transition\([^)]*?'([a-z_]+\.[a-z_]+)'/g)) actions.add(m[1]!);
  }
  return actions;
}

/**
 * Every action worker/src/audit.ts accepts (`AuditParamsByAction`): a key missing here or one
 * that is not an action fails the typecheck, so the list cannot drift from the type.
 */
const TYPED_ACTIONS: Record<AuditAction, true> = {
  'audit.purge': true,
  'session.login': true,
  'session.logout': true,
  'session.revoke': true,
  'user.create': true,
  'user.update': true,
  'user.password': true,
  'user.revoke_sessions': true,
  'department.create': true,
  'department.rename': true,
  'department.move': true,
  'event_source.create': true,
  'event_source.rotate': true,
  'event_source.revoke': true,
  'destination.create': true,
  'destination.rotate': true,
  'destination.revoke': true,
  'destination.test': true,
  'destination.retry': true,
  'event_source.requeue': true,
  'wecom_connection.create': true,
  'wecom_connection.update': true,
  'wecom_connection.test': true,
  'wecom_connection.delete': true,
  'wecom_connection.sync': true,
  'wecom_connection.push': true,
  'contact.tags': true,
  'contact.export': true,
  'contact.phone_search': true,
  'import.create': true,
  'import.rows': true,
  'import.dry_run': true,
  'import.apply': true,
  'rollback.to_time': true,
  'rollback.rule_version': true,
  'rollback.tag_restore': true,
  'rollback.batch': true,
  'rollback.import': true,
  'tag_group.create': true,
  'tag_group.update': true,
  'tag_group.wecom': true,
  'tag.create': true,
  'tag.update': true,
  'tag.retire': true,
  'tag.restore': true,
  'tag.merge': true,
  'rule.create': true,
  'rule.update': true,
  'rule.save_draft': true,
  'rule.from_template': true,
  'rule.duplicate': true,
  'rule.publish': true,
  'rule.restore_version': true,
  'rule.pause': true,
  'rule.resume': true,
  'rule.archive': true,
  'segment.create': true,
  'segment.update': true,
  'segment.delete': true,
  'alert_rule.create': true,
  'alert_rule.update': true,
  'alert_rule.mute': true,
  'alert_rule.unmute': true,
  'alert.acknowledge': true,
  'publish_plan.create': true,
  'publish_plan.approve': true,
  'publish_plan.reject': true,
  'publish_plan.cancel': true,
  'publish_plan.resume': true,
  'publish_plan.step': true,
  'publish_plan.refuse': true,
  'publish_plan.pause': true,
  'publish_policy.update': true,
  'suggestion.create': true,
  'rule.from_suggestion': true,
  'suggestion.refit': true,
  'rule.from_refit': true,
};

const lookup = (messages: Record<string, unknown>, action: string) => {
  const [object, verb] = action.split('.') as [string, string];
  return ((messages.auditAction as Record<string, Record<string, string>>)[object] ?? {})[verb];
};

describe('audit actions in words', () => {
  it('the audit screen has a zh-CN and an en phrase for every action the worker writes', () => {
    const actions = [...workerActions()];
    expect(actions.length).toBeGreaterThan(30);
    expect(
      actions.filter((a) => !lookup(zhCN, a)),
      'zh-CN',
    ).toEqual([]);
    expect(
      actions.filter((a) => !lookup(en, a)),
      'en',
    ).toEqual([]);
  });
});

/** The sentence(s) of an action: one string, or one per variant. */
function sentences(messages: Record<string, unknown>, action: string): Record<string, string> | null {
  const [object, verb] = action.split('.') as [string, string];
  const v = ((messages.auditSummary as Record<string, Record<string, unknown>>)[object] ?? {})[verb];
  if (typeof v === 'string') return { '': v };
  if (v && typeof v === 'object' && Object.values(v).every((s) => typeof s === 'string')) return v as Record<string, string>;
  return null;
}
const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort();

describe('audit summaries in words', () => {
  it('finds in the worker sources exactly the actions its audit type allows', () => {
    expect([...workerActions()].sort()).toEqual(Object.keys(TYPED_ACTIONS).sort());
  });

  it('has a zh-CN and an en sentence for every action the worker writes, with the same variants and placeholders', () => {
    const actions = [...workerActions()];
    expect(
      actions.filter((a) => !sentences(zhCN, a)),
      'zh-CN',
    ).toEqual([]);
    expect(
      actions.filter((a) => !sentences(en, a)),
      'en',
    ).toEqual([]);
    for (const a of actions) {
      const zh = sentences(zhCN, a)!;
      const e = sentences(en, a)!;
      expect(Object.keys(e).sort(), `${a}: variants`).toEqual(Object.keys(zh).sort());
      for (const variant of Object.keys(zh))
        expect(placeholders(e[variant]!), `${a} ${variant}: placeholders`).toEqual(placeholders(zh[variant]!));
    }
  });

  it('every sentence compiles in vue-i18n and, filled in, leaves no placeholder behind', () => {
    const i18n = createI18n({
      legacy: false,
      locale: 'zh-CN',
      fallbackLocale: 'zh-CN',
      messages: { 'zh-CN': zhCN, en },
      missingWarn: false,
      fallbackWarn: false,
    });
    let checked = 0;
    for (const locale of ['zh-CN', 'en'] as const) {
      i18n.global.locale.value = locale;
      const words: SummaryWords = { t: i18n.global.t, te: i18n.global.te, number: String, dateTime: (ms) => new Date(ms).toISOString() };
      for (const action of workerActions()) {
        for (const [variant, text] of Object.entries(sentences(locale === 'en' ? en : zhCN, action)!)) {
          const params = Object.fromEntries(placeholders(text).map((p) => [p, `«${p}»`]));
          if (variant) params.variant = variant;
          const out = auditSummaryText({ action, params, summary: 'fallback' }, words);
          expect(out, `${locale} ${action} ${variant}`).not.toBe('fallback');
          expect(out, `${locale} ${action} ${variant}`).not.toMatch(/[{}]/);
          for (const p of placeholders(text)) expect(out, `${locale} ${action} ${variant}`).toContain(`«${p}»`);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(2 * 50);
  });

  it('words the params: numbers grouped, ids not, times and codes in the reader’s language; no params or no sentence keeps the stored summary', () => {
    const i18n = createI18n({ legacy: false, locale: 'zh-CN', messages: { 'zh-CN': zhCN, en }, missingWarn: false, fallbackWarn: false });
    const words: SummaryWords = { t: i18n.global.t, te: i18n.global.te, number: (n) => n.toLocaleString('en-US'), dateTime: () => '时间' };
    const text = (action: string, params: AuditListItem['params'], summary: string | null = 'stored English') =>
      auditSummaryText({ action, params, summary }, words);
    expect(text('rule.publish', { name: '高价值客户', version: 3, share: 20 })).toBe('发布了规则「高价值客户」第 3 版，灰度 20%');
    expect(text('rule.pause', { name: '沉睡唤醒', fromStatus: 'published', toStatus: 'paused' })).toBe(
      '暂停了规则「沉睡唤醒」（已发布 → 已暂停）',
    );
    expect(text('user.create', { email: 'a@b.c', role: 'dept_admin' })).toBe('创建了部门管理员账号 a@b.c');
    expect(text('rollback.batch', { variant: 'rollback', rollbackId: 12345, add: 1200, remove: 0, skipped: 3 })).toBe(
      '撤销了回滚 #12345：添加 1,200 个、移除 0 个标签，跳过 3 个',
    );
    expect(text('event_source.rotate', { name: '商城', id: 'shop', graceEndsAt: 1 })).toBe(
      '轮换了数据源「商城」（shop）的密钥，旧密钥在 时间 前仍然有效',
    );
    expect(text('rule.publish', null)).toBe('stored English');
    expect(text('rule.publish', null, null)).toBe('');
    expect(text('rule.unknown_verb', { name: 'x' })).toBe('stored English');
    expect(text('tag.update', { variant: 'no_such_variant', name: 'x' })).toBe('stored English');
    i18n.global.locale.value = 'en';
    expect(text('rule.pause', { name: '沉睡唤醒', fromStatus: 'published', toStatus: 'paused' })).toBe(
      'Paused rule “沉睡唤醒” (Published → Paused)',
    );
  });
});
