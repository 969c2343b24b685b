import type { AlertItem, AlertRuleItem, AlertTarget } from '@shared/api/alerts';
import { i18n } from '../../app/i18n';
import { formatNumber } from '../../app/format';

const t = (key: string, values: Record<string, unknown> = {}) => i18n.global.t(key, values);

/** The target's name as the lists show it (deleted objects said so). */
export function targetName(target: AlertTarget | null): string {
  if (!target || target.type === 'dead_letters') return t('alerts.deadLettersTarget');
  return target.name ?? `#${String(target.id)} ${t('alerts.deleted')}`;
}

/** Where the target lives in the app (the alert links there); null when there is no screen for it. */
export function targetLink(target: AlertTarget | null): string | null {
  if (!target) return null;
  if (target.type === 'segment' && target.id !== null) return `/segments/${target.id}`;
  if (target.type === 'rule' && target.id !== null) return `/rules/${target.id}`;
  return '/sources';
}

/** What the alert measured, in the reader's language: "Segment “X” down 40% day over day: 1,000 → 600". */
export function measuredText(a: Pick<AlertItem, 'measured' | 'target'>): string {
  const m = a.measured;
  const name = targetName(a.target);
  switch (m.kind) {
    case 'segment_drop':
    case 'segment_rise':
      return t(`alerts.measured.${m.kind}`, {
        name,
        pct: Math.abs(m.changePct),
        previous: formatNumber(m.previous),
        current: formatNumber(m.current),
      });
    case 'segment_below':
      return t('alerts.measured.segment_below', { name, current: formatNumber(m.current), threshold: formatNumber(m.threshold) });
    case 'rule_silent':
    case 'source_silent':
      return t(`alerts.measured.${m.kind}${m.lastAt === null ? '_never' : ''}`, { name, hours: m.hours });
    case 'rule_errors':
      return m.paused ? t('alerts.measured.rule_errors_paused', { name }) : t('alerts.measured.rule_errors', { name, reason: m.reason });
    case 'dead_letters':
      return t('alerts.measured.dead_letters', { intake: m.intake, deliveries: m.deliveries });
  }
}

/** An alert rule's condition in words: "Down ≥ 30% day over day". */
export function conditionText(r: Pick<AlertRuleItem, 'kind' | 'threshold'>): string {
  return t(`alerts.condition.${r.kind}`, { threshold: r.threshold === null ? '' : formatNumber(r.threshold) });
}
