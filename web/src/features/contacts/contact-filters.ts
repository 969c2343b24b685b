import type { Department } from '../../../../shared/src/api/departments';
import type { TagGroupWithTags, TagWithCount } from '../../../../shared/src/api/tags';

export interface DepartmentNode {
  value: number;
  label: string;
  children: DepartmentNode[];
}

/** Flat departments (by parentId) → the nested options a tree select shows. */
export function departmentTree(departments: Department[]): DepartmentNode[] {
  const nodeById = new Map<number, DepartmentNode>();
  for (const d of departments) nodeById.set(d.id, { value: d.id, label: d.name, children: [] });
  const roots: DepartmentNode[] = [];
  for (const d of departments) {
    const node = nodeById.get(d.id)!;
    const parent = d.parentId == null ? undefined : nodeById.get(d.parentId);
    (parent ? parent.children : roots).push(node);
  }
  return roots;
}

/** A tag's name with its ancestors in the group: "美妆 › 护肤 › 抗老". */
export function tagOptionLabel(group: TagGroupWithTags, tag: TagWithCount): string {
  const byId = new Map(group.tags.map((t) => [t.id, t]));
  const names = [tag.name];
  for (let p = tag.parentId; p != null && names.length < 3; p = byId.get(p)?.parentId ?? null) {
    const parent = byId.get(p);
    if (!parent) break;
    names.unshift(parent.name);
  }
  return names.join(' › ');
}
