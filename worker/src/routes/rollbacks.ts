/**
 * Rollbacks (`/api/rollbacks`, super admins only): tag state rebuilt from the tag ledger, as a
 * preview and then for real. A rollback writes its tag changes through the tag writer (source
 * `rollback`, a new batch id), a `rollbacks` row and an audit row in ONE `DB.batch`; it is
 * itself a ledger batch, so it can be undone like any other.
 */
import { Hono } from 'hono';
import type { Context } from 'hono';
import type { AppEnv } from '../app-env';
import { ApiError } from '../errors';
import { validate } from '../validate';
import { actorOf, requireRole } from '../auth/access';
import { requireConfirmation } from '../auth/confirm';
import { auditStatementForNewRow } from '../audit';
import type { AuditParamsByAction } from '../../../shared/src/api/audit';
import { applyPlanStatements, batchPlan, previewPlan, ruleVersionPlan, tagRestorePlan, toTimePlan, type Plan } from '../rollback/plan';
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
} from '../../../shared/src/api/rollbacks';
import type { RollbackKind } from '../../../shared/src/domain';

/** A target checked against the database: its plan, its name in messages, what the row stores. */
interface Resolved {
  plan: Plan;
  /** `version 3 of rule "高价值客户"` */
  object: string;
  /** `Undoing version 3 of rule "高价值客户"` */
  verb: string;
  params: Record<string, unknown>;
  /** the audit entry's action and the values of its sentence but the counts */
  audit: RollbackAudit;
  /** statements that go before the tag changes (tag_restore makes the tag active) */
  before: (db: D1Database, at: number) => D1PreparedStatement[];
  /** statements that go after them (undoing a tag restore retires the tag again) */
  after?: (db: D1Database, at: number) => D1PreparedStatement[];
  /** a change that is not a tag change (restoring a tag's status): allowed with count 0 */
  changesMoreThanTags: boolean;
}

/** `AuditParamsByAction['rollback.<kind>']` less the counts, known only after the preview. */
type RollbackAudit = {
  [K in RollbackKind]: { action: `rollback.${K}`; params: DistributiveOmit<AuditParamsByAction[`rollback.${K}`], 'add' | 'remove' | 'skipped'> };
}[RollbackKind];
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** The same with the counts: the action and params of the entry a rollback writes. */
type RollbackAuditEntry = { [K in RollbackKind]: { action: `rollback.${K}`; params: AuditParamsByAction[`rollback.${K}`] } }[RollbackKind];

const none = () => [];
const formatCount = (n: number) => n.toLocaleString('en-US');
const iso = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
const unknownRef = (path: string, message: string, what: string) => new ApiError(400, 'unknown_reference', `${path}: ${what}`, [{ path, message }]);

