/**
 * A rollback target checked against the database: its plan (./plan.ts), its name in messages,
 * what its row stores, and the undo chains it belongs to (see worker/src/routes/rollbacks.ts).
 */
import { ApiError } from '../errors';
import { checkActiveTagLimits } from '../taxonomy/settings';
import type { AuditParamsByAction } from '@shared/api/audit';
import { batchPlan, previewPlan, ruleVersionPlan, tagRestorePlan, toTimePlan, type Plan } from './plan';
import type { RollbackPreview, RollbackTarget } from '@shared/api/rollbacks';
import type { RollbackKind, RuleStatus } from '@shared/domain';
import { parseJsonObject } from '@shared/json';

/** A target checked against the database: its plan, its name in messages, what the row stores. */
export interface Resolved {
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
  /** undoing a rollback again: the chain's latest link, which is what gets reversed */
  reverses?: number;
  /** a rule version's rollback: the rule, which may be paused with it */
  rule?: { id: number; name: string; status: RuleStatus };
}

/** `AuditParamsByAction['rollback.<kind>']` less the counts, known only after the preview. */
export type RollbackAudit = {
  [K in RollbackKind]: {
    action: `rollback.${K}`;
    params: DistributiveOmit<AuditParamsByAction[`rollback.${K}`], 'add' | 'remove' | 'skipped'>;
  };
}[RollbackKind];
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** The same with the counts: the action and params of the entry a rollback writes. */
export type RollbackAuditEntry = {
  [K in RollbackKind]: { action: `rollback.${K}`; params: AuditParamsByAction[`rollback.${K}`] };
}[RollbackKind];

export const none = () => [];
export const formatCount = (n: number) => n.toLocaleString('en-US');
export const iso = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');
export const unknownRef = (path: string, message: string, what: string) =>
  new ApiError(400, 'unknown_reference', `${path}: ${what}`, [{ path, message }]);

/** An undo (`kind: 'batch'`): its id, its own batch, and the batch it undid. */
export interface UndoLink {
  id: number;
  batch_id: string;
  of: string | null;
}

/** Every undo there is: rollbacks are rare human actions, and undos fewer still. */
export async function undoLinks(db: D1Database): Promise<UndoLink[]> {
  const { results } = await db
    .prepare(`SELECT id, batch_id, json_extract(params, '$.batchId') AS of FROM rollbacks WHERE kind = 'batch' ORDER BY id`)
    .all<UndoLink>();
  return results;
}

/**
 * The undo chain through `batchId`: `up` the batches it undoes, transitively (root first), `down`
 * the undos written after it, each undoing the one before (the latest undo of a batch counts).
 * `batchId` is undone now when `down` is odd.
 */
export function chainOf(links: UndoLink[], batchId: string): { up: string[]; down: UndoLink[] } {
  const byBatch = new Map(links.map((l) => [l.batch_id, l]));
  const latestUndoOf = new Map<string, UndoLink>();
  for (const l of links) if (l.of != null) latestUndoOf.set(l.of, l);
  const seen = new Set([batchId]);
  const up: string[] = [];
  for (let cur = byBatch.get(batchId)?.of; cur != null && !seen.has(cur); cur = byBatch.get(cur)?.of) {
    seen.add(cur);
    up.unshift(cur);
  }
  const down: UndoLink[] = [];
  for (let next = latestUndoOf.get(batchId); next && !seen.has(next.batch_id); next = latestUndoOf.get(next.batch_id)) {
    seen.add(next.batch_id);
    down.push(next);
  }
  return { up, down };
}

/** 409: an import's rollback cannot be undone (see the header). */
export function importNotUndoable(id: number, params: Record<string, unknown>): ApiError {
  const deleted = Number(params.contactsDeleted ?? 0);
  const why =
    deleted > 0
      ? `it deleted the ${formatCount(deleted)} contact${deleted === 1 ? '' : 's'} the import created, which cannot come back with their ids and history`
      : 'undoing it means applying the import again (the contact values it restored, not only tags)';
  return new ApiError(
    409,
    'conflict',
    `Rollback #${id} rolled back import "${String(params.fileName ?? '')}" and cannot be undone: ${why}. Import the file again instead.`,
    [{ path: 'id', message: 'an import rollback: import the file again' }],
  );
}

