/**
 * Rollbacks (`/api/rollbacks`, super admins only): tag state rebuilt from the tag ledger, as a
 * preview and then for real. A rollback writes its tag changes through the tag writer (source
 * `rollback`, a new batch id), a `rollbacks` row and an audit row in ONE `DB.batch`; it is
 * itself a ledger batch, so it can be undone like any other.
 *
 * Undo chains: undoing R writes U (R undone); undoing U writes V (R back in effect, U undone).
 * Undoing R again then means undoing V, the link that put R's changes back: R's own ledger rows
 * are superseded by U's and V's, so reversing them would only find conflicts. Every undo is
 * therefore written as the undo of its chain's latest link, and each link's status flips. Whether
 * a link is undone is read from the chain's parity, not from `undone_at` alone.
 *
 * Two things are refused with a 409 that says why: undoing what is undone already (undo its
 * undo instead), and undoing an import's rollback (`kind: 'import'`, written by
 * `POST /api/imports/:id/rollback`): it deleted the contacts the import created, and putting only
 * their tags back would be a lie, so the file is imported again instead.
 *
 * A rollback that makes a retired tag active again (a tag restore, or undoing the undo of one)
 * keeps the taxonomy's active-tag limits, as restoring by hand does; adds into exclusive groups
 * are planned one per contact and group (./rollback/sql.ts), as the tag writer keeps them.
 */
import { Hono } from 'hono';
import type { Context } from 'hono';
import type { AppEnv } from '../app-env';
import { ApiError } from '../errors';
import { validate } from '../validate';
import { actorOf, requireRole } from '../auth/access';
import { requireConfirmation } from '../auth/confirm';
import { auditStatementForNewRow } from '../audit';
import { applyPlanStatements } from '../rollback/plan';
import {
  createRollbackBody,
  previewRollbackBody,
  rollbackIdPath,
  rollbackListQuery,
  undoRollbackBody,
  type RollbackList,
  type RollbackPreview,
  type RollbackRecord,
  type RollbackResult,
  type RollbackTarget,
} from '@shared/api/rollbacks';
import { pauseRuleStatements } from '../rollback/pause';
import { readPage } from '../db/page';
import type { RollbackRow, UserRow } from '../db/rows';
import {
  chainOf,
  formatCount,
  parseParams,
  previewOf,
  resolve,
  undoLinks,
  type RollbackAuditEntry,
  type UndoLink,
} from '../rollback/resolve';

type ListedRollback = RollbackRow & { user_name: UserRow['name'] | null; user_email: UserRow['email'] | null };

const SELECT_ROLLBACK = `SELECT r.*, u.name AS user_name, u.email AS user_email FROM rollbacks r LEFT JOIN users u ON u.id = r.created_by`;

/** A row as the API shows it; undone or not by its undo chain (`links`: every undo). */
function toRecord(r: ListedRollback, links: UndoLink[]): RollbackRecord {
  const params = parseParams(r.params);
  const { down } = chainOf(links, r.batch_id);
  const undoneBy = down.length % 2 === 1 ? down[down.length - 1]!.id : null;
  return {
    id: r.id,
    kind: r.kind,
    batchId: r.batch_id,
    params,
    added: r.added,
    removed: r.removed,
    createdBy: r.created_by == null ? null : { id: r.created_by, name: r.user_name ?? '', email: r.user_email ?? '' },
    createdAt: r.created_at,
    undoneAt: r.undone_at,
    undoneBy,
    notUndoable: r.kind === 'import' ? 'import' : undoneBy !== null ? 'undone' : null,
  };
}

