import { useI18n } from 'vue-i18n';
import { ESTIMATE_DAYS, type PreviewCountsBody } from '@shared/api/rules';
import { formatNumber } from '../../app/format';

/**
 * The words an estimated preview is told in (a rule that reads its triggering event is counted
 * from the contacts' own events of the last days, `counts.estimate`): the window, the event
 * type in the viewer's language, and how many contacts had such an event. Shared by the preview
 * panel, the editor's bar and the publish dialog, so all three say the same.
 */
export function useEstimateWords() {
  const { t } = useI18n();
  return (counts: PreviewCountsBody | undefined) => {
    const e = counts?.estimate;
    return {
      days: e?.days ?? ESTIMATE_DAYS,
      event: e ? t(`rules.eventType.${e.eventType}`) : '',
      withEvents: formatNumber(e?.withEvents ?? 0),
      total: formatNumber(counts?.total ?? 0),
    };
  };
}
