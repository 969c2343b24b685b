import { useI18n } from 'vue-i18n';
import type { RollbackRecord } from '@shared/api/rollbacks';
import { formatDateTime, formatNumber } from '../../app/format';

/** A past rollback in words, as the history table and the "undo a rollback" picker both name it. */
export function useRollbackText() {
  const { t } = useI18n();

  /** A ledger batch in words: what made it (by its id's prefix) and a short id, not a raw UUID. */
  function batchWords(batchId: string): string {
    const m = /^(manual|merge|import)-([0-9a-f]{8})/.exec(batchId);
    return m ? t(`rollback.batchOf.${m[1]}`, { id: m[2] }) : batchId;
  }

  function describe(r: RollbackRecord): string {
    const p = r.params;
    switch (r.kind) {
      case 'to_time':
        return p.contactId
          ? t('rollback.describe.to_time_contact', {
              contact: String(p.contactName ?? `#${String(p.contactId)}`),
              at: formatDateTime(Number(p.at)),
            })
          : t('rollback.describe.to_time', { at: formatDateTime(Number(p.at)) });
      case 'rule_version':
        return t('rollback.describe.rule_version', { rule: String(p.ruleName ?? `#${String(p.ruleId)}`), version: String(p.version) });
      case 'tag_restore':
        return t('rollback.describe.tag_restore', { tag: String(p.tagName ?? `#${String(p.tagId)}`) });
      case 'batch':
        return p.undoOf
          ? t('rollback.describe.batch_rollback', { id: String(p.undoOf) })
          : t('rollback.describe.batch', { batch: batchWords(String(p.batchId)) });
      case 'import':
        return t('rollback.describe.import', {
          file: String(p.fileName ?? `#${String(p.importId)}`),
          deleted: formatNumber(Number(p.contactsDeleted ?? 0)),
          restored: formatNumber(Number(p.contactsRestored ?? 0)),
        });
    }
    return r.kind;
  }
  return { describe };
}
