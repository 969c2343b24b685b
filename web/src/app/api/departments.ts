import type { z } from 'zod';
import type { Department, createDepartmentBody, updateDepartmentBody } from '@shared/api/departments';
import { apiGet, apiPatch, apiPost } from './client';

/** The department tree; the bodies are what the worker's schemas accept. */
export type CreateDepartmentBody = z.input<typeof createDepartmentBody>;
export type UpdateDepartmentBody = z.input<typeof updateDepartmentBody>;

export const listDepartments = () => apiGet<Department[]>('/departments');
export const createDepartment = (body: CreateDepartmentBody) => apiPost<Department>('/departments', body);
export const updateDepartment = (id: number, body: UpdateDepartmentBody) => apiPatch<Department>(`/departments/${id}`, body);
