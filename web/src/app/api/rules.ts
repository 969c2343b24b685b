import type {
  CompareResponse,
  CreateRuleBody,
  ExplainBody,
  FieldCatalogResponse,
  PreviewBody,
  PublishBody,
  PublishResponse,
  RuleDetail,
  RuleExplainResponse,
  RuleListResponse,
  RulePreviewResponse,
  RuleRunsResponse,
  RuleVersionDetail,
  SaveDraftBody,
} from '@shared/api/rules';
import type { RuleStatus } from '@shared/domain';
import { apiGet, apiPost, apiPut } from './client';

export const getFieldCatalog = () => apiGet<FieldCatalogResponse>('/field-catalog');

export const listRules = (q: { page?: number; pageSize?: number; status?: RuleStatus; q?: string; includeArchived?: '0' | '1' } = {}) =>
  apiGet<RuleListResponse>('/rules', q);
export const getRule = (id: number) => apiGet<RuleDetail>(`/rules/${id}`);
export const createRule = (body: CreateRuleBody) => apiPost<RuleDetail>('/rules', body);
export const saveDraft = (id: number, body: SaveDraftBody) => apiPut<RuleDetail>(`/rules/${id}/draft`, body);
export const duplicateRule = (id: number, name?: string) => apiPost<RuleDetail>(`/rules/${id}/duplicate`, name ? { name } : {});
export const setRuleLifecycle = (id: number, action: 'pause' | 'resume' | 'archive') => apiPost<RuleDetail>(`/rules/${id}/${action}`, {});
export const getRuleVersion = (id: number, version: number) => apiGet<RuleVersionDetail>(`/rules/${id}/versions/${version}`);
export const restoreVersion = (id: number, version: number) => apiPost<RuleDetail>(`/rules/${id}/versions/${version}/restore`, {});
export const compareVersions = (id: number, a: number | 'draft', b: number | 'draft') =>
  apiGet<CompareResponse>(`/rules/${id}/compare`, { a, b });

export const previewRule = (body: PreviewBody) => apiPost<RulePreviewResponse>('/rules/preview', body);
export const explainRule = (body: ExplainBody) => apiPost<RuleExplainResponse>('/rules/explain', body);
export const getRuleRuns = (id: number, page = 1, pageSize = 20) => apiGet<RuleRunsResponse>(`/rules/${id}/runs`, { page, pageSize });
export const publishRule = (id: number, body: PublishBody) => apiPost<PublishResponse>(`/rules/${id}/publish`, body);
