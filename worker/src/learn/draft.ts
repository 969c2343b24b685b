/**
 * A suggestion made into an ordinary draft rule by `createDraftRule`, as `POST /api/rules` makes
 * one: the same rights check (the user must be able to apply the tag by hand), the same
 * owning department rule, one INSERT of a `draft` rule with its audit entry in one batch, and the
 * name's search keys. The draft's add-tag actions add the tag the person picks (the outcome's tag
 * when it is one). The leaves' numbers stay with the suggestion (`rule_suggestions.rule_ids`
 * links the two); nothing is published.
 */
import type { SessionUser } from '@shared/api/auth';
import type { SuggestionParams, SuggestionResult } from '@shared/api/suggestions';
import { parseJsonOr } from '@shared/json';
import type { RuleGraph } from '@shared/rules/types';
import { ApiError } from '../errors';
import type { Actor } from '../auth/access';
import { createDraftRule } from '../rules/create';
import type { SuggestionRow } from './store';

/** The graph with every add-tag action adding `tagId`. */
export function withTag(graph: RuleGraph, tagId: number): RuleGraph {
  return {
    ...graph,
    nodes: graph.nodes.map((n) => (n.kind === 'action' && n.action.type === 'add_tag' ? { ...n, action: { ...n.action, tagId } } : n)),
  };
}

export async function draftFromSuggestion(
  db: D1Database,
  user: SessionUser,
  actor: Actor,
  row: SuggestionRow,
  body: { name: string; tagId?: number },
): Promise<number> {
  const result = parseJsonOr<SuggestionResult | null>(row.result, null);
  if (row.status !== 'done' || !result)
    throw new ApiError(409, 'conflict', `Suggestion ${row.id} is ${row.status}: only a finished suggestion makes a draft`, [
      { path: 'id', message: `suggestion is ${row.status}` },
    ]);
  const params = parseJsonOr<SuggestionParams | null>(row.params, null);
  const tagId = body.tagId ?? (params?.outcome.kind === 'tag' ? params.outcome.tagId : undefined);
  if (tagId === undefined)
    throw new ApiError(400, 'invalid_request', 'tagId: pick the tag the draft adds', [{ path: 'tagId', message: 'required' }]);
  const tag = await db.prepare("SELECT id FROM tags WHERE id = ? AND status = 'active'").bind(tagId).first();
  if (!tag)
    throw new ApiError(400, 'unknown_reference', `tagId: no active tag with id ${tagId}`, [{ path: 'tagId', message: 'no such tag' }]);
  const graph = withTag(result.graph, tagId);
  return createDraftRule(db, user, actor, {
    name: body.name,
    departmentId: row.department_id ?? undefined,
    graph,
    audit: () => ({
      action: 'rule.from_suggestion',
      summary: `created rule "${body.name}" from learned suggestion ${row.id}`,
      params: { name: body.name, suggestion: row.id },
      after: { name: body.name, suggestion: row.id, draftGraph: graph },
    }),
    // the batch is one transaction: the newest rule is the one inserted above
    after: (at) => [
      db
        .prepare(
          `UPDATE rule_suggestions SET rule_ids = json_insert(rule_ids, '$[#]', (SELECT max(id) FROM rules)), updated_at = ? WHERE id = ?`,
        )
        .bind(at, row.id),
    ],
  });
}
