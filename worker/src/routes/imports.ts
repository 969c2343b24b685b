/**
 * Contact imports (`/api/imports`). The browser parses the file and sends rows; here they are
 * staged in `import_rows`, checked (dry run), applied in ONE D1 batch, and can be rolled back.
 *
 * - create: the file's headers and the column → field mapping;
 * - rows: chunks of ≤ 2,000 rows, staged by row number (a re-sent chunk replaces itself), each
 *   row's cells sealed with FIELD_KEY (they may hold phone and ID numbers; nothing is kept in clear);
 * - dry-run: the shared checks (`shared/src/import`) in JS over every staged row, then
 *   set-based SQL against the contacts (external id, phone hash, tags held): new / updated /
 *   unchanged / rejected, each rejection with row, column and reason. A misaligned column
 *   refuses the whole file until the mapping is fixed;
 * - apply: set-based statements from the staging table in one batch — contacts inserted and
 *   updated (previous values kept in staging first), tags through the tag writer's set-based
 *   path (source 'import', the import's batch id), audit, status — so a failure writes nothing;
 * - rollback: the reverse in one batch — the import's tag changes undone from the ledger,
 *   contacts it created deleted, attribute values it changed restored — recorded as a rollback
 *   (`rollbacks` row, kind 'import', audited as `rollback.import`) so the rollback screen lists
 *   it with the others. It cannot be undone there (worker/src/routes/rollbacks.ts says why).
 */
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../app-env';
import { ApiError } from '../errors';
import { validate } from '../validate';
import { auditStatement } from '../audit';
import { actorOf, requireRole } from '../auth/access';
import { tagSetStatements, type TagWriteSource } from '../tagging/tag-writer';
import { fieldHash, fieldKeys, openField, sealField, type FieldKeys } from '../crypto/fields';
import { bucketOf } from '../../../shared/src/domain';
import {
  IMPORT_MAX_ROWS,
  IMPORT_MAX_TAGS,
  REPORT_MAX_REJECTIONS,
  createImportBody,
  dryRunBody,
  importRowsBody,
  type DryRunReport,
  type ImportApplyResult,
  type ImportCounts,
  type ImportRollbackResult,
  type ImportStageResult,
  type ImportStatus,
  type ImportSummary,
} from '../../../shared/src/api/imports';
import {
  ATTRIBUTE_FIELDS,
  FileChecker,
  mappingProblems,
  type CheckedRow,
  resolveTags,
  taxonomyIndex,
  type ImportMapping,
  type Rejection,
  type TaxonomyTag,
} from '../../../shared/src/import';

const idPath = z.object({ id: z.string().uuid('must be an import id') }).strict();

interface ImportRow {
  id: string;
  status: ImportStatus;
  file_name: string;
  headers: string;
  mapping: string;
  default_kind: string;
  department_id: number | null;
  row_count: number;
  counts: string | null;
  created_at: number;
  applied_at: number | null;
  rolled_back_at: number | null;
}

async function requireImport(db: D1Database, id: string): Promise<ImportRow> {
  const row = await db.prepare('SELECT * FROM imports WHERE id = ?').bind(id).first<ImportRow>();
  if (!row) throw new ApiError(404, 'not_found', `No import with id ${id}`);
  return row;
}

function summary(r: ImportRow): ImportSummary {
  return {
    id: r.id,
    status: r.status,
    fileName: r.file_name,
    headers: JSON.parse(r.headers),
    mapping: JSON.parse(r.mapping),
    defaultKind: r.default_kind as ImportSummary['defaultKind'],
    departmentId: r.department_id,
    rowCount: r.row_count,
    counts: r.counts ? JSON.parse(r.counts) : null,
    createdAt: r.created_at,
    appliedAt: r.applied_at,
    rolledBackAt: r.rolled_back_at,
  };
}

function conflictUnless(imp: ImportRow, allowed: ImportStatus[], what: string) {
  if (!allowed.includes(imp.status)) {
    throw new ApiError(409, 'conflict', `Import ${imp.id} is ${imp.status}: cannot ${what}`, [{ path: 'status', message: `is ${imp.status}` }]);
  }
}

