import type { DuplicateReason, NameProblem } from '@shared/tags';
import { i18n } from '../../app/i18n';

const t = i18n.global.t;

/** A near-duplicate reason as a sentence in the current language. */
export function reasonText(r: DuplicateReason): string {
  switch (r.kind) {
    case 'synonym':
      return t('taxonomy.duplicates.reasons.synonym', { pairs: r.pairs.map((p) => `${p.from} ↔ ${p.to}`).join('、') });
    case 'homophone':
      return t('taxonomy.duplicates.reasons.homophone', {
        pairs: r.pairs
          .map((p) => t('taxonomy.duplicates.reasons.homophonePair', { ...p }))
          .join(t('taxonomy.duplicates.reasons.listSeparator')),
      });
    case 'edit_distance':
      return t('taxonomy.duplicates.reasons.edit_distance', { distance: r.distance });
    case 'shared_chars':
      return t('taxonomy.duplicates.reasons.shared_chars', { shared: r.shared });
    default:
      return t(`taxonomy.duplicates.reasons.${r.kind}`);
  }
}

/** A naming problem as a sentence. */
export function problemText(p: NameProblem): string {
  switch (p.kind) {
    case 'too_long':
      return t('taxonomy.problems.too_long', { max: p.max });
    case 'forbidden_char':
      return t('taxonomy.problems.forbidden_char', { char: p.char });
    case 'pattern':
      return t('taxonomy.problems.pattern', { pattern: p.pattern, example: p.example });
    default:
      return t('taxonomy.problems.empty');
  }
}
