import type { TagGroupWithTags } from '../../../../shared/src/api/tags';
import type { Department } from '../../../../shared/src/api/departments';
import { apiGet } from './client';

export const listTagGroups = () => apiGet<TagGroupWithTags[]>('/tag-groups');
export const listDepartments = () => apiGet<Department[]>('/departments');
