import type { TagGroupWithTags, TagWithCount } from '@shared/api/tags';

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
