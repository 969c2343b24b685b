import type { InstantiateBody, InstantiateResponse, TemplateInfo } from '@shared/api/templates';
import { apiGet, apiPost } from './client';

export const listTemplates = () => apiGet<TemplateInfo[]>('/templates');
export const instantiateTemplate = (id: string, body: InstantiateBody) =>
  apiPost<InstantiateResponse>(`/templates/${id}/instantiate`, body);
