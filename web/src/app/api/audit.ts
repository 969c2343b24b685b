import type { AuditDetail, AuditListQuery, AuditListResponse } from '@shared/api/audit';
import { apiGet } from './client';

/** The audit log (super admins): the filter is the query as the worker reads it. */
export type AuditFilter = AuditListQuery;
export const listAudit = (f: AuditFilter) => apiGet<AuditListResponse>('/audit', { ...f });
export const getAudit = (id: number) => apiGet<AuditDetail>(`/audit/${id}`);
