/**
 * How Segflow's three-level tree maps onto WeCom's two levels (corp tag group › corp tag),
 * for a future sync and for the Tags page to show. Level 1 tags become WeCom groups named
 * "组·一级标签"; levels 2 and 3 become that group's tags, a level-3 tag named "二级-三级".
 * A level-1 tag that has no children is itself a tag of a WeCom group named after the group.
 */
export interface WecomPlacement {
  groupName: string;
  tagName: string;
}

/** `path` is the tag's names from level 1 down to the tag itself; `hasChildren` for a level-1 tag. */
export function wecomPlacement(groupName: string, path: readonly string[], hasChildren = false): WecomPlacement {
  if (path.length === 1 && !hasChildren) return { groupName, tagName: path[0]! };
  if (path.length === 1) return { groupName: `${groupName}·${path[0]}`, tagName: path[0]! };
  return { groupName: `${groupName}·${path[0]}`, tagName: path.slice(1).join('-') };
}
