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
 *
 * The dry run, apply and rollback live in `worker/src/imports/`; the handlers here validate and answer.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../app-env';
import { ApiError } from '../errors';
import { validate } from '../validate';
import { auditStatement } from '../audit';
import { actorOf, requireRole } from '../auth/access';
import { fieldKeys } from '../crypto/fields';
import { dryRun } from '../imports/dry-run';
import { applyImport } from '../imports/apply';
import { rollbackImport } from '../imports/rollback';
import { requireImport, summary, conflictUnless, guardOne, sealCells } from '../imports/rows';
import { IMPORT_MAX_ROWS, createImportBody, dryRunBody, importRowsBody, type ImportStageResult } from '@shared/api/imports';
import { mappingProblems } from '@shared/import';
import { batch, typed, type ImportRow } from '../db/rows';

const idPath = z.object({ id: z.string().uuid('must be an import id') }).strict();

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
        problems.map((p) => ({
          path: p.column === null ? 'mapping' : `mapping.${p.column}`,
          message: p.reason === 'required' ? `${p.field} must be mapped` : `${p.field} is mapped twice`,
        })),
      );
    }
    const id = crypto.randomUUID();
    const at = Date.now();
    const db = c.env.DB;
    if (b.departmentId !== null && !(await db.prepare('SELECT 1 FROM departments WHERE id = ?').bind(b.departmentId).first())) {
      throw new ApiError(400, 'unknown_reference', `No department with id ${b.departmentId}`, [
        { path: 'departmentId', message: 'no such department' },
      ]);
    }
    await db.batch([
      db
        .prepare(
          'INSERT INTO imports (id, status, file_name, headers, mapping, default_kind, department_id, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .bind(
          id,
          'staging',
          b.fileName,
          JSON.stringify(b.headers),
          JSON.stringify(b.mapping),
          b.defaultKind,
          b.departmentId,
          c.get('user').id,
          at,
        ),
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
      if (seen.has(r.row))
        throw new ApiError(400, 'invalid_request', `rows.${i}: row ${r.row} is sent twice`, [
          { path: `rows.${i}.row`, message: 'sent twice' },
        ]);
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
    const [, , , , count] = await batch(db, [
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
        .prepare(
          `UPDATE imports SET row_count = (SELECT count(*) FROM import_rows WHERE import_id = ?1), status = 'staging', counts = NULL WHERE id = ?1 AND status IN ('staging', 'checked')`,
        )
        .bind(id),
      guardOne(db, 'status'),
      auditStatement(db, {
        actor: actorOf(c),
        action: 'import.rows',
        objectType: 'import',
        objectId: id,
        summary: `${rows.length} rows staged (rows ${first}–${last})`,
        params: { count: rows.length, first, last },
        at,
      }),
      typed<Pick<ImportRow, 'row_count'>>(db.prepare('SELECT row_count FROM imports WHERE id = ?').bind(id)),
    ]);
    const body: ImportStageResult = {
      importId: id,
      staged: rows.length,
      rowCount: count.results[0]!.row_count,
    };
    return c.json(body);
  })
  .post('/:id/dry-run', validate('param', idPath), validate('json', dryRunBody), async (c) => {
    return c.json(await dryRun(c.env.DB, c.env, actorOf(c), c.req.valid('param').id, c.req.valid('json')));
  })
  .post('/:id/apply', validate('param', idPath), async (c) => {
    return c.json(await applyImport(c.env.DB, c.get('user'), actorOf(c), c.req.valid('param').id));
  })
  .post('/:id/rollback', validate('param', idPath), async (c) => {
    return c.json(await rollbackImport(c.env.DB, c.get('user'), actorOf(c), c.req.valid('param').id));
  });
