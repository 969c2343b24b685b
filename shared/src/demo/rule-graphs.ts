/**
 * Rules of the seed articles as graphs, for tests and benchmarks over the demo data (the
 * template gallery will offer them to marketers).
 */
import type { RuleGraph } from '../rules/types';

/** The band tags of the group-member score, highest band first (the demo's 群成员评级 group). */
export const GROUP_MEMBER_BANDS = ['核心成员', '活跃成员', '普通成员', '观察名单'] as const;

/**
 * Seed 003's group-member score: speaking 30%, content (articles opened, 30 days) 25%, activity
 * (groups joined, 90 days) 20%, invites 15%, violations 10%; bands > 80 core, 60–80 active,
 * 40–60 normal, < 40 watch list, each adding its tag (`bandTagIds`, in `GROUP_MEMBER_BANDS` order).
 */
export function groupMemberScoreGraph(bandTagIds: readonly number[]): RuleGraph {
  const bands = ['core', 'active', 'normal', 'watch'];
  return {
    schemaVersion: 1,
    nodes: [
      { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } },
      {
        id: 's',
        kind: 'score',
        metrics: [
          { field: 'messageCount', weight: 30, cap: 60 },
          { field: 'event.count', params: { eventType: 'article_open', days: 30 }, weight: 25, cap: 5 },
          { field: 'event.count', params: { eventType: 'group_join', days: 90 }, weight: 20, cap: 2 },
          { field: 'inviteCount', weight: 15, cap: 5 },
          { field: 'violationCount', weight: 10, cap: 3 },
        ],
        bands: [
          { id: 'core', min: 80, max: null },
          { id: 'active', min: 60, max: 80 },
          { id: 'normal', min: 40, max: 60 },
          { id: 'watch', min: 0, max: 40 },
        ],
      },
      ...bandTagIds.map((tagId, i) => ({ id: `a${i + 1}`, kind: 'action' as const, action: { type: 'add_tag' as const, tagId } })),
    ],
    edges: [
      { id: 'e0', source: 't', target: 's' },
      ...bands.map((h, i) => ({ id: `e${i + 1}`, source: 's', target: `a${i + 1}`, sourceHandle: h })),
    ],
  };
}