/** Raises inside a batch (rolling it back) unless the previous statement changed exactly one row. */
const guardOne = (db: D1Database, marker: string) =>
  db.prepare(`SELECT CASE WHEN changes() = 1 THEN 1 ELSE json(?) END AS ok`).bind(`guard:${marker}`);

/** Bytes of JSON per bound parameter (D1 caps a bound value at 1 MB). */
const CHUNK_BYTES = 400_000;
/** Staged rows read per query in the dry run. */
const READ_PAGE = 10_000;
/** Rows whose verdicts (and sealed fields) are computed at once in the dry run. */
const VERDICT_WINDOW = 1000;

const utf8 = new TextEncoder();

const ATTRS = Object.entries(ATTRIBUTE_FIELDS) as [keyof typeof ATTRIBUTE_FIELDS, string][];

/** SQL that is true when staged row `r` would change contact `c` (attributes, phone, or a tag not held). */
const DIFFERS = `(${ATTRS.map(([f, col]) => `(r.data ->> '${f}' IS NOT NULL AND r.data ->> '${f}' IS NOT c.${col})`).join(' OR ')}
  OR (r.phone_hash IS NOT NULL AND r.phone_hash IS NOT c.phone_hash)
  OR (r.id_number_hash IS NOT NULL AND r.id_number_hash IS NOT c.id_number_hash)
  OR EXISTS (SELECT 1 FROM json_each(r.tag_ids) t
             WHERE NOT EXISTS (SELECT 1 FROM contact_tags ct WHERE ct.contact_id = c.id AND ct.tag_id = t.value)))`;

const batchIdOf = (importId: string) => `import-${importId}`;

/**
 * Staged cells are sealed like the contacts' phone column (AES-256-GCM from FIELD_KEY): any
 * column of a file may hold phone or ID numbers, mapped or not, and the mapping can still change
 * at the dry run, so the whole row is sealed before D1 sees it. Rows staged before sealing (a
 * JSON array as text) are still read.
 */
const sealCells = (keys: FieldKeys, cells: readonly string[]) => sealField(keys, JSON.stringify(cells));
async function openCells(keys: FieldKeys, stored: string): Promise<string[]> {
  return JSON.parse(stored.startsWith('[') ? stored : await openField(keys, stored)) as string[];
}

/** A rejection as stored in `import_rows.rejections`: the offending cell's text sealed (`sv`), never in clear. */
type StoredRejection = Omit<Rejection, 'value'> & { sv?: string };

const sealRejections = (keys: FieldKeys, list: readonly Rejection[]): Promise<StoredRejection[]> =>
  Promise.all(list.map(async ({ value, ...rest }) => (value === undefined ? rest : { ...rest, sv: await sealField(keys, value) })));

/** The report's rejections: values opened for the super admin reading it (unreadable ones left out). */
const openRejections = (keys: FieldKeys, list: readonly (StoredRejection & { value?: string })[]): Promise<Rejection[]> =>
  Promise.all(
    list.map(async ({ sv, ...rest }) => {
      if (sv === undefined) return rest;
      try {
        return { ...rest, value: await openField(keys, sv) };
      } catch {
        return rest;
      }
    }),
  );

async function countsOf(db: D1Database, id: string): Promise<ImportCounts> {
  const { results } = await db
    .prepare('SELECT status, count(*) AS n FROM import_rows WHERE import_id = ? GROUP BY status')
    .bind(id)
    .all<{ status: string | null; n: number }>();
  const c: ImportCounts = { total: 0, new: 0, updated: 0, unchanged: 0, rejected: 0 };
  for (const r of results) {
    c.total += r.n;
    if (r.status === 'new' || r.status === 'updated' || r.status === 'unchanged' || r.status === 'rejected') c[r.status] += r.n;
  }
  return c;
}

