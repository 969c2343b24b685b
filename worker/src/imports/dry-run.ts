/**
 * The dry run: the shared checks (`shared/src/import`) in JS over every staged row, then set-based
 * SQL against the contacts (external id, phone hash, tags held): new / updated / unchanged /
 * rejected, each rejection with row, column and reason. A misaligned column refuses the file.
 */
import { ApiError } from '../errors';
import { auditInsert, AuditSql, auditStatement } from '../audit';
import { typed, writeThenRead } from '../db/rows';
import { fieldHash, fieldKeys, sealField } from '../crypto/fields';
import { bucketOf } from '@shared/domain';
import { REPORT_MAX_REJECTIONS, type DryRunReport, type DryRunBody } from '@shared/api/imports';
import {
  FileChecker,
  mappingProblems,
  type CheckedRow,
  resolveTags,
  taxonomyIndex,
  type ImportMapping,
  type Rejection,
  type TaxonomyTag,
} from '@shared/import';
import type { Actor } from '../auth/access';
import { storedKeys } from '../search/keys';
import {
  requireImport,
  conflictUnless,
  guardOne,
  CHUNK_BYTES,
  READ_PAGE,
  VERDICT_WINDOW,
  utf8,
  DIFFERS,
  openCells,
  sealRejections,
  openRejections,
  countsOf,
  type StoredRejection,
} from './rows';

