import type { CreateEventSourceBody, EventSourceCredentials, EventSourceSummary } from '@shared/api/event-sources';
import { apiGet, apiPost } from './client';

/** Webhook sources (super admins): a secret is shown once, on creation and rotation. */
export const listEventSources = () => apiGet<EventSourceSummary[]>('/event-sources');
export const createEventSource = (body: CreateEventSourceBody) => apiPost<EventSourceCredentials>('/event-sources', body);
export const rotateEventSource = (id: string) => apiPost<EventSourceCredentials>(`/event-sources/${encodeURIComponent(id)}/rotate`, {});
export const revokeEventSource = (id: string) => apiPost<EventSourceSummary>(`/event-sources/${encodeURIComponent(id)}/revoke`, {});
