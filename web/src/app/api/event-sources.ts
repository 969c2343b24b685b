import type { CreateEventSourceBody, EventSourceCredentials, EventSourceSummary, RotateEventSourceBody } from '@shared/api/event-sources';
import { apiGet, apiPost } from './client';

/** Webhook sources (super admins): a secret is shown once, on creation and rotation. */
export const listEventSources = () => apiGet<EventSourceSummary[]>('/event-sources');
export const createEventSource = (body: CreateEventSourceBody) => apiPost<EventSourceCredentials>('/event-sources', body);
/** A WeCom source takes the pair entered as WeCom's console shows it; without one (and for generic sources) a new one is generated. */
export const rotateEventSource = (id: string, body: RotateEventSourceBody = {}) =>
  apiPost<EventSourceCredentials>(`/event-sources/${encodeURIComponent(id)}/rotate`, body);
export const revokeEventSource = (id: string) => apiPost<EventSourceSummary>(`/event-sources/${encodeURIComponent(id)}/revoke`, {});
