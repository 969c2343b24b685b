import type { TagGroupWithTags } from '@shared/api/tags';
import { apiGet } from './client';

export const listTagGroups = () => apiGet<TagGroupWithTags[]>('/tag-groups');
