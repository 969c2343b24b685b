import type { EditorError } from './useRuleDocStore';
import { i18n } from '../../app/i18n';

/** A compiler error as a sentence in the user's language (the compiler's own text is English detail). */
export function ruleErrorText(e: EditorError): string {
  return i18n.global.t(`rules.error.${e.code}`);
}
