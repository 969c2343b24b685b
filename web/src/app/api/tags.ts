import type { TagGroupWithTags } from '@shared/api/tags';
import type { Department } from '@shared/api/departments';
import { apiGet } from './client';

export const listTagGroups = () => apiGet<TagGroupWithTags[]>('/tag-groups');
export const listDepartments = () => apiGet<Department[]>('/departments');
