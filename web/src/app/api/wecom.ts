import type {
  CreateWecomConnectionBody,
  UpdateWecomConnectionBody,
  WecomConnectionSummary,
  WecomConnectionTestResult,
  WecomGroupSettings,
  WecomGroupSettingsBody,
  WecomPushNowResult,
  WecomOverridesPage,
  WecomPushStatus,
  WecomRetireImpact,
  WecomRetryResult,
  WecomSyncRun,
  WecomSyncState,
} from '@shared/api/wecom';
import { apiDelete, apiGet, apiPatch, apiPost, apiPut } from './client';

/** Connected WeCom corps (super admins). Secrets are sent, never received: a summary says only whether each is set. */
export const listWecomConnections = async () => (await apiGet<{ items: WecomConnectionSummary[] }>('/wecom/connections')).items;
export const createWecomConnection = (body: CreateWecomConnectionBody) => apiPost<WecomConnectionSummary>('/wecom/connections', body);
export const updateWecomConnection = (id: number, body: UpdateWecomConnectionBody) =>
  apiPatch<WecomConnectionSummary>(`/wecom/connections/${id}`, body);
/** gettoken with each secret set, now: the answers in words, kept on the connection. */
export const testWecomConnection = (id: number) => apiPost<WecomConnectionTestResult>(`/wecom/connections/${id}/test`, {});
export const deleteWecomConnection = (id: number) => apiDelete(`/wecom/connections/${id}`);

/** The pull from WeCom: progress (latest run, last finished), start a backfill (409 while one runs), resume a failed one. */
export const getWecomSync = (id: number) => apiGet<WecomSyncState>(`/wecom/connections/${id}/sync`);
export const startWecomSync = (id: number) => apiPost<WecomSyncRun>(`/wecom/connections/${id}/sync`, {});
export const resumeWecomSync = (id: number) => apiPost<WecomSyncRun>(`/wecom/connections/${id}/sync/resume`, {});

/** The push to WeCom: status (groups with their settings, pushes by state, failed ones), push now, retry failed pushes, a group's settings. */
export const getWecomPush = (id: number) => apiGet<WecomPushStatus>(`/wecom/connections/${id}/push`);
export const pushWecomNow = (id: number) => apiPost<WecomPushNowResult>(`/wecom/connections/${id}/push`, {});
export const retryWecomPushes = (id: number) => apiPost<WecomRetryResult>(`/wecom/connections/${id}/push/retry`, {});
export const setWecomGroupSettings = (groupId: number, body: WecomGroupSettingsBody) =>
  apiPut<WecomGroupSettings>(`/wecom/tag-groups/${groupId}`, body);

/** Manual WeCom edits of Segflow-owned tags, each with the push that reverted it (newest first, paged). */
export const listWecomOverrides = (id: number, page: number, pageSize: number) =>
  apiGet<WecomOverridesPage>(`/wecom/connections/${id}/overrides`, { page, pageSize });
/** What retiring a tag does in WeCom: per connected corp mirroring it, the customers losing the corp tag. */
export const getWecomRetireImpact = (tagId: number) => apiGet<WecomRetireImpact>(`/wecom/tags/${tagId}/retire-impact`);
