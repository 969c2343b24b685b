import type { RollbackList, RollbackPreview, RollbackResult, RollbackTarget } from '@shared/api/rollbacks';
import { apiGet, apiPost } from './client';

export const listRollbacks = (page = 1, pageSize = 20) => apiGet<RollbackList>('/rollbacks', { page, pageSize });
export const previewRollback = (target: RollbackTarget) => apiPost<RollbackPreview>('/rollbacks/preview', target);
/** Refused (409 `confirmation_required`) unless `count` is what the server counts now. */
export const runRollback = (target: RollbackTarget, count: number, opts: { pauseRule?: boolean } = {}) =>
  apiPost<RollbackResult>('/rollbacks', {
    ...target,
    confirm: { count },
    ...(target.kind === 'rule_version' && opts.pauseRule ? { pauseRule: true } : {}),
  });
export const undoRollback = (id: number, count: number) => apiPost<RollbackResult>(`/rollbacks/${id}/undo`, { confirm: { count } });