export async function dryRun(db: D1Database, env: Env, actor: Actor, id: string, b: DryRunBody): Promise<DryRunReport> {
  // Long on purpose: one pass over the staged file (mapping checks, page-by-page verdicts, refusal or set-based classification) whose steps share the keys, tag index and counters.
  const imp = await requireImport(db, id);
  conflictUnless(imp, ['staging', 'checked'], 'run a dry run');
  const headers = JSON.parse(imp.headers) as string[];
  const mapping = (b.mapping ?? JSON.parse(imp.mapping)) as ImportMapping;
  if (mapping.length !== headers.length) {
    throw new ApiError(400, 'invalid_request', `mapping has ${mapping.length} entries, the file has ${headers.length} columns`, [
      { path: 'mapping', message: 'one entry per column' },
    ]);
  }
  if (imp.row_count === 0) throw new ApiError(409, 'conflict', 'No rows staged yet', [{ path: 'rows', message: 'none staged' }]);
  const at = Date.now();

  const problems = mappingProblems(mapping);
  if (problems.length) {
    throw new ApiError(
      400,
      'invalid_request',
      `Invalid mapping: ${problems.map((p) => `${p.field} ${p.reason}`).join('; ')}`,
      problems.map((p) => ({ path: p.column === null ? 'mapping' : `mapping.${p.column}`, message: p.reason })),
    );
  }

  // tags against the taxonomy; phones and ID numbers sealed and hashed
  const { results: taxonomy } = await db
    .prepare(
      `SELECT t.id, t.name, t.group_id AS groupId, g.name AS groupName, g.exclusive, t.status FROM tags t JOIN tag_groups g ON g.id = t.group_id`,
    )
    .all<Omit<TaxonomyTag, 'exclusive'> & { exclusive: number }>();
  const index = taxonomyIndex(taxonomy.map((t) => ({ ...t, exclusive: Boolean(t.exclusive) })));
  const tagColumn = mapping.indexOf('tags');
  // staged cells are sealed, so every dry run needs the key (not only files with phones)
  const keys = await fieldKeys(env);
  const tagIds = new Set<number>();
  const verdict = async (r: CheckedRow, cells: readonly string[]) => {
    const tags = r.rejections.length === 0 && r.tags.length ? resolveTags(r.tags, index) : null;
    if (tags && !tags.ok) {
      r.rejections.push({
        row: r.row,
        column: tagColumn,
        field: 'tags',
        reason: tags.reason,
        value: cells[tagColumn]?.trim(),
        detail: tags.detail,
      });
    }
    if (r.rejections.length) return { row: r.row, s: 'rejected', rej: await sealRejections(keys, r.rejections) };
    if (tags?.ok) tags.tagIds.forEach((t) => tagIds.add(t));
    const { externalId, phone, idNumber, ...attrs } = r.values;
    const [ph, pe, ih, ie] = await Promise.all([
      phone ? fieldHash(keys, phone) : null,
      phone ? sealField(keys, phone) : null,
      idNumber ? fieldHash(keys, idNumber) : null,
      idNumber ? sealField(keys, idNumber) : null,
    ]);
    return {
      row: r.row,
      s: 'valid',
      ext: externalId!,
      data: attrs,
      ph,
      pe,
      ih,
      ie,
      b: bucketOf(externalId!),
      tags: tags?.ok ? tags.tagIds : [],
      // the search keys a new contact will have (without a name it is named by its external id)
      nk: storedKeys('contact', attrs.name ?? externalId!, attrs.remark ?? null),
    };
  };
  const upsert = (chunk: string) =>
    db
      .prepare(
        // an upsert, so json_each is the outer loop and each row a primary-key lookup (an
        // UPDATE … FROM json_each re-scans the JSON for every staged row: quadratic)
        `INSERT INTO import_rows (import_id, row, cells, status, external_id, data, phone_hash, phone_enc, id_number_hash, id_number_enc, bucket, tag_ids, name_keys, rejections)
         SELECT ?2, j.value ->> 'row', '[]', j.value ->> 's', j.value ->> 'ext', j.value -> 'data', j.value ->> 'ph', j.value ->> 'pe',
                j.value ->> 'ih', j.value ->> 'ie', j.value ->> 'b', coalesce(j.value -> 'tags', '[]'), j.value -> 'nk', j.value -> 'rej'
         FROM json_each(?1) j WHERE true
         ON CONFLICT(import_id, row) DO UPDATE SET status = excluded.status, external_id = excluded.external_id, data = excluded.data,
           phone_hash = excluded.phone_hash, phone_enc = excluded.phone_enc, id_number_hash = excluded.id_number_hash,
           id_number_enc = excluded.id_number_enc, bucket = excluded.bucket, tag_ids = excluded.tag_ids, name_keys = excluded.name_keys,
           rejections = excluded.rejections, contact_id = NULL, before = NULL`,
      )
      .bind(chunk, id);

  // An earlier dry run's verdicts stop counting now: apply needs the 'checked' this one sets last.
  await db.prepare(`UPDATE imports SET status = 'staging', counts = NULL WHERE id = ? AND status IN ('staging', 'checked')`).bind(id).run();

  // Page by page (memory stays one page, whatever the file's size): check, seal, and write the
  // verdicts back as JSON chunks. Shape rejections are kept per column for a misaligned report.
  const checker = new FileChecker(mapping);
  const shapeRejections = new Map<number, Rejection[]>();
  let total = 0;
  for (let after = 0; ;) {
    const { results } = await db
      .prepare('SELECT row, cells FROM import_rows WHERE import_id = ? AND row > ? ORDER BY row LIMIT ?')
      .bind(id, after, READ_PAGE)
      .all<{ row: number; cells: string }>();
    const page = await Promise.all(results.map(async (r) => ({ row: r.row, cells: await openCells(keys, r.cells) })));
    total += page.length;
    const checked = checker.add(page);
    for (const r of checked) {
      for (const rej of r.rejections) {
        const list = shapeRejections.get(rej.column) ?? [];
        if (list.length < REPORT_MAX_REJECTIONS && rej.reason !== 'duplicate_in_file' && rej.reason !== 'required')
          shapeRejections.set(rej.column, [...list, rej]);
      }
    }
    const chunks: string[] = [];
    let cur: string[] = [];
    let bytes = 0;
    const flush = () => {
      if (cur.length) chunks.push(`[${cur.join(',')}]`);
      cur = [];
      bytes = 0;
    };
    for (let i = 0; i < checked.length; i += VERDICT_WINDOW) {
      const window = checked.slice(i, i + VERDICT_WINDOW);
      for (const v of await Promise.all(window.map((r, k) => verdict(r, page[i + k]!.cells)))) {
        const j = JSON.stringify(v);
        const n = utf8.encode(j).length + 1;
        if (bytes + n > CHUNK_BYTES) flush();
        cur.push(j);
        bytes += n;
      }
    }
    flush();
    if (chunks.length) await db.batch(chunks.map(upsert));
    if (results.length < READ_PAGE) break;
    after = results[results.length - 1]!.row;
  }

  const misaligned = checker.misaligned();
  if (misaligned.length) {
    // the whole file is refused: nothing is classified until the mapping is fixed
    const rejections = misaligned
      .flatMap((m) =>
        (shapeRejections.get(m.column) ?? []).map((rej) => ({ ...rej, reason: 'misaligned_column' as const, detail: rej.reason })),
      )
      .sort((x, y) => x.row - y.row || x.column - y.column)
      .slice(0, REPORT_MAX_REJECTIONS);
    await db.batch([
      db.prepare(`UPDATE imports SET mapping = ?, status = 'staging', counts = NULL WHERE id = ?`).bind(JSON.stringify(mapping), id),
      auditStatement(db, {
        actor: actor,
        action: 'import.dry_run',
        objectType: 'import',
        objectId: id,
        summary: `Dry run refused the file: ${misaligned.length} misaligned column(s)`,
        params: { variant: 'refused', file: imp.file_name, misaligned: misaligned.length },
        after: { mapping, misaligned: misaligned.map(({ samples: _samples, ...m }) => m) },
        at,
      }),
    ]);
    const body: DryRunReport = {
      importId: id,
      status: 'staging',
      mappingProblems: [],
      misaligned,
      counts: { total, new: 0, updated: 0, unchanged: 0, rejected: total },
      rejections,
      tagCount: 0,
    };
    return body;
  }
  const phoneColumn = mapping.indexOf('phone');
  const stmts: D1PreparedStatement[] = [];
  stmts.push(
    // a phone number that already belongs to another contact
    db
      .prepare(
        `UPDATE import_rows SET status = 'rejected',
           rejections = json_array(json_object('row', import_rows.row, 'column', ?2, 'field', 'phone', 'reason', 'phone_taken', 'detail', c.external_id))
         FROM contacts c
         WHERE import_rows.import_id = ?1 AND import_rows.status = 'valid' AND import_rows.phone_hash IS NOT NULL
           AND c.phone_hash = import_rows.phone_hash AND c.external_id <> import_rows.external_id`,
      )
      .bind(id, phoneColumn),
    db
      .prepare(
        `UPDATE import_rows SET status = 'new' WHERE import_id = ? AND status = 'valid'
           AND NOT EXISTS (SELECT 1 FROM contacts c WHERE c.external_id = import_rows.external_id)`,
      )
      .bind(id),
    db
      .prepare(
        `UPDATE import_rows SET contact_id = c.id,
           status = CASE WHEN EXISTS (SELECT 1 FROM import_rows r WHERE r.import_id = import_rows.import_id AND r.row = import_rows.row AND ${DIFFERS})
                    THEN 'updated' ELSE 'unchanged' END
         FROM contacts c WHERE import_rows.import_id = ? AND import_rows.status = 'valid' AND c.external_id = import_rows.external_id`,
      )
      .bind(id),
    db
      .prepare(
        `UPDATE imports SET mapping = ?2, status = 'checked', checked_at = ?3,
           counts = (SELECT json_object('total', count(*), 'new', sum(status = 'new'), 'updated', sum(status = 'updated'),
                                        'unchanged', sum(status = 'unchanged'), 'rejected', sum(status = 'rejected'))
                     FROM import_rows WHERE import_id = ?1)
         WHERE id = ?1 AND status IN ('staging', 'checked')`,
      )
      .bind(id, JSON.stringify(mapping), at),
    guardOne(db, 'status'),
    auditInsert(
      db,
      {
        at,
        actor,
        action: 'import.dry_run',
        objectType: 'import',
        objectId: id,
        summary: new AuditSql(
          `'Dry run: ' || (counts ->> 'new') || ' new, ' || (counts ->> 'updated') || ' updated, '
           || (counts ->> 'unchanged') || ' unchanged, ' || (counts ->> 'rejected') || ' rejected'`,
        ),
        // AuditParamsByAction['import.dry_run'], variant 'checked': the counts are only known here
        params: new AuditSql(
          `json_object('variant', 'checked', 'file', file_name, 'new', counts ->> 'new', 'updated', counts ->> 'updated',
                       'unchanged', counts ->> 'unchanged', 'rejected', counts ->> 'rejected')`,
        ),
        after: new AuditSql(`json_object('mapping', json(?), 'counts', json(counts))`, JSON.stringify(mapping)),
      },
      { from: 'imports', where: 'id = ?', args: [id] },
    ),
  );
  const [rejected] = await writeThenRead(db, stmts, [
    typed<{ rejections: string }>(
      db
        .prepare(`SELECT r.rejections FROM import_rows r WHERE r.import_id = ? AND r.status = 'rejected' ORDER BY r.row LIMIT ?`)
        .bind(id, REPORT_MAX_REJECTIONS),
    ),
  ]);
  const stored = rejected.results.flatMap((r) => JSON.parse(r.rejections) as StoredRejection[]).slice(0, REPORT_MAX_REJECTIONS);
  const rejections = await openRejections(keys, stored);
  const body: DryRunReport = {
    importId: id,
    status: 'checked',
    mappingProblems: [],
    misaligned: [],
    counts: await countsOf(db, id),
    rejections,
    tagCount: tagIds.size,
  };
  return body;
}
