import type { Department } from '@shared/api/departments';

export interface DepartmentNode extends Department {
  depth: number;
  children: DepartmentNode[];
}

/** The flat list as a tree (roots first, children in list order). */
export function departmentTree(list: Department[]): DepartmentNode[] {
  const nodes = new Map<number, DepartmentNode>(list.map((d) => [d.id, { ...d, depth: 0, children: [] }]));
  const roots: DepartmentNode[] = [];
  for (const d of list) {
    const node = nodes.get(d.id)!;
    const parent = d.parentId !== null ? nodes.get(d.parentId) : undefined;
    if (parent) parent.children.push(node);
    else roots.push(node);
  }
  const setDepth = (n: DepartmentNode, depth: number) => {
    n.depth = depth;
    n.children.forEach((c) => setDepth(c, depth + 1));
  };
  roots.forEach((r) => setDepth(r, 0));
  return roots;
}

/** How `el-tree-select` reads a `departmentTree`: the value is the department's id. */
export const DEPARTMENT_TREE_PROPS = { value: 'id', label: 'name', children: 'children' } as const;

/** Tree order with depth: for indented selects. */
export function flatten(tree: DepartmentNode[]): DepartmentNode[] {
  const out: DepartmentNode[] = [];
  const walk = (ns: DepartmentNode[]) => ns.forEach((n) => (out.push(n), walk(n.children)));
  walk(tree);
  return out;
}

/** Ids of `id` and everything under it: where it cannot be moved. */
export function subtreeIds(list: Department[], id: number): Set<number> {
  const out = new Set([id]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const d of list) {
      if (d.parentId !== null && out.has(d.parentId) && !out.has(d.id)) {
        out.add(d.id);
        grew = true;
      }
    }
  }
  return out;
}
