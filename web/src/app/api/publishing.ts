import type { CreatePlanBody, PlanDetail, PlanItem, PlanList, PlanState, PolicyItem } from '@shared/api/publishing';
import { apiGet, apiPost, apiPut } from './client';

/** Publish plans the viewer may see; with `ruleId`, also whether their publish of it waits for approval. */
export const listPlans = (q: { state?: PlanState | 'live' | 'all'; ruleId?: number; limit?: number }) =>
  apiGet<PlanList>('/publishing/plans', q);
export const getPlan = (id: number) => apiGet<PlanDetail>(`/publishing/plans/${id}`);
/** A scheduled publish, a ramp, or (where the department's policy says so) a request for approval. */
export const createPlan = (body: CreatePlanBody) => apiPost<PlanItem>('/publishing/plans', body);
export const approvePlan = (id: number) => apiPost<PlanItem>(`/publishing/plans/${id}/approve`, {});
export const rejectPlan = (id: number, reason: string) => apiPost<PlanItem>(`/publishing/plans/${id}/reject`, { reason });
export const cancelPlan = (id: number) => apiPost<PlanItem>(`/publishing/plans/${id}/cancel`, {});
export const resumePlan = (id: number) => apiPost<PlanItem>(`/publishing/plans/${id}/resume`, {});
export const listPolicies = () => apiGet<PolicyItem[]>('/publishing/policies');
export const setPolicy = (departmentId: number, requireApproval: boolean) =>
  apiPut<PolicyItem>(`/publishing/policies/${departmentId}`, { requireApproval });