async function resolve(db: D1Database, t: RollbackTarget, now: number): Promise<Resolved> {
  switch (t.kind) {
    case 'to_time': {
      if (t.at > now) throw new ApiError(400, 'invalid_request', `at: ${iso(t.at)} is in the future`, [{ path: 'at', message: 'must be in the past' }]);
      let contactName: string | null = null;
      if (t.contactId !== undefined) {
        const c = await db.prepare('SELECT name FROM contacts WHERE id = ?').bind(t.contactId).first<{ name: string | null }>();
        if (!c) throw unknownRef('contactId', 'no such contact', `no contact with id ${t.contactId}`);
        contactName = c.name;
      }
      const who = t.contactId === undefined ? "everyone's tags" : `the tags of contact "${contactName ?? ''}" (#${t.contactId})`;
      return {
        plan: toTimePlan(t.at, t.contactId),
        object: `${who} as of ${iso(t.at)}`,
        verb: `Rolling ${who} back to ${iso(t.at)}`,
        params: t.contactId === undefined ? { at: t.at } : { at: t.at, contactId: t.contactId, contactName },
        audit: {
          action: 'rollback.to_time',
          params: t.contactId === undefined ? { variant: 'all', at: t.at } : { variant: 'contact', at: t.at, contact: contactName ?? `#${t.contactId}`, contactId: t.contactId },
        },
        before: none,
        changesMoreThanTags: false,
      };
    }
    case 'rule_version': {
      const rule = await db.prepare('SELECT name FROM rules WHERE id = ?').bind(t.ruleId).first<{ name: string }>();
      if (!rule) throw unknownRef('ruleId', 'no such rule', `no rule with id ${t.ruleId}`);
      const v = await db.prepare('SELECT 1 AS ok FROM rule_versions WHERE rule_id = ? AND version = ?').bind(t.ruleId, t.version).first();
      if (!v) throw unknownRef('version', 'no such version', `rule "${rule.name}" has no version ${t.version}`);
      const object = `version ${t.version} of rule "${rule.name}"`;
      return {
        plan: ruleVersionPlan(t.ruleId, t.version),
        object,
        verb: `Undoing ${object}`,
        params: { ruleId: t.ruleId, version: t.version, ruleName: rule.name },
        audit: { action: 'rollback.rule_version', params: { rule: rule.name, version: t.version } },
        before: none,
        changesMoreThanTags: false,
      };
    }
    case 'tag_restore': {
      const tag = await db
        .prepare('SELECT t.name, t.status, t.retired_at, t.parent_id, p.name AS parent_name, p.status AS parent_status FROM tags t LEFT JOIN tags p ON p.id = t.parent_id WHERE t.id = ?')
        .bind(t.tagId)
        .first<{ name: string; status: string; retired_at: number | null; parent_id: number | null; parent_name: string | null; parent_status: string | null }>();
      if (!tag) throw unknownRef('tagId', 'no such tag', `no tag with id ${t.tagId}`);
      if (tag.status !== 'retired') throw new ApiError(409, 'conflict', `Tag "${tag.name}" is not retired`, [{ path: 'tagId', message: 'not retired' }]);
      if (tag.parent_id != null && tag.parent_status !== 'active')
        throw new ApiError(409, 'conflict', `Restore "${tag.parent_name ?? ''}" first: "${tag.name}" sits under it`, [{ path: 'tagId', message: `parent ${tag.parent_name ?? ''} is retired` }]);
      const object = `retired tag "${tag.name}" with its holders`;
      return {
        // a tag retired without a date (imported that way): its last known holders
        plan: tagRestorePlan(t.tagId, tag.retired_at ?? now + 1),
        object,
        verb: `Restoring ${object}`,
        params: { tagId: t.tagId, tagName: tag.name, retiredAt: tag.retired_at },
        audit: { action: 'rollback.tag_restore', params: { tag: tag.name } },
        before: (db) => [db.prepare(`UPDATE tags SET status = 'active', retired_at = NULL WHERE id = ? AND status = 'retired'`).bind(t.tagId)],
        changesMoreThanTags: true,
      };
    }
    case 'batch': {
      const seen = await db.prepare('SELECT 1 AS ok FROM tag_ledger WHERE batch_id = ? LIMIT 1').bind(t.batchId).first();
      if (!seen) throw unknownRef('batchId', 'no ledger rows with this batch id', `no tag changes with batch id ${t.batchId}`);
      const rb = await db
        .prepare('SELECT id, kind, params, undone_at FROM rollbacks WHERE batch_id = ?')
        .bind(t.batchId)
        .first<{ id: number; kind: RollbackKind; params: string; undone_at: number | null }>();
      if (rb?.undone_at != null) throw new ApiError(409, 'conflict', `Rollback #${rb.id} is already undone`, [{ path: 'batchId', message: 'already undone' }]);
      const object = rb ? `rollback #${rb.id}` : `batch ${t.batchId}`;
      // undoing a tag restore retires the tag again, as it was (after its holders are removed)
      const restored = rb?.kind === 'tag_restore' ? (JSON.parse(rb.params) as { tagId: number; retiredAt: number | null }) : null;
      return {
        plan: batchPlan(t.batchId),
        object,
        verb: `Undoing ${object}`,
        params: rb ? { batchId: t.batchId, undoOf: rb.id } : { batchId: t.batchId },
        audit: { action: 'rollback.batch', params: rb ? { variant: 'rollback', rollbackId: rb.id } : { variant: 'batch', batchId: t.batchId } },
        before: none,
        after: restored
          ? (db, at) => [db.prepare(`UPDATE tags SET status = 'retired', retired_at = ? WHERE id = ? AND status = 'active'`).bind(restored.retiredAt ?? at, restored.tagId)]
          : none,
        changesMoreThanTags: restored !== null,
      };
    }
  }
}

interface RollbackRow {
  id: number;
  kind: RollbackKind;
  batch_id: string;
  params: string;
  added: number;
  removed: number;
  created_by: number | null;
  user_name: string | null;
  user_email: string | null;
  created_at: number;
  undone_at: number | null;
  undone_by: number | null;
}

const SELECT_ROLLBACK = `SELECT r.*, u.name AS user_name, u.email AS user_email,
  (SELECT max(x.id) FROM rollbacks x WHERE x.kind = 'batch' AND json_extract(x.params, '$.batchId') = r.batch_id) AS undone_by
  FROM rollbacks r LEFT JOIN users u ON u.id = r.created_by`;

