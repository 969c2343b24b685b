/**
 * The only code that changes `contact_tags`. Every caller (webhook execution, publishing,
 * scheduled rules, manual edits, imports, rollbacks) gets statements back and runs them in ONE
 * `DB.batch` together with its own writes, so the change and its history commit atomically.
 *
 * Invariants kept here, in SQL so they hold without reading first:
 * - every real change writes a `tag_ledger` row with its source (rule id/version, actor, batch);
 * - adding a tag already held, or removing one not held, changes nothing and writes no row;
 * - adding a tag of an exclusive group removes the contact's other tags of that group, each
 *   with a 'remove' ledger row of the same source;
 * - retired tags are never added (their history stays; restoring is a taxonomy operation).
 */
import type { TagSource } from '../../../shared/src/domain';

/** Who or what makes the change, recorded on every ledger row. */
export interface TagWriteSource {
  source: TagSource;
  ruleId?: number | null;
  ruleVersion?: number | null;
  actorUserId?: number | null;
  /** Groups the rows of one import, rollback, merge or publish. */
  batchId?: string | null;
  at: number;
}

/**
 * One change for one contact. `{ externalId }` names a contact inserted or updated earlier in
 * the same batch, whose id the caller does not know yet.
 */
export interface TagChange {
  contactId: number | { externalId: string };
  tagId: number;
  op: 'add' | 'remove';
}

/** A SELECT whose single column is a contact id, with its `?` parameters. */
export interface TargetQuery {
  sql: string;
  params: unknown[];
}

const LEDGER_COLUMNS = 'contact_id, tag_id, op, source, rule_id, rule_version, actor_user_id, batch_id, at';

function sourceParams(src: TagWriteSource): unknown[] {
  return [src.source, src.ruleId ?? null, src.ruleVersion ?? null, src.actorUserId ?? null, src.batchId ?? null, src.at];
}

/** The group of tag `?` when that group is exclusive and the tag active; NULL otherwise. */
const EXCLUSIVE_GROUP_OF = `(SELECT t.group_id FROM tags t JOIN tag_groups g ON g.id = t.group_id
  WHERE t.id = ? AND g.exclusive = 1 AND t.status = 'active')`;
const TAG_IS_ACTIVE = `EXISTS (SELECT 1 FROM tags WHERE id = ? AND status = 'active')`;

function contactRef(ref: TagChange['contactId']): { sql: string; params: unknown[] } {
  return typeof ref === 'number'
    ? { sql: '?', params: [ref] }
    : { sql: '(SELECT id FROM contacts WHERE external_id = ?)', params: [ref.externalId] };
}

/** Statements applying per-contact changes in order (webhooks, manual edits, imports). */
export function tagChangeStatements(db: D1Database, changes: TagChange[], src: TagWriteSource): D1PreparedStatement[] {
  const out: D1PreparedStatement[] = [];
  const s = sourceParams(src);
  for (const change of changes) {
    const c = contactRef(change.contactId);
    const t = change.tagId;
    if (change.op === 'add') {
      // exclusive siblings go first, each with its ledger row
      out.push(
        db
          .prepare(
            `INSERT INTO tag_ledger (${LEDGER_COLUMNS})
             SELECT ct.contact_id, ct.tag_id, 'remove', ?, ?, ?, ?, ?, ?
             FROM contact_tags ct JOIN tags s ON s.id = ct.tag_id
             WHERE ct.contact_id = ${c.sql} AND ct.tag_id <> ? AND s.group_id = ${EXCLUSIVE_GROUP_OF}`,
          )
          .bind(...s, ...c.params, t, t),
        db
          .prepare(
            `DELETE FROM contact_tags WHERE contact_id = ${c.sql} AND tag_id <> ?
             AND tag_id IN (SELECT id FROM tags WHERE group_id = ${EXCLUSIVE_GROUP_OF})`,
          )
          .bind(...c.params, t, t),
        db
          .prepare(
            `INSERT INTO tag_ledger (${LEDGER_COLUMNS})
             SELECT x.id, ?, 'add', ?, ?, ?, ?, ?, ? FROM (SELECT ${c.sql} AS id) x
             WHERE x.id IS NOT NULL AND ${TAG_IS_ACTIVE}
               AND NOT EXISTS (SELECT 1 FROM contact_tags WHERE contact_id = x.id AND tag_id = ?)`,
          )
          .bind(t, ...s, ...c.params, t, t),
        db
          .prepare(
            `INSERT INTO contact_tags (contact_id, tag_id, source, rule_id, rule_version, added_at)
             SELECT x.id, ?, ?, ?, ?, ? FROM (SELECT ${c.sql} AS id) x
             WHERE x.id IS NOT NULL AND ${TAG_IS_ACTIVE}
             ON CONFLICT DO NOTHING`,
          )
          .bind(t, src.source, src.ruleId ?? null, src.ruleVersion ?? null, src.at, ...c.params, t),
      );
    } else {
      out.push(
        db
          .prepare(
            `INSERT INTO tag_ledger (${LEDGER_COLUMNS})
             SELECT contact_id, tag_id, 'remove', ?, ?, ?, ?, ?, ?
             FROM contact_tags WHERE contact_id = ${c.sql} AND tag_id = ?`,
          )
          .bind(...s, ...c.params, t),
        db.prepare(`DELETE FROM contact_tags WHERE contact_id = ${c.sql} AND tag_id = ?`).bind(...c.params, t),
      );
    }
  }
  const added = [...new Set(changes.filter((ch) => ch.op === 'add').map((ch) => ch.tagId))];
  if (added.length) out.push(lastAppliedStatement(db, added, src.at));
  return out;
}

