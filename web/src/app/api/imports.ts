import type {
  CreateImportBody,
  DryRunReport,
  ImportApplyResult,
  ImportRollbackResult,
  ImportStageResult,
  ImportSummary,
} from '@shared/api/imports';
import type { ImportMapping } from '@shared/import/validate';
import { apiPost } from './client';

export const createImport = (body: CreateImportBody) => apiPost<ImportSummary>('/imports', body);
export const stageImportRows = (id: string, rows: { row: number; cells: string[] }[]) =>
  apiPost<ImportStageResult>(`/imports/${id}/rows`, { rows });
export const dryRunImport = (id: string, mapping?: ImportMapping) =>
  apiPost<DryRunReport>(`/imports/${id}/dry-run`, mapping ? { mapping } : {});
export const applyImport = (id: string) => apiPost<ImportApplyResult>(`/imports/${id}/apply`);
export const rollbackImport = (id: string) => apiPost<ImportRollbackResult>(`/imports/${id}/rollback`);
