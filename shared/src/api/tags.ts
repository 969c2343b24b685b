import type { TagStatus } from '../domain';

export interface TagWithCount {
  id: number;
  name: string;
  parentId: number | null;
  level: number;
  color: string | null;
  status: TagStatus;
  description: string | null;
  lastAppliedAt: number | null;
  /** contacts holding the tag now */
  holders: number;
}

export interface TagGroupWithTags {
  id: number;
  name: string;
  description: string | null;
  color: string;
  exclusive: boolean;
  maxTags: number | null;
  tags: TagWithCount[];
}