/** A row's params (one written by hand reads as none). */
export const parseParams = parseJsonObject;

export async function resolve(db: D1Database, env: Env, t: RollbackTarget, now: number): Promise<Resolved> {
  // Long on purpose: one short case per rollback kind; a switch shows them side by side.
  switch (t.kind) {
    case 'to_time': {
      if (t.at > now)
        throw new ApiError(400, 'invalid_request', `at: ${iso(t.at)} is in the future`, [{ path: 'at', message: 'must be in the past' }]);
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
          params:
            t.contactId === undefined
              ? { variant: 'all', at: t.at }
              : { variant: 'contact', at: t.at, contact: contactName ?? `#${t.contactId}`, contactId: t.contactId },
        },
        before: none,
        changesMoreThanTags: false,
      };
    }
    case 'rule_version': {
      const rule = await db
        .prepare('SELECT name, status FROM rules WHERE id = ?')
        .bind(t.ruleId)
        .first<{ name: string; status: RuleStatus }>();
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
        rule: { id: t.ruleId, name: rule.name, status: rule.status },
      };
    }
    case 'tag_restore': {
      const tag = await db
        .prepare(
          'SELECT t.name, t.status, t.retired_at, t.group_id, t.parent_id, p.name AS parent_name, p.status AS parent_status FROM tags t LEFT JOIN tags p ON p.id = t.parent_id WHERE t.id = ?',
        )
        .bind(t.tagId)
        .first<{
          name: string;
          status: string;
          retired_at: number | null;
          group_id: number;
          parent_id: number | null;
          parent_name: string | null;
          parent_status: string | null;
        }>();
      if (!tag) throw unknownRef('tagId', 'no such tag', `no tag with id ${t.tagId}`);
      if (tag.status !== 'retired')
        throw new ApiError(409, 'conflict', `Tag "${tag.name}" is not retired`, [{ path: 'tagId', message: 'not retired' }]);
      if (tag.parent_id != null && tag.parent_status !== 'active')
        throw new ApiError(409, 'conflict', `Restore "${tag.parent_name ?? ''}" first: "${tag.name}" sits under it`, [
          { path: 'tagId', message: `parent ${tag.parent_name ?? ''} is retired` },
        ]);
      // it becomes active: the taxonomy's active-tag limits apply, as when restoring it by hand
      await checkActiveTagLimits(db, env, tag.group_id);
      const object = `retired tag "${tag.name}" with its holders`;
      return {
        // a tag retired without a date (imported that way): its last known holders
        plan: tagRestorePlan(t.tagId, tag.retired_at ?? now + 1),
        object,
        verb: `Restoring ${object}`,
        params: { tagId: t.tagId, tagName: tag.name, retiredAt: tag.retired_at },
        audit: { action: 'rollback.tag_restore', params: { tag: tag.name } },
        before: (db) => [
          db.prepare(`UPDATE tags SET status = 'active', retired_at = NULL WHERE id = ? AND status = 'retired'`).bind(t.tagId),
        ],
        changesMoreThanTags: true,
      };
    }
    case 'batch': {
      const { up, down } = chainOf(await undoLinks(db), t.batchId);
      const root = up[0] ?? t.batchId;
      const { results: rows } = await db
        .prepare('SELECT id, kind, batch_id, params FROM rollbacks WHERE batch_id IN (?, ?)')
        .bind(t.batchId, root)
        .all<{ id: number; kind: RollbackKind; batch_id: string; params: string }>();
      const rb = rows.find((r) => r.batch_id === t.batchId);
      const rootRow = rows.find((r) => r.batch_id === root);
      if (!rb) {
        const seen = await db.prepare('SELECT 1 AS ok FROM tag_ledger WHERE batch_id = ? LIMIT 1').bind(t.batchId).first();
        if (!seen) throw unknownRef('batchId', 'no ledger rows with this batch id', `no tag changes with batch id ${t.batchId}`);
      }
      if (rb?.kind === 'import') throw importNotUndoable(rb.id, parseParams(rb.params));
      const object = rb ? `rollback #${rb.id}` : `batch ${t.batchId}`;
      const tip = down[down.length - 1];
      if (down.length % 2 === 1) {
        throw new ApiError(
          409,
          'conflict',
          `${rb ? `Rollback #${rb.id}` : `Batch ${t.batchId}`} is already undone by rollback #${tip!.id}: undo #${tip!.id} to bring its changes back`,
          [{ path: 'batchId', message: `already undone by rollback #${tip!.id}` }],
        );
      }
      // undone and put back since: undoing it again is undoing the link that put it back
      const effective = tip ?? null;
      const undoOf = effective?.id ?? rb?.id;
      const batchId = effective?.batch_id ?? t.batchId;
      // after this undo every link of the chain flips: those an odd number of links above it are undone
      const chain = [...up, t.batchId, ...down.map((d) => d.batch_id)];
      const undone = chain.filter((_, i) => (chain.length - i) % 2 === 1);
      const flip = (db: D1Database, at: number) => [
        db
          .prepare(
            `UPDATE rollbacks SET undone_at = CASE WHEN batch_id IN (SELECT value FROM json_each(?1)) THEN ?2 ELSE NULL END
             WHERE batch_id IN (SELECT value FROM json_each(?3))`,
          )
          .bind(JSON.stringify(undone), at, JSON.stringify(chain)),
      ];
      // a tag restore at the chain's root: its tag is retired again when the restore ends up
      // undone, and made active again (limits checked) when it ends up back in effect
      const restored =
        rootRow?.kind === 'tag_restore' ? (parseParams(rootRow.params) as { tagId: number; retiredAt: number | null }) : null;
      const restoreBack = restored !== null && !undone.includes(root);
      let before: Resolved['before'] = none;
      if (restoreBack) {
        const tag = await db
          .prepare(
            'SELECT t.name, t.status, t.group_id, p.name AS parent_name, p.status AS parent_status FROM tags t LEFT JOIN tags p ON p.id = t.parent_id WHERE t.id = ?',
          )
          .bind(restored.tagId)
          .first<{ name: string; status: string; group_id: number; parent_name: string | null; parent_status: string | null }>();
        if (tag?.status === 'retired') {
          if (tag.parent_status != null && tag.parent_status !== 'active')
            throw new ApiError(409, 'conflict', `Restore "${tag.parent_name ?? ''}" first: "${tag.name}" sits under it`, [
              { path: 'batchId', message: `parent ${tag.parent_name ?? ''} is retired` },
            ]);
          await checkActiveTagLimits(db, env, tag.group_id);
          before = (db) => [
            db.prepare(`UPDATE tags SET status = 'active', retired_at = NULL WHERE id = ? AND status = 'retired'`).bind(restored.tagId),
          ];
        }
      }
      return {
        plan: batchPlan(batchId, restoreBack ? restored.tagId : undefined),
        object,
        verb: effective ? `Undoing ${object} again (undoing rollback #${effective.id}, which put its changes back)` : `Undoing ${object}`,
        params: undoOf !== undefined ? { batchId, undoOf } : { batchId },
        audit: {
          action: 'rollback.batch',
          params: undoOf !== undefined ? { variant: 'rollback', rollbackId: undoOf } : { variant: 'batch', batchId },
        },
        before,
        after: (db, at) => [
          ...(restored && !restoreBack
            ? [
                db
                  .prepare(`UPDATE tags SET status = 'retired', retired_at = ? WHERE id = ? AND status = 'active'`)
                  .bind(restored.retiredAt ?? at, restored.tagId),
              ]
            : []),
          ...flip(db, at),
        ],
        changesMoreThanTags: restored !== null,
        ...(effective ? { reverses: effective.id } : {}),
      };
    }
  }
}

/** The plan's counts, and which link of an undo chain it reverses. */
export async function previewOf(db: D1Database, r: Resolved): Promise<RollbackPreview> {
  return { ...(await previewPlan(db, r.plan, r.object)), reverses: r.reverses ?? null, ...(r.rule ? { rule: r.rule } : {}) };
}
