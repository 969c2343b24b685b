import type {
  CheckTagNameBody,
  CheckTagNameResponse,
  CreateGroupBody,
  CreateTagBody,
  MergeResult,
  RetirementProposal,
  TagUsage,
  TaxonomyConfig,
  TaxonomyGroup,
  TaxonomyTag,
  UpdateGroupBody,
  UpdateTagBody,
} from '@shared/api/taxonomy';
import { apiGet, apiPatch, apiPost } from './client';

export const getTaxonomyConfig = () => apiGet<TaxonomyConfig>('/taxonomy/config');
export const createGroup = (body: CreateGroupBody) => apiPost<TaxonomyGroup>('/taxonomy/groups', body);
export const updateGroup = (id: number, body: UpdateGroupBody) => apiPatch<TaxonomyGroup>(`/taxonomy/groups/${id}`, body);
export const checkTagName = (body: CheckTagNameBody) => apiPost<CheckTagNameResponse>('/taxonomy/tags/check', body);
export const createTag = (body: CreateTagBody) => apiPost<TaxonomyTag>('/taxonomy/tags', body);
export const updateTag = (id: number, body: UpdateTagBody) => apiPatch<TaxonomyTag>(`/taxonomy/tags/${id}`, body);
export const getTagUsage = (id: number) => apiGet<TagUsage>(`/taxonomy/tags/${id}/usage`);
/** `holders`: the count the user confirmed (the API refuses a retirement of held tags without it). */
export const retireTag = (id: number, holders: number) =>
  apiPost<TaxonomyTag>(`/taxonomy/tags/${id}/retire`, holders > 0 ? { confirm: { count: holders } } : {});
export const restoreTag = (id: number) => apiPost<TaxonomyTag>(`/taxonomy/tags/${id}/restore`, {});
export const mergeTag = (id: number, intoTagId: number, holders: number) =>
  apiPost<MergeResult>(`/taxonomy/tags/${id}/merge`, holders > 0 ? { intoTagId, confirm: { count: holders } } : { intoTagId });
export const listRetirementProposals = () => apiGet<RetirementProposal[]>('/taxonomy/retirement-proposals');