function toRecord(r: RollbackRow): RollbackRecord {
  let params: Record<string, unknown> = {};
  try {
    params = JSON.parse(r.params) as Record<string, unknown>;
  } catch {
    // a row written by hand: shown without its parameters
  }
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
    undoneBy: r.undone_by,
  };
}

/** Checks the confirmation against a fresh count, then writes everything in one batch. */
async function run(c: Context<AppEnv>, target: RollbackTarget, confirm: { count: number } | undefined): Promise<RollbackResult> {
  const db = c.env.DB;
  const now = Date.now();
  const r = await resolve(db, target, now);
  const preview = await previewPlan(db, r.plan, r.object);
  if (preview.count === 0 && !r.changesMoreThanTags) {
    throw new ApiError(409, 'conflict', `Nothing to roll back: ${r.object} needs no tag changes${preview.skipped ? ` (${formatCount(preview.skipped)} skipped)` : ''}`);
  }
  requireConfirmation(confirm, { object: r.object, count: preview.count, what: `${r.verb} changes ${formatCount(preview.count)} tag${preview.count === 1 ? '' : 's'}` });

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
      ...({ action: r.audit.action, params: { ...r.audit.params, add: preview.add, remove: preview.remove, skipped: preview.skipped } } as RollbackAuditEntry),
      objectType: 'rollback',
      summary: `${r.verb}: +${formatCount(preview.add)} −${formatCount(preview.remove)} tags${preview.skipped ? `, ${formatCount(preview.skipped)} skipped` : ''}`,
      before: null,
      after: { kind: target.kind, batchId, params: r.params, add: preview.add, remove: preview.remove, displaced: preview.displaced, skipped: preview.skippedReasons },
      at: now,
    }),
  ];
  if (target.kind === 'batch') {
    statements.push(
      // the rollback undone is marked; undoing an undo puts the rollback it undid back in effect
      db.prepare('UPDATE rollbacks SET undone_at = ? WHERE batch_id = ? AND undone_at IS NULL').bind(now, target.batchId),
      db
        .prepare(
          `UPDATE rollbacks SET undone_at = NULL
           WHERE batch_id = (SELECT json_extract(params, '$.batchId') FROM rollbacks WHERE batch_id = ? AND kind = 'batch')`,
        )
        .bind(target.batchId),
    );
  }
  await db.batch(statements);
  const row = await db.prepare(`${SELECT_ROLLBACK} WHERE r.batch_id = ?`).bind(batchId).first<RollbackRow>();
  return { rollback: toRecord(row!), preview };
}

export const rollbacks = new Hono<AppEnv>()
  .use('*', requireRole('super_admin'))
  .post('/preview', validate('json', previewRollbackBody), async (c) => {
    const t = c.req.valid('json');
    const r = await resolve(c.env.DB, t, Date.now());
    const body: RollbackPreview = await previewPlan(c.env.DB, r.plan, r.object);
    return c.json(body);
  })
  .get('/', validate('query', rollbackListQuery), async (c) => {
    const { page, pageSize } = c.req.valid('query');
    const db = c.env.DB;
    const [total, rows] = await db.batch<Record<string, unknown>>([
      db.prepare('SELECT count(*) AS n FROM rollbacks'),
      db.prepare(`${SELECT_ROLLBACK} ORDER BY r.created_at DESC, r.id DESC LIMIT ? OFFSET ?`).bind(pageSize, (page - 1) * pageSize),
    ]);
    const body: RollbackList = {
      items: (rows!.results as unknown as RollbackRow[]).map(toRecord),
      total: Number(total!.results[0]?.n ?? 0),
      page,
      pageSize,
    };
    return c.json(body);
  })
  .post('/', validate('json', createRollbackBody), async (c) => {
    const { confirm, ...target } = c.req.valid('json');
    return c.json(await run(c, target as RollbackTarget, confirm), 201);
  })
  .post('/:id/undo', validate('param', rollbackIdPath), validate('json', undoRollbackBody), async (c) => {
    const { id } = c.req.valid('param');
    const { confirm } = c.req.valid('json');
    const row = await c.env.DB.prepare('SELECT batch_id, undone_at FROM rollbacks WHERE id = ?').bind(id).first<{ batch_id: string; undone_at: number | null }>();
    if (!row) throw new ApiError(404, 'not_found', `No rollback with id ${id}`);
    if (row.undone_at != null) throw new ApiError(409, 'conflict', `Rollback #${id} is already undone`);
    return c.json(await run(c, { kind: 'batch', batchId: row.batch_id }, confirm), 201);
  });
