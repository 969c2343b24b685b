/**
 * Rolling back an applied import in ONE batch: its tag changes undone from the ledger, contacts it
 * created deleted, attribute values it changed restored; recorded as a rollback (kind 'import').
 */
import { auditInsert, AuditSql } from '../audit';
import { batch, typed, writeThenRead, type CountRow, type RollbackRow, type TagLedgerRow } from '../db/rows';
import { ApiError } from '../errors';
import { tagSetStatements, type TagWriteSource } from '../tagging/tag-writer';
import type { ImportRollbackResult } from '@shared/api/imports';
import type { SessionUser } from '@shared/api/auth';
import type { Actor } from '../auth/access';
import { requireImport, conflictUnless, guardOne, ATTRS, batchIdOf } from './rows';

/** The contacts the import created (bound: its id). */
const CREATED_SQL = `SELECT contact_id FROM import_rows WHERE import_id = ? AND status = 'new'`;

export async function rollbackImport(db: D1Database, user: SessionUser, actor: Actor, id: string): Promise<ImportRollbackResult> {
  // Long on purpose: it assembles one atomic D1 batch statement by statement, and the order of those statements is the logic.
  const imp = await requireImport(db, id);
  conflictUnless(imp, ['applied'], 'roll back');
  const batchId = batchIdOf(id);
  const created = CREATED_SQL;
  const [evs, ledger, otherTags, n] = await batch(db, [
    // Raw events older than the archive horizon are in R2, not D1; the daily rollup still counts them.
    typed<CountRow>(
      db
        .prepare(
          `SELECT max((SELECT count(*) FROM events WHERE contact_id IN (${created})),
                      (SELECT coalesce(sum(count), 0) FROM contact_daily_stats WHERE contact_id IN (${created}))) AS n`,
        )
        .bind(id, id),
    ),
    typed<LedgerTag>(db.prepare(`SELECT DISTINCT tag_id AS tagId, op FROM tag_ledger WHERE batch_id = ?`).bind(batchId)),
    // tags the created contacts got since (rules, by hand): removed with them, through the tag writer
    typed<Pick<LedgerTag, 'tagId'>>(
      db.prepare(`SELECT DISTINCT tag_id AS tagId FROM contact_tags WHERE contact_id IN (${created})`).bind(id),
    ),
    typed<{ created: number | null; updated: number | null }>(
      db.prepare(`SELECT sum(status = 'new') AS created, sum(status = 'updated') AS updated FROM import_rows WHERE import_id = ?`).bind(id),
    ),
  ]);
  const eventCount = evs.results[0]?.n ?? 0;
  const deletedCount = n.results[0]?.created ?? 0;
  const restored = n.results[0]?.updated ?? 0;
  if (eventCount > 0) {
    throw new ApiError(
      409,
      'conflict',
      `Contacts this import created have received ${eventCount} events since: deleting them would lose that history`,
      [{ path: 'contacts', message: 'have events' }],
    );
  }
  const at = Date.now();
  const src: TagWriteSource = { source: 'rollback', batchId: `rollback-${id}`, actorUserId: user.id, at };
  const stmts: D1PreparedStatement[] = [
    db.prepare(`UPDATE imports SET status = 'rolled_back', rolled_back_at = ? WHERE id = ? AND status = 'applied'`).bind(at, id),
    guardOne(db, 'status'),
    ...revertTagStatements(db, id, ledger.results, otherTags.results, src),
  ];
  stmts.push(
    db.prepare(`DELETE FROM contact_daily_stats WHERE contact_id IN (${created})`).bind(id),
    db.prepare(`DELETE FROM contacts WHERE id IN (${created})`).bind(id),
    db
      .prepare(
        `UPDATE contacts SET ${ATTRS.map(([f, col]) => `${col} = CASE WHEN r.data ->> '${f}' IS NOT NULL THEN r.before ->> '${col}' ELSE contacts.${col} END`).join(', ')},
           phone_hash = CASE WHEN r.phone_hash IS NOT NULL THEN r.before ->> 'phone_hash' ELSE contacts.phone_hash END,
           phone_enc = CASE WHEN r.phone_hash IS NOT NULL THEN r.before ->> 'phone_enc' ELSE contacts.phone_enc END,
           id_number_hash = CASE WHEN r.id_number_hash IS NOT NULL THEN r.before ->> 'id_number_hash' ELSE contacts.id_number_hash END,
           id_number_enc = CASE WHEN r.id_number_hash IS NOT NULL THEN r.before ->> 'id_number_enc' ELSE contacts.id_number_enc END,
           updated_at = ?2
         FROM import_rows r WHERE r.import_id = ?1 AND r.status = 'updated' AND r.contact_id = contacts.id AND r.before IS NOT NULL`,
      )
      .bind(id, at),
    // a rollback like the others: its counts are what the ledger says this batch wrote
    db
      .prepare(
        `INSERT INTO rollbacks (kind, batch_id, params, added, removed, created_by, created_at)
         VALUES ('import', ?1, ?2, (SELECT count(*) FROM tag_ledger WHERE batch_id = ?1 AND op = 'add'),
                 (SELECT count(*) FROM tag_ledger WHERE batch_id = ?1 AND op = 'remove'), ?3, ?4)`,
      )
      .bind(
        src.batchId,
        JSON.stringify({ importId: id, fileName: imp.file_name, contactsDeleted: deletedCount, contactsRestored: restored }),
        user.id,
        at,
      ),
    // its entry names the rollback (inserted just before) and takes the counts from that row
    auditInsert(
      db,
      {
        at,
        actor,
        action: 'rollback.import',
        objectType: 'rollback',
        objectId: new AuditSql('CAST(r.id AS TEXT)'),
        summary: new AuditSql(
          `'Rolling back import ' || ? || ': ' || ? || ' contacts deleted, ' || ? || ' restored, +' || r.added || ' −' || r.removed || ' tags'`,
          imp.file_name,
          deletedCount,
          restored,
        ),
        // AuditParamsByAction['rollback.import'], with the counts of the rollback row
        params: new AuditSql(
          `json_object('file', ?, 'importId', ?, 'deleted', ?, 'restored', ?, 'add', r.added, 'remove', r.removed)`,
          imp.file_name,
          id,
          deletedCount,
          restored,
        ),
        before: new AuditSql(`json_object('counts', json(?))`, imp.counts),
        after: new AuditSql(
          `json_object('kind', 'import', 'batchId', r.batch_id, 'params', json(r.params), 'add', r.added, 'remove', r.removed)`,
        ),
      },
      { from: 'rollbacks r', where: 'r.id = last_insert_rowid()' },
    ),
  );
  let rollback: D1Result<Pick<RollbackRow, 'id'>>, reverted: D1Result<CountRow>;
  try {
    [rollback, reverted] = await writeThenRead(db, stmts, [
      typed<Pick<RollbackRow, 'id'>>(db.prepare(`SELECT id FROM rollbacks WHERE batch_id = ?`).bind(src.batchId)),
      typed<CountRow>(db.prepare(`SELECT count(*) AS n FROM tag_ledger WHERE batch_id = ?`).bind(src.batchId)),
    ]);
  } catch (e) {
    if (/guard:status/.test(String(e))) throw new ApiError(409, 'conflict', `Import ${id} is no longer applied`);
    throw e;
  }
  const body: ImportRollbackResult = {
    importId: id,
    status: 'rolled_back',
    rollbackId: rollback.results[0]!.id,
    contactsDeleted: deletedCount,
    contactsRestored: restored,
    tagChangesReverted: reverted.results[0]!.n,
  };
  return body;
}

