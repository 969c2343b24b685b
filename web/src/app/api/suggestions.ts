import type { CreateSuggestionBody, SuggestionDetail, SuggestionDraftResponse, SuggestionListResponse } from '@shared/api/suggestions';
import { apiGet, apiPost } from './client';

/** Learned rule suggestions (issue 19): queue a training job, poll it, make its draft. */
export const createSuggestion = (body: CreateSuggestionBody) => apiPost<SuggestionDetail>('/suggestions', body);
export const getSuggestion = (id: number) => apiGet<SuggestionDetail>(`/suggestions/${id}`);
export const listSuggestions = () => apiGet<SuggestionListResponse>('/suggestions');
export const draftFromSuggestion = (id: number, body: { name: string; tagId?: number }) =>
  apiPost<SuggestionDraftResponse>(`/suggestions/${id}/draft`, body);
