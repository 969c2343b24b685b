/**
 * The rollback API (`/api/rollbacks`, super admins only): tag state rebuilt from the tag ledger.
 *
 * - `to_time`: every contact's (or one contact's) tags as the ledger says they were at `at`;
 * - `rule_version`: the tag changes one rule version made, reversed where nobody changed them since
 *   (the others are reported as skipped conflicts);
 * - `tag_restore`: a retired tag made active again, with the holders it had when it was retired;
 * - `batch`: one ledger batch (a rollback, a manual edit, a merge, an import, a publish) reversed.
 *   Undoing an undo puts the first rollback back in effect, and that can be undone again: each
 *   undo continues the chain from its latest link (see `RollbackRecord.undoable`);
 * - `import` (listed, never created here): `POST /api/imports/:id/rollback` writes it.
 *
 * `POST /api/rollbacks/preview` counts without writing; `POST /api/rollbacks` writes, and is a
 * 409 `confirmation_required` unless `confirm.count` equals the count the server computes now.
 */
import { z } from 'zod';
import type { RollbackKind, RuleStatus } from '../domain';
import { confirmField, idParam, intParam } from './common';

const id = z.number().int('must be a whole number').positive('must be a positive id');

const toTime = z.object({
  kind: z.literal('to_time'),
  /** ms since the epoch; must be in the past */
  at: z.number().int('must be a whole number of milliseconds').min(0, 'must not be negative'),
  /** only this contact; everyone when left out */
  contactId: id.optional(),
});
const ruleVersion = z.object({
  kind: z.literal('rule_version'),
  ruleId: id,
  version: z.number().int('must be a whole number').positive('must be at least 1'),
});
const tagRestore = z.object({ kind: z.literal('tag_restore'), tagId: id });
const batch = z.object({
  kind: z.literal('batch'),
  batchId: z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
});

/** What to roll back: one of the four kinds, with its parameters. */
export const rollbackTarget = z.discriminatedUnion('kind', [toTime.strict(), ruleVersion.strict(), tagRestore.strict(), batch.strict()]);
export type RollbackTarget = z.output<typeof rollbackTarget>;

/** `POST /api/rollbacks/preview` → `RollbackPreview`; never writes. */
export const previewRollbackBody = rollbackTarget;

/**
 * `POST /api/rollbacks`: a target and `confirm: { count }` → 201 `RollbackResult`. Without the
 * confirmation, or with another count, 409 `confirmation_required` naming the object and count.
 */
export const createRollbackBody = z.discriminatedUnion('kind', [
  toTime.extend({ confirm: confirmField }).strict(),
  // pauseRule: pause the rule in the same batch (with its own audit entry) when it is published,
  // so its next scheduled or event run does not tag the same people again. Off unless sent; the
  // rollback dialog sends it on by default.
  ruleVersion.extend({ confirm: confirmField, pauseRule: z.boolean().optional() }).strict(),
  tagRestore.extend({ confirm: confirmField }).strict(),
  batch.extend({ confirm: confirmField }).strict(),
]);
export type CreateRollbackBody = z.output<typeof createRollbackBody>;

/** `POST /api/rollbacks/:id/undo`. */
export const undoRollbackBody = z.object({ confirm: confirmField }).strict();
export const rollbackIdPath = z.object({ id: idParam }).strict();
export const rollbackListQuery = z.object({ page: intParam(1, 100_000).default(1), pageSize: intParam(1, 100).default(20) }).strict();

export interface RollbackTagCount {
  tagId: number;
  name: string;
  add: number;
  /** removals, exclusive siblings displaced by an add included */
  remove: number;
  /** changes not made: changed since by someone else, or a retired tag that cannot be added */
  skipped: number;
}

export interface RollbackSampleContact {
  id: number;
  name: string | null;
  changes: { tagId: number; name: string; op: 'add' | 'remove' }[];
}

export interface RollbackPreview {
  kind: RollbackKind;
  /** the object, in words: `version 3 of rule "高价值客户"` */
  object: string;
  /** tags added */
  add: number;
  /** tags removed, displaced exclusive siblings included */
  remove: number;
  /** of `remove`: exclusive siblings an add displaces */
  displaced: number;
  /** `add + remove`: what `confirm.count` must be */
  count: number;
  skipped: number;
  /**
   * `exclusive`: a second tag of an exclusive group for one contact (the ledger had both, e.g.
   * before the group was made exclusive): only the most recently held one is given back
   */
  skippedReasons: { conflict: number; retired: number; gone: number; exclusive: number };
  byTag: RollbackTagCount[];
  /** up to 10 contacts with what would change for them */
  sampleContacts: RollbackSampleContact[];
  /**
   * Undoing a rollback whose undo was itself undone: the id of the chain's latest link, whose
   * changes are the ones reversed (they put the rollback back in effect); null otherwise.
   */
  reverses: number | null;
  /** a `rule_version` rollback: the rule and its status now (the dialog offers to pause a published one) */
  rule?: { id: number; name: string; status: RuleStatus };
}

export interface RollbackRecord {
  id: number;
  kind: RollbackKind;
  batchId: string;
  /**
   * `{ at, contactId?, contactName? }`, `{ ruleId, version, ruleName }`, `{ tagId, tagName }`,
   * `{ batchId, undoOf? }`, `{ importId, fileName, contactsDeleted, contactsRestored }`
   */
  params: Record<string, unknown>;
  added: number;
  removed: number;
  createdBy: { id: number; name: string; email: string } | null;
  createdAt: number;
  undoneAt: number | null;
  /** the rollback whose undo is in effect now, while this one is undone */
  undoneBy: number | null;
  /**
   * Why `POST /api/rollbacks/:id/undo` would be refused, or null when it can be undone:
   * 'undone' it is undone already (undo `undoneBy` to bring it back); 'import' it rolled back an
   * import, which deleted the contacts the import created: they cannot come back as they were
   * (same ids, their history), so the file is imported again instead.
   */
  notUndoable: 'undone' | 'import' | null;
}

export interface RollbackList {
  items: RollbackRecord[];
  total: number;
  page: number;
  pageSize: number;
}

export interface RollbackResult {
  rollback: RollbackRecord;
  preview: RollbackPreview;
  /** the rule this rollback paused (`pauseRule`), null when it paused none (not asked, or not published) */
  pausedRule: { id: number; name: string } | null;
}
