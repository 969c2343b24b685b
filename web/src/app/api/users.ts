import type { z } from 'zod';
import type { UserSummary, createUserBody, updateUserBody } from '@shared/api/auth';
import { apiGet, apiPatch, apiPost } from './client';

/** People (super admins); the bodies are what the worker's schemas accept. */
export type CreateUserBody = z.input<typeof createUserBody>;
export type UpdateUserBody = z.input<typeof updateUserBody>;

export const listUsers = () => apiGet<UserSummary[]>('/users');
export const createUser = (body: CreateUserBody) => apiPost<UserSummary>('/users', body);
export const updateUser = (id: number, body: UpdateUserBody) => apiPatch<UserSummary>(`/users/${id}`, body);
export const revokeUserSessions = (id: number) => apiPost<{ revoked: number }>(`/users/${id}/revoke-sessions`, {});