// bulk writes over every department: super admins only
export const imports = new Hono<AppEnv>()
  .use(requireRole('super_admin'))
  .post('/', validate('json', createImportBody), async (c) => {
    const b = c.req.valid('json');
    // staged rows are sealed with FIELD_KEY: without it (503) say so before the file is uploaded
    await fieldKeys(c.env);
    const problems = mappingProblems(b.mapping);
    if (problems.length) {
      throw new ApiError(
        400,
        'invalid_request',
        `Invalid mapping: ${problems.map((p) => `${p.field} ${p.reason === 'required' ? 'is not mapped' : 'is mapped twice'}`).join('; ')}`,
        problems.map((p) => ({ path: p.column === null ? 'mapping' : `mapping.${p.column}`, message: p.reason === 'required' ? `${p.field} must be mapped` : `${p.field} is mapped twice` })),
      );
    }
    const id = crypto.randomUUID();
    const at = Date.now();
    const db = c.env.DB;
    if (b.departmentId !== null && !(await db.prepare('SELECT 1 FROM departments WHERE id = ?').bind(b.departmentId).first())) {
      throw new ApiError(400, 'unknown_reference', `No department with id ${b.departmentId}`, [{ path: 'departmentId', message: 'no such department' }]);
    }
    await db.batch([
      db
        .prepare('INSERT INTO imports (id, status, file_name, headers, mapping, default_kind, department_id, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .bind(id, 'staging', b.fileName, JSON.stringify(b.headers), JSON.stringify(b.mapping), b.defaultKind, b.departmentId, c.get('user').id, at),
      auditStatement(db, {
        actor: actorOf(c),
        action: 'import.create',
        objectType: 'import',
        objectId: id,
        summary: `Import of ${b.fileName} started`,
        params: { file: b.fileName },
        after: { fileName: b.fileName, headers: b.headers, mapping: b.mapping, departmentId: b.departmentId },
        at,
      }),
    ]);
    return c.json(summary(await requireImport(db, id)), 201);
  })
  .get('/:id', validate('param', idPath), async (c) => {
    return c.json(summary(await requireImport(c.env.DB, c.req.valid('param').id)));
  })
  .post('/:id/rows', validate('param', idPath), validate('json', importRowsBody), async (c) => {
    const { id } = c.req.valid('param');
    const { rows } = c.req.valid('json');
    const db = c.env.DB;
    const imp = await requireImport(db, id);
    conflictUnless(imp, ['staging', 'checked'], 'add rows');
    // a row with more cells than the header is staged as sent: the dry run rejects it as a row (extra_cells)
    const seen = new Set<number>();
    rows.forEach((r, i) => {
      if (seen.has(r.row)) throw new ApiError(400, 'invalid_request', `rows.${i}: row ${r.row} is sent twice`, [{ path: `rows.${i}.row`, message: 'sent twice' }]);
      seen.add(r.row);
    });
    if (imp.row_count + rows.length > IMPORT_MAX_ROWS) {
      // re-sent rows replace themselves, so count what is really new before refusing
      const { n } = (await db
        .prepare('SELECT count(*) AS n FROM import_rows WHERE import_id = ? AND row IN (SELECT value FROM json_each(?))')
        .bind(id, JSON.stringify(rows.map((r) => r.row)))
        .first<{ n: number }>())!;
      if (imp.row_count + rows.length - n > IMPORT_MAX_ROWS) {
        throw new ApiError(413, 'payload_too_large', `An import takes at most ${IMPORT_MAX_ROWS} rows`);
      }
    }
    const keys = await fieldKeys(c.env);
    const sealed = await Promise.all(rows.map(async (r) => ({ row: r.row, cells: await sealCells(keys, r.cells) })));
    const at = Date.now();
    const first = Math.min(...rows.map((r) => r.row));
    const last = Math.max(...rows.map((r) => r.row));
    const res = await db.batch([
      db
        .prepare(
          `INSERT INTO import_rows (import_id, row, cells)
           SELECT ?, j.value ->> 'row', j.value ->> 'cells' FROM json_each(?) j WHERE true
           ON CONFLICT(import_id, row) DO UPDATE SET cells = excluded.cells, status = NULL, external_id = NULL, data = NULL,
             phone_hash = NULL, phone_enc = NULL, id_number_hash = NULL, id_number_enc = NULL, bucket = NULL, tag_ids = NULL, rejections = NULL`,
        )
        .bind(id, JSON.stringify(sealed)),
      // new rows make an earlier dry run stale
      db
        .prepare(`UPDATE imports SET row_count = (SELECT count(*) FROM import_rows WHERE import_id = ?1), status = 'staging', counts = NULL WHERE id = ?1 AND status IN ('staging', 'checked')`)
        .bind(id),
      guardOne(db, 'status'),
      auditStatement(db, { actor: actorOf(c), action: 'import.rows', objectType: 'import', objectId: id, summary: `${rows.length} rows staged (rows ${first}–${last})`, params: { count: rows.length, first, last }, at }),
      db.prepare('SELECT row_count FROM imports WHERE id = ?').bind(id),
    ]);
    const body: ImportStageResult = { importId: id, staged: rows.length, rowCount: (res[4]!.results[0] as { row_count: number }).row_count };
    return c.json(body);
  })
  .post('/:id/dry-run', validate('param', idPath), validate('json', dryRunBody), async (c) => {
    const { id } = c.req.valid('param');
    const b = c.req.valid('json');
    const db = c.env.DB;
    const imp = await requireImport(db, id);
    conflictUnless(imp, ['staging', 'checked'], 'run a dry run');
    const headers = JSON.parse(imp.headers) as string[];
    const mapping = (b.mapping ?? JSON.parse(imp.mapping)) as ImportMapping;
    if (mapping.length !== headers.length) {
      throw new ApiError(400, 'invalid_request', `mapping has ${mapping.length} entries, the file has ${headers.length} columns`, [{ path: 'mapping', message: 'one entry per column' }]);
    }
    if (imp.row_count === 0) throw new ApiError(409, 'conflict', 'No rows staged yet', [{ path: 'rows', message: 'none staged' }]);
    const at = Date.now();

    const problems = mappingProblems(mapping);
    if (problems.length) {
      throw new ApiError(400, 'invalid_request', `Invalid mapping: ${problems.map((p) => `${p.field} ${p.reason}`).join('; ')}`, problems.map((p) => ({ path: p.column === null ? 'mapping' : `mapping.${p.column}`, message: p.reason })));
    }

    // tags against the taxonomy; phones and ID numbers sealed and hashed
    const { results: taxonomy } = await db
      .prepare(`SELECT t.id, t.name, t.group_id AS groupId, g.name AS groupName, g.exclusive, t.status FROM tags t JOIN tag_groups g ON g.id = t.group_id`)
      .all<Omit<TaxonomyTag, 'exclusive'> & { exclusive: number }>();
    const index = taxonomyIndex(taxonomy.map((t) => ({ ...t, exclusive: Boolean(t.exclusive) })));
    const tagColumn = mapping.indexOf('tags');
    // staged cells are sealed, so every dry run needs the key (not only files with phones)
    const keys = await fieldKeys(c.env);
    const tagIds = new Set<number>();
    const verdict = async (r: CheckedRow, cells: readonly string[]) => {
      const tags = r.rejections.length === 0 && r.tags.length ? resolveTags(r.tags, index) : null;
      if (tags && !tags.ok) {
        r.rejections.push({ row: r.row, column: tagColumn, field: 'tags', reason: tags.reason, value: cells[tagColumn]?.trim(), detail: tags.detail });
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
      return { row: r.row, s: 'valid', ext: externalId!, data: attrs, ph, pe, ih, ie, b: bucketOf(externalId!), tags: tags?.ok ? tags.tagIds : [] };
    };
    const upsert = (chunk: string) =>
      db
        .prepare(
          // an upsert, so json_each is the outer loop and each row a primary-key lookup (an
          // UPDATE … FROM json_each re-scans the JSON for every staged row: quadratic)
          `INSERT INTO import_rows (import_id, row, cells, status, external_id, data, phone_hash, phone_enc, id_number_hash, id_number_enc, bucket, tag_ids, rejections)
           SELECT ?2, j.value ->> 'row', '[]', j.value ->> 's', j.value ->> 'ext', j.value -> 'data', j.value ->> 'ph', j.value ->> 'pe',
                  j.value ->> 'ih', j.value ->> 'ie', j.value ->> 'b', coalesce(j.value -> 'tags', '[]'), j.value -> 'rej'
           FROM json_each(?1) j WHERE true
           ON CONFLICT(import_id, row) DO UPDATE SET status = excluded.status, external_id = excluded.external_id, data = excluded.data,
             phone_hash = excluded.phone_hash, phone_enc = excluded.phone_enc, id_number_hash = excluded.id_number_hash,
             id_number_enc = excluded.id_number_enc, bucket = excluded.bucket, tag_ids = excluded.tag_ids,
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
    for (let after = 0; ; ) {
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
          if (list.length < REPORT_MAX_REJECTIONS && rej.reason !== 'duplicate_in_file' && rej.reason !== 'required') shapeRejections.set(rej.column, [...list, rej]);
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
        .flatMap((m) => (shapeRejections.get(m.column) ?? []).map((rej) => ({ ...rej, reason: 'misaligned_column' as const, detail: rej.reason })))
        .sort((x, y) => x.row - y.row || x.column - y.column)
        .slice(0, REPORT_MAX_REJECTIONS);
      await db.batch([
        db.prepare(`UPDATE imports SET mapping = ?, status = 'staging', counts = NULL WHERE id = ?`).bind(JSON.stringify(mapping), id),
        auditStatement(db, { actor: actorOf(c), action: 'import.dry_run', objectType: 'import', objectId: id, summary: `Dry run refused the file: ${misaligned.length} misaligned column(s)`, params: { variant: 'refused', file: imp.file_name, misaligned: misaligned.length }, after: { mapping, misaligned: misaligned.map(({ samples: _samples, ...m }) => m) }, at }),
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
      return c.json(body);
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
      db
        .prepare(
          `INSERT INTO audit_log (at, actor_user_id, actor_ip, action, object_type, object_id, summary, params, after)
           SELECT ?1, ?4, ?5, 'import.dry_run', 'import', ?2, 'Dry run: ' || (counts ->> 'new') || ' new, ' || (counts ->> 'updated') || ' updated, '
                  || (counts ->> 'unchanged') || ' unchanged, ' || (counts ->> 'rejected') || ' rejected',
                  -- AuditParamsByAction['import.dry_run'], variant 'checked': the counts are only known here
                  json_object('variant', 'checked', 'file', file_name, 'new', counts ->> 'new', 'updated', counts ->> 'updated',
                              'unchanged', counts ->> 'unchanged', 'rejected', counts ->> 'rejected'),
                  json_object('mapping', json(?3), 'counts', json(counts))
           FROM imports WHERE id = ?2`,
        )
        .bind(at, id, JSON.stringify(mapping), actorOf(c).userId, actorOf(c).ip),
      db
        .prepare(`SELECT r.rejections FROM import_rows r WHERE r.import_id = ? AND r.status = 'rejected' ORDER BY r.row LIMIT ?`)
        .bind(id, REPORT_MAX_REJECTIONS),
    );
    const res = await db.batch(stmts);
    const stored = (res[res.length - 1]!.results as { rejections: string }[]).flatMap((r) => JSON.parse(r.rejections) as StoredRejection[]).slice(0, REPORT_MAX_REJECTIONS);
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
    return c.json(body);
  })
  .post('/:id/apply', validate('param', idPath), async (c) => {
    const { id } = c.req.valid('param');
    const db = c.env.DB;
    const imp = await requireImport(db, id);
    conflictUnless(imp, ['checked'], 'apply (run the dry run first)');
    const at = Date.now();
    const { results: tagRows } = await db
      .prepare(`SELECT DISTINCT t.value AS tagId FROM import_rows r, json_each(r.tag_ids) t WHERE r.import_id = ? AND r.status IN ('new', 'updated')`)
      .bind(id)
      .all<{ tagId: number }>();
    if (tagRows.length > IMPORT_MAX_TAGS) {
      throw new ApiError(409, 'conflict', `An import adds at most ${IMPORT_MAX_TAGS} distinct tags; this one adds ${tagRows.length}`, [{ path: 'tags', message: `more than ${IMPORT_MAX_TAGS} tags` }]);
    }
    const counts = await countsOf(db, id);
    const src: TagWriteSource = { source: 'import', batchId: batchIdOf(id), actorUserId: c.get('user').id, at };
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
        .prepare(`UPDATE import_rows SET contact_id = (SELECT c.id FROM contacts c WHERE c.external_id = import_rows.external_id) WHERE import_id = ? AND status = 'new'`)
        .bind(id),
    ];
    for (const { tagId } of tagRows) {
      stmts.push(
        ...tagSetStatements(
          db,
          { sql: `SELECT r.contact_id FROM import_rows r, json_each(r.tag_ids) t WHERE r.import_id = ? AND r.status IN ('new', 'updated') AND t.value = ?`, params: [id, tagId] },
          tagId,
          'add',
          src,
        ),
      );
    }
    stmts.push(
      auditStatement(db, { actor: actorOf(c),
        action: 'import.apply',
        objectType: 'import',
        objectId: id,
        summary: `Import of ${imp.file_name} applied: ${counts.new} new, ${counts.updated} updated, ${counts.unchanged} unchanged, ${counts.rejected} rejected`,
        params: { file: imp.file_name, new: counts.new, updated: counts.updated, unchanged: counts.unchanged, rejected: counts.rejected },
        after: { counts, tags: tagRows.map((t) => t.tagId), batchId: src.batchId },
        at,
      }),
      db.prepare(`SELECT count(*) AS n FROM tag_ledger WHERE batch_id = ? AND op = 'add'`).bind(src.batchId),
    );
    let res: D1Result[];
    try {
      res = await db.batch(stmts);
    } catch (e) {
      if (/UNIQUE constraint failed: contacts\.external_id/.test(String(e))) {
        throw new ApiError(409, 'conflict', 'Contacts changed since the dry run (an external id now exists): run the dry run again', [{ path: 'status', message: 'stale dry run' }]);
      }
      if (/guard:status/.test(String(e))) throw new ApiError(409, 'conflict', `Import ${id} is no longer ready to apply`);
      throw e;
    }
    const body: ImportApplyResult = { importId: id, status: 'applied', counts, tagsAdded: (res[res.length - 1]!.results[0] as { n: number }).n };
    return c.json(body);
  })
  .post('/:id/rollback', validate('param', idPath), async (c) => {
    const { id } = c.req.valid('param');
    const db = c.env.DB;
    const imp = await requireImport(db, id);
    conflictUnless(imp, ['applied'], 'roll back');
    const batchId = batchIdOf(id);
    const created = `SELECT contact_id FROM import_rows WHERE import_id = ? AND status = 'new'`;
    const [evs, ledger, otherTags, n] = await db.batch<Record<string, number | string>>([
      db.prepare(`SELECT count(*) AS n FROM events WHERE contact_id IN (${created})`).bind(id),
      db.prepare(`SELECT DISTINCT tag_id AS tagId, op FROM tag_ledger WHERE batch_id = ?`).bind(batchId),
      // tags the created contacts got since (rules, by hand): removed with them, through the tag writer
      db.prepare(`SELECT DISTINCT tag_id AS tagId FROM contact_tags WHERE contact_id IN (${created})`).bind(id),
      db.prepare(`SELECT sum(status = 'new') AS created, sum(status = 'updated') AS updated FROM import_rows WHERE import_id = ?`).bind(id),
    ]);
    const eventCount = (evs!.results[0]?.n as number) ?? 0;
    const counted = n!.results[0] as { created: number | null; updated: number | null };
    const deletedCount = counted.created ?? 0;
    const restored = counted.updated ?? 0;
    if (eventCount > 0) {
      throw new ApiError(409, 'conflict', `Contacts this import created have received ${eventCount} events since: deleting them would lose that history`, [
        { path: 'contacts', message: 'have events' },
      ]);
    }
    const at = Date.now();
    const src: TagWriteSource = { source: 'rollback', batchId: `rollback-${id}`, actorUserId: c.get('user').id, at };
    const ledgerRows = ledger!.results as { tagId: number; op: 'add' | 'remove' }[];
    const stmts: D1PreparedStatement[] = [
      db.prepare(`UPDATE imports SET status = 'rolled_back', rolled_back_at = ? WHERE id = ? AND status = 'applied'`).bind(at, id),
      guardOne(db, 'status'),
    ];
    // what the import added comes off; what it displaced (exclusive groups) goes back on
    for (const { tagId } of ledgerRows.filter((l) => l.op === 'add')) {
      stmts.push(...tagSetStatements(db, { sql: `SELECT contact_id FROM tag_ledger WHERE batch_id = ? AND tag_id = ? AND op = 'add'`, params: [batchId, tagId] }, tagId, 'remove', src));
    }
    for (const { tagId } of otherTags!.results as { tagId: number }[]) {
      stmts.push(...tagSetStatements(db, { sql: created, params: [id] }, tagId, 'remove', src));
    }
    for (const { tagId } of ledgerRows.filter((l) => l.op === 'remove')) {
      stmts.push(...tagSetStatements(db, { sql: `SELECT contact_id FROM tag_ledger WHERE batch_id = ? AND tag_id = ? AND op = 'remove'`, params: [batchId, tagId] }, tagId, 'add', src));
    }
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
        .bind(src.batchId, JSON.stringify({ importId: id, fileName: imp.file_name, contactsDeleted: deletedCount, contactsRestored: restored }), c.get('user').id, at),
      // its entry names the rollback (inserted just before) and takes the counts from that row
      db
        .prepare(
          `INSERT INTO audit_log (at, actor_user_id, actor_ip, action, object_type, object_id, summary, params, before, after)
           SELECT ?1, ?2, ?3, 'rollback.import', 'rollback', CAST(r.id AS TEXT),
                  'Rolling back import ' || ?4 || ': ' || ?6 || ' contacts deleted, ' || ?7 || ' restored, +' || r.added || ' −' || r.removed || ' tags',
                  -- AuditParamsByAction['rollback.import']
                  json_object('file', ?4, 'importId', ?5, 'deleted', ?6, 'restored', ?7, 'add', r.added, 'remove', r.removed),
                  json_object('counts', json(?8)),
                  json_object('kind', 'import', 'batchId', r.batch_id, 'params', json(r.params), 'add', r.added, 'remove', r.removed)
           FROM rollbacks r WHERE r.id = last_insert_rowid()`,
        )
        .bind(at, actorOf(c).userId, actorOf(c).ip, imp.file_name, id, deletedCount, restored, imp.counts),
      db.prepare(`SELECT id FROM rollbacks WHERE batch_id = ?`).bind(src.batchId),
      db.prepare(`SELECT count(*) AS n FROM tag_ledger WHERE batch_id = ?`).bind(src.batchId),
    );
    let res: D1Result[];
    try {
      res = await db.batch(stmts);
    } catch (e) {
      if (/guard:status/.test(String(e))) throw new ApiError(409, 'conflict', `Import ${id} is no longer applied`);
      throw e;
    }
    const body: ImportRollbackResult = {
      importId: id,
      status: 'rolled_back',
      rollbackId: (res[res.length - 2]!.results[0] as { id: number }).id,
      contactsDeleted: deletedCount,
      contactsRestored: restored,
      tagChangesReverted: (res[res.length - 1]!.results[0] as { n: number }).n,
    };
    return c.json(body);
  });
