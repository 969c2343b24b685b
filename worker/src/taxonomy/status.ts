/**
 * Retiring and restoring a tag. A retired tag is frozen, not erased: its holdings and ledger stay
 * and nobody can add it again; restoring makes it active within the taxonomy's limits. Each
 * change and its audit entry commit in one batch, and a tag changed by someone else since it was
 * read is a 409 with no entry (one change, one entry).
 */
import { ApiError } from '../errors';
import type { SessionUser } from '@shared/api/auth';
import type { RetireTagBody, TaxonomyTag } from '@shared/api/taxonomy';
import { auditStatementIfChanged } from '../audit';
import type { Actor } from '../auth/access';
import { requireConfirmation } from '../auth/confirm';
import { groupById, requireEditable, requireTag, tagById, toTag, type TagRow } from './rows';
import { limitCheck, settings } from './settings';
import { activeChildren, holderCount, refuseWhilePublished, rulesUsing } from './usage';

async function setTagStatus(db: D1Database, actor: Actor, tag: TagRow, status: 'retired' | 'active', conflictMessage: string) {
  const at = Date.now();
  const next: TagRow = { ...tag, status, retired_at: status === 'retired' ? at : null };
  const [changed] = await db.batch([
    status === 'retired'
      ? db.prepare(`UPDATE tags SET status = 'retired', retired_at = ? WHERE id = ? AND status = 'active'`).bind(at, tag.id)
      : db.prepare(`UPDATE tags SET status = 'active', retired_at = NULL WHERE id = ? AND status = 'retired'`).bind(tag.id),
    auditStatementIfChanged(db, {
      actor,
      ...(status === 'retired'
        ? { action: 'tag.retire', summary: `Retired tag ${tag.name}` }
        : { action: 'tag.restore', summary: `Restored tag ${tag.name}` }),
      objectType: 'tag',
      objectId: tag.id,
      params: { name: tag.name },
      before: toTag(tag),
      after: toTag(next),
      at,
    }),
  ]);
  if (!changed!.meta.changes) throw new ApiError(409, 'conflict', conflictMessage);
  return toTag(next);
}

/** Retires tag `id`: refused while it has active child tags or a published rule uses it; holders confirm by count. */
export async function retireTag(db: D1Database, user: SessionUser, actor: Actor, id: number, body: RetireTagBody): Promise<TaxonomyTag> {
  const tag = await requireTag(db, id);
  requireEditable(user, (await groupById(db, tag.group_id))!);
  if (tag.status === 'retired') throw new ApiError(409, 'conflict', `${tag.name} is already retired`);
  const children = await activeChildren(db, id);
  if (children.length)
    throw new ApiError(
      409,
      'conflict',
      `Cannot retire ${tag.name}: retire or move its tags first (${children.map((ch) => ch.name).join(', ')})`,
      children.map((ch) => ({ path: `children.${ch.id}`, message: `${ch.name} is active` })),
    );
  refuseWhilePublished(user, tag, await rulesUsing(db, id), 'retire');
  const holders = await holderCount(db, id);
  if (holders > 0) {
    requireConfirmation(body.confirm, {
      object: tag.name,
      count: holders,
      what: `Retiring ${tag.name} freezes it on the ${holders} contacts holding it`,
    });
  }
  return setTagStatus(db, actor, tag, 'retired', `${tag.name} is already retired`);
}

/** Makes retired tag `id` active again: its parent must be active, and the group's and taxonomy's limits hold. */
export async function restoreTag(db: D1Database, env: Env, user: SessionUser, actor: Actor, id: number): Promise<TaxonomyTag> {
  const tag = await requireTag(db, id);
  requireEditable(user, (await groupById(db, tag.group_id))!);
  if (tag.status !== 'retired') throw new ApiError(409, 'conflict', `${tag.name} is not retired`);
  if (tag.parent_id != null) {
    const parent = await tagById(db, tag.parent_id);
    if (parent && parent.status !== 'active')
      throw new ApiError(409, 'conflict', `Restore ${parent.name} first: ${tag.name} sits under it`, [
        { path: 'parentId', message: `${parent.name} is retired` },
      ]);
  }
  await limitCheck(db, settings(env), (await groupById(db, tag.group_id))!);
  return setTagStatus(db, actor, tag, 'active', `${tag.name} is not retired`);
}
