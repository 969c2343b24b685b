import type { EditorError } from './useRuleDocStore';
import { i18n } from '../../app/i18n';

/** A compiler error as a sentence in the user's language (the compiler's own text is English detail). */
export function ruleErrorText(e: EditorError): string {
  // a loop of segment references names its segments: 分群「A」→「B」→「A」形成循环
  const path = e.path;
  if (e.code === 'segment_cycle' && path?.length) {
    const zh = i18n.global.locale.value !== 'en';
    return i18n.global.t('segmentRef.cycle', { path: path.map((n) => (zh ? `「${n}」` : `“${n}”`)).join(zh ? '→' : ' → ') });
  }
  return i18n.global.t(`rules.error.${e.code}`);
}
