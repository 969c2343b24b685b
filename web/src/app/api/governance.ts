import type { AuditDetail, AuditListResponse } from '@shared/api/audit';
import type { SecurityLogResponse, SecurityReason } from '@shared/api/security-log';
import type { UserSummary } from '@shared/api/auth';
import type { Department } from '@shared/api/departments';
import type { CreateEventSourceBody, EventSourceCredentials, EventSourceSummary } from '@shared/api/event-sources';
import type { Role } from '@shared/domain';
import { apiGet, apiPatch, apiPost } from './client';

/** Audit log, people, departments and webhook sources: the super admin's screens. */

export interface AuditFilter {
  page: number;
  pageSize: number;
  actorUserId?: number;
  action?: string;
  objectType?: string;
  objectId?: string;
  from?: number;
  to?: number;
  q?: string;
}
export const listAudit = (f: AuditFilter) => apiGet<AuditListResponse>('/audit', { ...f });
export const getAudit = (id: number) => apiGet<AuditDetail>(`/audit/${id}`);

export interface SecurityLogFilter {
  page: number;
  pageSize: number;
  who?: string;
  ip?: string;
  reason?: SecurityReason;
  from?: number;
  to?: number;
}
export const listSecurityLog = (f: SecurityLogFilter) => apiGet<SecurityLogResponse>('/security-log', { ...f });

export const listUsers = () => apiGet<UserSummary[]>('/users');
export const createUser = (body: { email: string; name: string; role: Role; departmentId: number | null; password: string }) =>
  apiPost<UserSummary>('/users', body);
export const updateUser = (
  id: number,
  body: Partial<{ name: string; role: Role; departmentId: number | null; disabled: boolean; password: string }>,
) => apiPatch<UserSummary>(`/users/${id}`, body);
export const revokeUserSessions = (id: number) => apiPost<{ revoked: number }>(`/users/${id}/revoke-sessions`, {});

export const createDepartment = (body: { name: string; parentId: number | null }) => apiPost<Department>('/departments', body);
export const updateDepartment = (id: number, body: { name?: string; parentId?: number | null }) =>
  apiPatch<Department>(`/departments/${id}`, body);

export const listEventSources = () => apiGet<EventSourceSummary[]>('/event-sources');
export const createEventSource = (body: CreateEventSourceBody) => apiPost<EventSourceCredentials>('/event-sources', body);
export const rotateEventSource = (id: string) => apiPost<EventSourceCredentials>(`/event-sources/${encodeURIComponent(id)}/rotate`, {});
export const revokeEventSource = (id: string) => apiPost<EventSourceSummary>(`/event-sources/${encodeURIComponent(id)}/revoke`, {});
