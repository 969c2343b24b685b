/**
 * "WeCom owns": a tag group in WeCom (synced, or mapped from a WeCom group by the pull) whose
 * policy is `wecom` is decided in WeCom; rules may read its tags but not write them. Publishing a
 * rule whose add/remove-tag action names such a tag is refused with a 409 naming the node.
 */
import { ApiError } from '../../errors';
import { actionTags } from '../../rules/rights';

export async function requireNotWecomOwned(db: D1Database, graph: unknown): Promise<void> {
  const actions = actionTags(graph);
  if (!actions.length) return;
  const { results } = await db
    .prepare(
      `SELECT t.id, t.name, g.name AS group_name FROM tags t JOIN tag_groups g ON g.id = t.group_id
       WHERE t.id IN (SELECT value FROM json_each(?)) AND g.wecom_policy = 'wecom'
       AND (g.wecom_sync = 1 OR EXISTS (SELECT 1 FROM wecom_tag_map m WHERE m.kind = 'group' AND m.segflow_id = g.id AND m.deleted_at IS NULL))`,
    )
    .bind(JSON.stringify([...new Set(actions.map((a) => a.tagId))]))
    .all<{ id: number; name: string; group_name: string }>();
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
