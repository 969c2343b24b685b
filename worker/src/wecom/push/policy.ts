/**
 * "WeCom owns": a tag group in WeCom (synced, or mapped from a WeCom group by the pull) whose
 * policy is `wecom` is decided in WeCom; rules may read its tags but not write them. Publishing a
 * rule whose add/remove-tag action names such a tag is refused with a 409 naming the node.
 */
import { ApiError } from '../../errors';
import { actionTags } from '../../rules/rights';

/** The tags among `tagIds` whose group WeCom owns: in WeCom (synced, or mapped from a WeCom group by the pull) with policy `wecom`. */
async function wecomOwnedTags(db: D1Database, tagIds: number[]): Promise<{ id: number; name: string; group_name: string }[]> {
  if (!tagIds.length) return [];
  const { results } = await db
    .prepare(
      `SELECT t.id, t.name, g.name AS group_name FROM tags t JOIN tag_groups g ON g.id = t.group_id
       WHERE t.id IN (SELECT value FROM json_each(?)) AND g.wecom_policy = 'wecom'
       AND (g.wecom_sync = 1 OR EXISTS (SELECT 1 FROM wecom_tag_map m WHERE m.kind = 'group' AND m.segflow_id = g.id AND m.deleted_at IS NULL))`,
    )
    .bind(JSON.stringify([...new Set(tagIds)]))
    .all<{ id: number; name: string; group_name: string }>();
  return results;
}

/**
 * A manual edit of a contact's tags (`POST /api/contacts/:id/tags`) may not add or remove a tag
 * WeCom owns: WeCom decides it, and the next pull or callback would undo the edit. 409 naming the
 * policy and each tag (`add.i` / `remove.i`).
 */
export async function requireManualEditAllowed(db: D1Database, edit: { add: number[]; remove: number[] }): Promise<void> {
  const owned = await wecomOwnedTags(db, [...edit.add, ...edit.remove]);
  if (!owned.length) return;
  const byId = new Map(owned.map((t) => [t.id, t]));
  const details = (['add', 'remove'] as const).flatMap((op) =>
    edit[op].flatMap((id, i) => {
      const t = byId.get(id);
      return t ? [{ path: `${op}.${i}`, message: `tag ${t.name} of group ${t.group_name} is owned by WeCom: edit it in WeCom` }] : [];
    }),
  );
  const groups = [...new Set(owned.map((t) => t.group_name))].join(', ');
  throw new ApiError(
    409,
    'conflict',
    `${groups} is owned by WeCom (冲突策略 "WeCom owns"): its tags change in WeCom and reach Segflow by the pull; edit them there, or set the group to "Segflow owns"`,
    details,
  );
}

export async function requireNotWecomOwned(db: D1Database, graph: unknown): Promise<void> {
  const actions = actionTags(graph);
  if (!actions.length) return;
  const results = await wecomOwnedTags(
    db,
    actions.map((a) => a.tagId),
  );
  if (!results.length) return;
  const owned = new Map(results.map((r) => [r.id, r]));
  const details = actions.flatMap(({ nodeId, tagId }) => {
    const t = owned.get(tagId);
    return t
      ? [
          {
            path: `graph.nodes.${nodeId}`,
            message: `tag ${t.name} of group ${t.group_name} is owned by WeCom: a rule may read it, not write it`,
          },
        ]
      : [];
  });
  const groups = [...new Set(results.map((r) => r.group_name))].join(', ');
  throw new ApiError(
    409,
    'conflict',
    `The rule writes tags of ${groups}, which WeCom owns (冲突策略 "WeCom owns"): read them in conditions, or set the group to "Segflow owns"`,
    details,
  );
}

/**
 * Published (or paused) rules whose running version adds or removes a tag of the group `groupId`
 * (an SQL expression): such a group cannot become WeCom-owned (the rules would fight the pull),
 * and the pull does not adopt it by name (sync/library.ts).
 */
export const rulesWritingGroup = (groupId: string) => `SELECT DISTINCT r.id, r.name FROM rules r
  JOIN rule_versions v ON v.rule_id = r.id AND v.version = r.published_version, json_each(v.graph, '$.nodes') n
  WHERE r.status IN ('published', 'paused') AND json_extract(n.value, '$.kind') = 'action'
    AND json_extract(n.value, '$.action.tagId') IN (SELECT id FROM tags WHERE group_id = ${groupId})`;
