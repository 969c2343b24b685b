import type { SecurityLogQuery, SecurityLogResponse } from '@shared/api/security-log';
import { apiGet } from './client';

/** Refused requests (super admins): the filter is the query as the worker reads it. */
export type SecurityLogFilter = SecurityLogQuery;
export const listSecurityLog = (f: SecurityLogFilter) => apiGet<SecurityLogResponse>('/security-log', { ...f });
