/**
 * Applying a checked import: set-based statements from the staging table in ONE batch — contacts
 * inserted and updated (previous values kept in staging first), tags through the tag writer
 * (source 'import', the import's batch id), audit, status — so a failure writes nothing.
 */
import { ApiError } from '../errors';
import { auditStatement } from '../audit';
import { tagSetStatements, type TagWriteSource } from '../tagging/tag-writer';
import { IMPORT_MAX_TAGS, type ImportApplyResult } from '@shared/api/imports';
import type { SessionUser } from '@shared/api/auth';
import type { Actor } from '../auth/access';
import { requireImport, conflictUnless, guardOne, ATTRS, batchIdOf, countsOf } from './rows';
import { typed, writeThenRead, type CountRow } from '../db/rows';
import { importKeyStatements } from '../search/keys';

export async function applyImport(db: D1Database, user: SessionUser, actor: Actor, id: string): Promise<ImportApplyResult> {
  // Long on purpose: it assembles one atomic D1 batch statement by statement, and the order of those statements is the logic.
  const imp = await requireImport(db, id);
  conflictUnless(imp, ['checked'], 'apply (run the dry run first)');
  const at = Date.now();
  const { results: tagRows } = await db
    .prepare(
      `SELECT DISTINCT t.value AS tagId FROM import_rows r, json_each(r.tag_ids) t WHERE r.import_id = ? AND r.status IN ('new', 'updated')`,
    )
    .bind(id)
    .all<{ tagId: number }>();
  if (tagRows.length > IMPORT_MAX_TAGS) {
    throw new ApiError(409, 'conflict', `An import adds at most ${IMPORT_MAX_TAGS} distinct tags; this one adds ${tagRows.length}`, [
      { path: 'tags', message: `more than ${IMPORT_MAX_TAGS} tags` },
    ]);
  }
  const counts = await countsOf(db, id);
  const src: TagWriteSource = { source: 'import', batchId: batchIdOf(id), actorUserId: user.id, at };
  const attrCols = ATTRS.map(([, col]) => col);
  const stmts: D1PreparedStatement[] = [
    db.prepare(`UPDATE imports SET status = 'applied', applied_at = ? WHERE id = ? AND status = 'checked'`).bind(at, id),
    guardOne(db, 'status'),
    // the values apply is about to overwrite, kept for rollback
    db
      .prepare(
        `UPDATE import_rows SET before = (SELECT json_object(${attrCols.map((col) => `'${col}', c.${col}`).join(', ')}, 'phone_hash', c.phone_hash, 'phone_enc', c.phone_enc,
                                          'id_number_hash', c.id_number_hash, 'id_number_enc', c.id_number_enc)
                                          FROM contacts c WHERE c.id = import_rows.contact_id)
         WHERE import_id = ? AND status = 'updated'`,
      )
      .bind(id),
    db
      .prepare(
        `INSERT INTO contacts (external_id, kind, name, gender, region, city, company, occupation, remark, phone_hash, phone_enc, id_number_hash, id_number_enc, bucket, department_id, created_at, updated_at)
         SELECT r.external_id, coalesce(r.data ->> 'kind', ?2), coalesce(r.data ->> 'name', r.external_id), coalesce(r.data ->> 'gender', 'unknown'),
                r.data ->> 'region', r.data ->> 'city', r.data ->> 'company', r.data ->> 'occupation', r.data ->> 'remark',
                r.phone_hash, r.phone_enc, r.id_number_hash, r.id_number_enc, r.bucket, ?4, ?3, ?3
         FROM import_rows r WHERE r.import_id = ?1 AND r.status = 'new' ORDER BY r.row`,
      )
      .bind(id, imp.default_kind, at, imp.department_id),
    db
      .prepare(
        `UPDATE contacts SET ${ATTRS.map(([f, col]) => `${col} = coalesce(r.data ->> '${f}', contacts.${col})`).join(', ')},
           phone_hash = coalesce(r.phone_hash, contacts.phone_hash), phone_enc = coalesce(r.phone_enc, contacts.phone_enc),
           id_number_hash = coalesce(r.id_number_hash, contacts.id_number_hash), id_number_enc = coalesce(r.id_number_enc, contacts.id_number_enc), updated_at = ?2
         FROM import_rows r WHERE r.import_id = ?1 AND r.status = 'updated' AND r.contact_id = contacts.id`,
      )
      .bind(id, at),
    db
      .prepare(
        `UPDATE import_rows SET contact_id = (SELECT c.id FROM contacts c WHERE c.external_id = import_rows.external_id) WHERE import_id = ? AND status = 'new'`,
      )
      .bind(id),
    // the pinyin keys of every name this import wrote (computed by the dry run), so the contacts are found at once
    ...importKeyStatements(db, id),
  ];
  for (const { tagId } of tagRows) {
    stmts.push(
      ...tagSetStatements(
        db,
        {
          sql: `SELECT r.contact_id FROM import_rows r, json_each(r.tag_ids) t WHERE r.import_id = ? AND r.status IN ('new', 'updated') AND t.value = ?`,
          params: [id, tagId],
        },
        tagId,
        'add',
        src,
      ),
    );
  }
  stmts.push(
    auditStatement(db, {
      actor: actor,
      action: 'import.apply',
      objectType: 'import',
      objectId: id,
      summary: `Import of ${imp.file_name} applied: ${counts.new} new, ${counts.updated} updated, ${counts.unchanged} unchanged, ${counts.rejected} rejected`,
      params: { file: imp.file_name, new: counts.new, updated: counts.updated, unchanged: counts.unchanged, rejected: counts.rejected },
      after: { counts, tags: tagRows.map((t) => t.tagId), batchId: src.batchId },
      at,
    }),
  );
  let added: D1Result<CountRow>;
  try {
    [added] = await writeThenRead(db, stmts, [
      typed<CountRow>(db.prepare(`SELECT count(*) AS n FROM tag_ledger WHERE batch_id = ? AND op = 'add'`).bind(src.batchId)),
    ]);
  } catch (e) {
    if (/UNIQUE constraint failed: contacts\.external_id/.test(String(e))) {
      throw new ApiError(409, 'conflict', 'Contacts changed since the dry run (an external id now exists): run the dry run again', [
        { path: 'status', message: 'stale dry run' },
      ]);
    }
    if (/guard:status/.test(String(e))) throw new ApiError(409, 'conflict', `Import ${id} is no longer ready to apply`);
    throw e;
  }
  const body: ImportApplyResult = {
    importId: id,
    status: 'applied',
    counts,
    tagsAdded: added.results[0]!.n,
  };
  return body;
}
