/**
 * How Segflow's tag groups (three levels of tags) land in WeCom's corp tag library (two levels:
 * group → tag, names of 1 to 30 characters): the group by its name, each tag of any level by its
 * path joined with `/`, so "高价值 › 复购 › 季度" is the WeCom tag "高价值/复购/季度" of the
 * group. Holding a level-3 tag does not imply its parents in Segflow, so one Segflow tag is one
 * corp tag. docs/wecom-push.md, "Segflow's three levels onto WeCom's group → tag".
 */

/** WeCom's longest tag or tag group name, in characters (40058 beyond). */
export const WECOM_NAME_MAX = 30;
/** Corp tags a company may hold (40126 beyond). */
export const WECOM_MAX_CORP_TAGS = 10_000;

const fits = (name: string) => name.length > 0 && [...name].length <= WECOM_NAME_MAX;

/** The WeCom name of a Segflow group, or null when WeCom would refuse it. */
export function wecomGroupName(name: string): string | null {
  return fits(name) ? name : null;
}

/** A tag's path from its level-1 ancestor, e.g. ['高价值', '复购', '季度']. */
export interface TagRow {
  id: number;
  parentId: number | null;
  name: string;
}

/** The path of `tag` through its parents in `byId` (a broken or cyclic chain stops at 3 levels). */
export function tagPath(tag: TagRow, byId: ReadonlyMap<number, TagRow>): string[] {
  const path = [tag.name];
  let parent = tag.parentId === null ? undefined : byId.get(tag.parentId);
  while (parent && path.length < 3) {
    path.unshift(parent.name);
    parent = parent.parentId === null ? undefined : byId.get(parent.parentId);
  }
  return path;
}

/** The WeCom name of a tag at `path`, or null when it is longer than WeCom allows. */
export function wecomTagName(path: readonly string[]): string | null {
  const name = path.join('/');
  return fits(name) ? name : null;
}

/**
 * What a change of a synced group's tags would make too long for WeCom: each tag given (of any
 * level, retired ones left out: they are deleted in WeCom) whose path name passes
 * WECOM_NAME_MAX, with that name. `tags` is the group as it would be after the change.
 */
export function namesTooLong(tags: readonly (TagRow & { status?: string })[], only?: ReadonlySet<number>): { id: number; name: string }[] {
  const byId = new Map(tags.map((t) => [t.id, t]));
  return tags.flatMap((t) => {
    if (t.status === 'retired' || (only && !only.has(t.id))) return [];
    const path = tagPath(t, byId);
    return wecomTagName(path) === null ? [{ id: t.id, name: path.join('/') }] : [];
  });
}
