import type { AlertItem, AlertList, AlertRuleBody, AlertRuleItem } from '@shared/api/alerts';
import { apiGet, apiPatch, apiPost } from './client';

/** Raised alerts the viewer may see (`open` is the bell's count whatever the page shows). */
export const listAlerts = (q: { state: 'open' | 'acknowledged' | 'all'; page?: number; pageSize?: number }) =>
  apiGet<AlertList>('/alerts', q);
export const acknowledgeAlert = (id: number) => apiPost<AlertItem>(`/alerts/${id}/ack`, {});

export const listAlertRules = async () => (await apiGet<{ items: AlertRuleItem[] }>('/alerts/rules')).items;
export const createAlertRule = (body: AlertRuleBody) => apiPost<AlertRuleItem>('/alerts/rules', body);
export const updateAlertRule = (id: number, body: AlertRuleBody) => apiPatch<AlertRuleItem>(`/alerts/rules/${id}`, body);
/** `until` epoch ms, or null: until unmuted. */
export const muteAlertRule = (id: number, until: number | null) => apiPost<AlertRuleItem>(`/alerts/rules/${id}/mute`, { until });
export const unmuteAlertRule = (id: number) => apiPost<AlertRuleItem>(`/alerts/rules/${id}/unmute`, {});