/**
 * Set-based: add or remove `tagId` for every contact the target query returns (publishing,
 * scheduled rules, bulk edits). The targets are computed once into `tag_apply_targets` and
 * removed at the end of the same batch, so the query runs once however many statements use it.
 */
export function tagSetStatements(
  db: D1Database,
  targets: TargetQuery,
  tagId: number,
  op: 'add' | 'remove',
  src: TagWriteSource,
): D1PreparedStatement[] {
  const run = crypto.randomUUID();
  const s = sourceParams(src);
  const t = tagId;
  const inRun = 'SELECT contact_id FROM tag_apply_targets WHERE run_id = ?';
  const out: D1PreparedStatement[] = [
    db
      .prepare(`INSERT OR IGNORE INTO tag_apply_targets (run_id, contact_id) SELECT ?, q.* FROM (${targets.sql}) AS q`)
      .bind(run, ...targets.params),
  ];
  if (op === 'add') {
    out.push(
      db
        .prepare(
          `INSERT INTO tag_ledger (${LEDGER_COLUMNS})
           SELECT ct.contact_id, ct.tag_id, 'remove', ?, ?, ?, ?, ?, ?
           FROM contact_tags ct JOIN tags s ON s.id = ct.tag_id
           WHERE ct.contact_id IN (${inRun}) AND ct.tag_id <> ? AND s.group_id = ${EXCLUSIVE_GROUP_OF}`,
        )
        .bind(...s, run, t, t),
      db
        .prepare(
          `DELETE FROM contact_tags WHERE contact_id IN (${inRun}) AND tag_id <> ?
           AND tag_id IN (SELECT id FROM tags WHERE group_id = ${EXCLUSIVE_GROUP_OF})`,
        )
        .bind(run, t, t),
      db
        .prepare(
          `INSERT INTO tag_ledger (${LEDGER_COLUMNS})
           SELECT x.contact_id, ?, 'add', ?, ?, ?, ?, ?, ? FROM tag_apply_targets x
           WHERE x.run_id = ? AND ${TAG_IS_ACTIVE}
             AND NOT EXISTS (SELECT 1 FROM contact_tags ct WHERE ct.contact_id = x.contact_id AND ct.tag_id = ?)`,
        )
        .bind(t, ...s, run, t, t),
      db
        .prepare(
          `INSERT INTO contact_tags (contact_id, tag_id, source, rule_id, rule_version, added_at)
           SELECT x.contact_id, ?, ?, ?, ?, ? FROM tag_apply_targets x
           WHERE x.run_id = ? AND ${TAG_IS_ACTIVE}
           ON CONFLICT DO NOTHING`,
        )
        .bind(t, src.source, src.ruleId ?? null, src.ruleVersion ?? null, src.at, run, t),
      lastAppliedStatement(db, [t], src.at),
    );
  } else {
    out.push(
      db
        .prepare(
          `INSERT INTO tag_ledger (${LEDGER_COLUMNS})
           SELECT contact_id, tag_id, 'remove', ?, ?, ?, ?, ?, ?
           FROM contact_tags WHERE tag_id = ? AND contact_id IN (${inRun})`,
        )
        .bind(...s, t, run),
      db.prepare(`DELETE FROM contact_tags WHERE tag_id = ? AND contact_id IN (${inRun})`).bind(t, run),
    );
  }
  out.push(db.prepare('DELETE FROM tag_apply_targets WHERE run_id = ?').bind(run));
  return out;
}

/** Marks tags as applied at `at` (retirement proposals read it); one JSON parameter for any number of tags. */
function lastAppliedStatement(db: D1Database, tagIds: number[], at: number): D1PreparedStatement {
  const ids = JSON.stringify(tagIds);
  return db
    .prepare(
      `UPDATE tags SET last_applied_at = max(coalesce(last_applied_at, 0), ?)
       WHERE status = 'active' AND id IN (SELECT value FROM json_each(?))`,
    )
    .bind(at, ids);
}
