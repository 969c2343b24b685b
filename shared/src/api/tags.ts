import type { Role, TagStatus } from '../domain';

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
  /**
   * The name's pinyin keys (full and initials, lowercase ASCII) as stored when it was written
   * (worker/src/search/keys.ts): pickers filtering in the browser match typed pinyin against them.
   */
  searchKeys: string[];
}

export interface TagGroupWithTags {
  id: number;
  name: string;
  description: string | null;
  color: string;
  exclusive: boolean;
  maxTags: number | null;
  /** Owning department (null: company-wide). */
  departmentId: number | null;
  /** Least role that may apply the group's tags by hand / edit the group. */
  applyRole: Role;
  editRole: Role;
  /** What the signed-in user may do with this group. */
  canApply: boolean;
  canEdit: boolean;
  tags: TagWithCount[];
}
