import { useI18n } from 'vue-i18n';
import { msToLocalTime, type PlanItem, type PlanReason } from '@shared/api/publishing';

/** How plans read on screen: their steps in TIMEZONE's wall-clock time, and why one stopped. */
export function usePlanText() {
  const { t } = useI18n();
  const time = (ms: number, offsetMinutes: number) => msToLocalTime(ms, offsetMinutes).replace('T', ' ');
  const stepText = (s: PlanItem['steps'][number], offsetMinutes: number) =>
    s.at === null ? t('publishing.stepNow', { n: s.percent }) : t('publishing.step', { n: s.percent, at: time(s.at, offsetMinutes) });
  const stepsText = (p: PlanItem, offsetMinutes: number) => p.steps.map((s) => stepText(s, offsetMinutes)).join(' → ');
  function reasonText(r: PlanReason | null): string {
    if (!r) return '';
    if (r.code === 'draft_changed' || r.code === 'rights_lost') return t(`publishing.reasons.${r.code}`);
    if (r.code === 'alert') return t('publishing.reasons.alert', { alert: /"(.*)"/.exec(r.message)?.[1] ?? r.message });
    return r.message;
  }
  return { time, stepText, stepsText, reasonText };
}
