/**
 * Merging a tag into another: its holders move (through the tag writer, exclusive groups
 * respected), drafts and segments naming it are rewritten, and it is retired, in one batch with
 * an audit row per object. Refused while published rules use it (they would silently break).
 */
import { ApiError } from '../errors';
import { auditStatement } from '../audit';
import { requireConfirmation } from '../auth/confirm';
import type { Actor } from '../auth/access';
import { tagSetStatements, type TagWriteSource } from '../tagging/tag-writer';
import { replaceTagInGraph, replaceTagInLogic } from '@shared/tags';
import type { SessionUser } from '@shared/api/auth';
import type { MergeResult, MergeTagBody } from '@shared/api/taxonomy';
import type { JsonLogic } from '@shared/rules/types';
import { groupById, requireEditable, requireTag, tagById, toTag, type TagRow } from './rows';
import { activeChildren, holderCount, parse, refuseWhilePublished, rulesUsing, segmentsUsing } from './usage';

/** Merges tag `id` into `intoTagId` as `user` (`actor` for the audit rows). */
export async function mergeTag(
  db: D1Database,
  user: SessionUser,
  actor: Actor,
  id: number,
  { intoTagId, confirm }: MergeTagBody,
): Promise<MergeResult> {
  // Long on purpose: the refusals, then one batch that moves holders, ledger, rules and segments together.
  const from = await requireTag(db, id);
  requireEditable(user, (await groupById(db, from.group_id))!);
  if (intoTagId === id)
    throw new ApiError(400, 'invalid_request', 'intoTagId: a tag cannot be merged into itself', [
      { path: 'intoTagId', message: 'must differ from the merged tag' },
    ]);
  const into = await tagById(db, intoTagId);
  if (!into)
    throw new ApiError(400, 'unknown_reference', `intoTagId: no tag with id ${intoTagId}`, [{ path: 'intoTagId', message: 'no such tag' }]);
  if (into.status !== 'active')
    throw new ApiError(409, 'conflict', `${into.name} is retired: restore it or merge into an active tag`, [
      { path: 'intoTagId', message: 'retired' },
    ]);
  const children = await activeChildren(db, id);
  if (children.length)
    throw new ApiError(
      409,
      'conflict',
      `Cannot merge ${from.name}: merge or move its tags first (${children.map((ch) => ch.name).join(', ')})`,
      children.map((ch) => ({ path: `children.${ch.id}`, message: `${ch.name} is active` })),
    );
  const [rules, segments, movedHolders] = await Promise.all([rulesUsing(db, id), segmentsUsing(db, id), holderCount(db, id)]);
  refuseWhilePublished(user, from, rules, 'merge');
  requireEditable(user, (await groupById(db, into.group_id))!);
  if (movedHolders > 0) {
    requireConfirmation(confirm, {
      object: from.name,
      count: movedHolders,
      what: `Merging ${from.name} into ${into.name} moves ${movedHolders} contacts' tags`,
    });
  }

  const at = Date.now();
  const batchId = `merge-${crypto.randomUUID()}`;
  const src: TagWriteSource = { source: 'merge', batchId, at, actorUserId: user.id };
  const holdersOfFrom = { sql: 'SELECT contact_id FROM contact_tags WHERE tag_id = ?', params: [id] };
  const statements: D1PreparedStatement[] = [
    // holders gain the target first (exclusive siblings handled by the writer), then lose the source
    ...tagSetStatements(db, holdersOfFrom, intoTagId, 'add', src),
    ...tagSetStatements(db, holdersOfFrom, id, 'remove', src),
    db.prepare(`UPDATE tags SET status = 'retired', retired_at = coalesce(retired_at, ?) WHERE id = ?`).bind(at, id),
  ];
  const rulesRewritten: MergeResult['rulesRewritten'] = [];
  for (const r of rules.rows) {
    const before = parse(r.draft_graph);
    const { graph, replaced } = replaceTagInGraph(before, id, intoTagId);
    if (!replaced) continue;
    rulesRewritten.push({ id: r.id, name: r.name, places: replaced });
    statements.push(
      db.prepare('UPDATE rules SET draft_graph = ?, updated_at = ? WHERE id = ?').bind(JSON.stringify(graph), at, r.id),
      auditStatement(db, {
        actor: actor,
        action: 'rule.update',
        objectType: 'rule',
        objectId: r.id,
        summary: `Draft of ${r.name}: tag ${from.name} replaced by ${into.name} (merge, ${replaced} places)`,
        params: { name: r.name, from: from.name, into: into.name, places: replaced },
        before: { draftGraph: before },
        after: { draftGraph: graph, batchId },
        at,
      }),
    );
  }
  const segmentsRewritten: MergeResult['segmentsRewritten'] = [];
  for (const s of segments) {
    const before = parse(s.graph);
    const { graph, replaced } = replaceTagInGraph(before, id, intoTagId);
    if (!replaced) continue;
    const logic = replaceTagInLogic(parse(s.logic) as JsonLogic, id, intoTagId);
    segmentsRewritten.push({ id: s.id, name: s.name, places: replaced });
    statements.push(
      db
        .prepare('UPDATE segments SET graph = ?, logic = ?, updated_at = ? WHERE id = ?')
        .bind(JSON.stringify(graph), JSON.stringify(logic), at, s.id),
      auditStatement(db, {
        actor: actor,
        action: 'segment.update',
        objectType: 'segment',
        objectId: s.id,
        summary: `Segment ${s.name}: tag ${from.name} replaced by ${into.name} (merge, ${replaced} places)`,
        params: { variant: 'merge', name: s.name, from: from.name, into: into.name, places: replaced },
        before: { graph: before },
        after: { graph, batchId },
        at,
      }),
    );
  }
  const fromAfter: TagRow = { ...from, status: 'retired', retired_at: from.retired_at ?? at };
  statements.push(
    auditStatement(db, {
      actor: actor,
      action: 'tag.merge',
      objectType: 'tag',
      objectId: id,
      summary: `Merged tag ${from.name} into ${into.name}: ${movedHolders} holders moved, ${rulesRewritten.length} rules and ${segmentsRewritten.length} segments rewritten`,
      params: { from: from.name, into: into.name, holders: movedHolders, rules: rulesRewritten.length, segments: segmentsRewritten.length },
      before: toTag(from),
      after: {
        ...toTag(fromAfter),
        mergedInto: intoTagId,
        batchId,
        movedHolders,
        rules: rulesRewritten.map((r) => r.id),
        segments: segmentsRewritten.map((s) => s.id),
      },
      at,
    }),
  );
  await db.batch(statements);
  const intoAfter = (await tagById(db, intoTagId))!;
  return { batchId, from: toTag(fromAfter), into: toTag(intoAfter), movedHolders, rulesRewritten, segmentsRewritten };
}
