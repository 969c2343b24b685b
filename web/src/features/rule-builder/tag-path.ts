/** A tag's place in its group: the names of its parents, top first ("美妆 › 护肤" for 抗老). */
export function tagParents(
  tag: { parentId: number | null },
  byId: ReadonlyMap<number, { name: string; parentId: number | null }>,
): string[] {
  const out: string[] = [];
  const seen = new Set<number>();
  for (let id = tag.parentId; id !== null && !seen.has(id);) {
    seen.add(id); // a broken parent chain must not loop
    const p = byId.get(id);
    if (!p) break;
    out.unshift(p.name);
    id = p.parentId;
  }
  return out;
}

/** "兴趣偏好 › 美妆 › 护肤 › 抗老": the group, the parents and the tag. */
export function tagPathLabel(group: string, parents: readonly string[], name: string): string {
  return [group, ...parents, name].join(' › ');
}