/** A tag the import's batch added or removed. */
type LedgerTag = Pick<TagLedgerRow, 'op'> & { tagId: TagLedgerRow['tag_id'] };

/**
 * The tag writes that undo the import: what it added comes off, tags its created contacts got
 * since come off with them, and what it displaced (exclusive groups) goes back on.
 */
function revertTagStatements(
  db: D1Database,
  id: string,
  ledger: LedgerTag[],
  since: Pick<LedgerTag, 'tagId'>[],
  src: TagWriteSource,
): D1PreparedStatement[] {
  const batchId = batchIdOf(id);
  const ofLedger = (tagId: number, op: 'add' | 'remove') => ({
    sql: `SELECT contact_id FROM tag_ledger WHERE batch_id = ? AND tag_id = ? AND op = '${op}'`,
    params: [batchId, tagId],
  });
  return [
    ...ledger.filter((l) => l.op === 'add').flatMap(({ tagId }) => tagSetStatements(db, ofLedger(tagId, 'add'), tagId, 'remove', src)),
    ...since.flatMap(({ tagId }) => tagSetStatements(db, { sql: CREATED_SQL, params: [id] }, tagId, 'remove', src)),
    ...ledger.filter((l) => l.op === 'remove').flatMap(({ tagId }) => tagSetStatements(db, ofLedger(tagId, 'remove'), tagId, 'add', src)),
  ];
}