/** Checks the confirmation against a fresh count, then writes everything in one batch. */
async function run(
  c: Context<AppEnv>,
  target: RollbackTarget,
  confirm: { count: number } | undefined,
  pauseRule = false,
): Promise<RollbackResult> {
  const db = c.env.DB;
  const now = Date.now();
  const r = await resolve(db, c.env, target, now);
  const preview = await previewOf(db, r);
  if (preview.count === 0 && !r.changesMoreThanTags) {
    throw new ApiError(
      409,
      'conflict',
      `Nothing to roll back: ${r.object} needs no tag changes${preview.skipped ? ` (${formatCount(preview.skipped)} skipped)` : ''}`,
    );
  }
  requireConfirmation(confirm, {
    object: r.object,
    count: preview.count,
    what: `${r.verb} changes ${formatCount(preview.count)} tag${preview.count === 1 ? '' : 's'}`,
  });

  const user = c.get('user');
  const batchId = `rollback-${crypto.randomUUID()}`;
  const statements: D1PreparedStatement[] = [
    ...r.before(db, now),
    ...applyPlanStatements(db, r.plan, preview, { source: 'rollback', batchId, actorUserId: user.id, at: now }),
    ...(r.after?.(db, now) ?? []),
    // the counts are what the ledger says this batch wrote, displaced siblings included
    db
      .prepare(
        `INSERT INTO rollbacks (kind, batch_id, params, added, removed, created_by, created_at)
         VALUES (?, ?, ?, (SELECT count(*) FROM tag_ledger WHERE batch_id = ? AND op = 'add'),
                 (SELECT count(*) FROM tag_ledger WHERE batch_id = ? AND op = 'remove'), ?, ?)`,
      )
      .bind(target.kind, batchId, JSON.stringify(r.params), batchId, batchId, user.id, now),
    auditStatementForNewRow(db, {
      actor: actorOf(c),
      // the resolver's action and values with this run's counts (TypeScript cannot pair a union's members here)
      ...({
        action: r.audit.action,
        params: { ...r.audit.params, add: preview.add, remove: preview.remove, skipped: preview.skipped },
      } as RollbackAuditEntry),
      objectType: 'rollback',
      summary: `${r.verb}: +${formatCount(preview.add)} −${formatCount(preview.remove)} tags${preview.skipped ? `, ${formatCount(preview.skipped)} skipped` : ''}`,
      before: null,
      after: {
        kind: target.kind,
        batchId,
        params: r.params,
        add: preview.add,
        remove: preview.remove,
        displaced: preview.displaced,
        skipped: preview.skippedReasons,
      },
      at: now,
    }),
  ];
  // after the rollback's entry (which reads the rollbacks row's id from the statement before it)
  const pauseAt = statements.length;
  if (pauseRule && r.rule) statements.push(...pauseRuleStatements(db, r.rule, actorOf(c), now));
  const results = await db.batch(statements);
  const paused = pauseRule && r.rule && results[pauseAt]!.meta.changes > 0 ? { id: r.rule.id, name: r.rule.name } : null;
  const row = await db.prepare(`${SELECT_ROLLBACK} WHERE r.batch_id = ?`).bind(batchId).first<ListedRollback>();
  return { rollback: toRecord(row!, await undoLinks(db)), preview, pausedRule: paused };
}

export const rollbacks = new Hono<AppEnv>()
  .use('*', requireRole('super_admin'))
  .post('/preview', validate('json', previewRollbackBody), async (c) => {
    const t = c.req.valid('json');
    const r = await resolve(c.env.DB, c.env, t, Date.now());
    const body: RollbackPreview = await previewOf(c.env.DB, r);
    return c.json(body);
  })
  .get('/', validate('query', rollbackListQuery), async (c) => {
    const db = c.env.DB;
    const { rows, ...page } = await readPage<ListedRollback>(
      db,
      c.req.valid('query'),
      `${SELECT_ROLLBACK} ORDER BY r.created_at DESC, r.id DESC`,
      'SELECT count(*) AS n FROM rollbacks',
      [],
    );
    const links = await undoLinks(db);
    const body: RollbackList = { ...page, items: rows.map((r) => toRecord(r, links)) };
    return c.json(body);
  })
  .post('/', validate('json', createRollbackBody), async (c) => {
    const body = c.req.valid('json');
    const { confirm, ...target } = body;
    const pauseRule = body.kind === 'rule_version' && body.pauseRule === true;
    if (body.kind === 'rule_version') delete (target as { pauseRule?: boolean }).pauseRule;
    return c.json(await run(c, target as RollbackTarget, confirm, pauseRule), 201);
  })
  .post('/:id/undo', validate('param', rollbackIdPath), validate('json', undoRollbackBody), async (c) => {
    const { id } = c.req.valid('param');
    const { confirm } = c.req.valid('json');
    const row = await c.env.DB.prepare('SELECT batch_id FROM rollbacks WHERE id = ?').bind(id).first<{ batch_id: string }>();
    if (!row) throw new ApiError(404, 'not_found', `No rollback with id ${id}`);
    // undone already, or an import's rollback: refused by the resolver, naming why
    return c.json(await run(c, { kind: 'batch', batchId: row.batch_id }, confirm), 201);
  });
