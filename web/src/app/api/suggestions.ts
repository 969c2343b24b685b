import type {
  CreateSuggestionBody,
  SuggestionApplyResponse,
  SuggestionDetail,
  SuggestionDiffResponse,
  SuggestionDraftResponse,
  SuggestionForRuleResponse,
  SuggestionListResponse,
} from '@shared/api/suggestions';
import { apiGet, apiPost } from './client';

/** Learned rule suggestions (issue 19): queue a training job, poll it, make its draft, refit a rule made from one. */
export const createSuggestion = (body: CreateSuggestionBody) => apiPost<SuggestionDetail>('/suggestions', body);
export const getSuggestion = (id: number) => apiGet<SuggestionDetail>(`/suggestions/${id}`);
export const listSuggestions = () => apiGet<SuggestionListResponse>('/suggestions');
export const draftFromSuggestion = (id: number, body: { name: string; tagId?: number }) =>
  apiPost<SuggestionDraftResponse>(`/suggestions/${id}/draft`, body);
/** What rule `ruleId` was learned from, and a newer refit of it if any. */
export const suggestionsForRule = (ruleId: number) => apiGet<SuggestionForRuleResponse>(`/suggestions/by-rule/${ruleId}`);
export const refitSuggestion = (id: number, ruleId: number) => apiPost<SuggestionDetail>(`/suggestions/${id}/refit`, { ruleId });
export const refitDiff = (id: number) => apiGet<SuggestionDiffResponse>(`/suggestions/${id}/diff`);
export const applyRefit = (id: number) => apiPost<SuggestionApplyResponse>(`/suggestions/${id}/apply`, {});
