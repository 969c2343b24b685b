/**
 * Contact export, CSV or XLSX: the one pipeline behind `POST /api/exports/contacts` (the
 * Contacts list's filter or a segment, super admins) and `POST /api/segments/:id/export` (a
 * segment, whoever may read it, over the contacts they may see).
 *
 * Memory: rows are read from D1 in keyset pages (`c.id > last`, PAGE at a time) inside the
 * response stream's `pull`, which runs only when the client has taken the previous chunk; so at
 * most one page (and, for XLSX, DEFLATE's window) is held, whatever the export's size
 * (bench/export.ts measures the peak). Audited before the first byte is sent, with the row count.
 */
import { auditStatement, type AuditEntry } from '../audit';
import type { SqlPredicate } from '../auth/access';
import { revealField } from '../crypto/fields';
import { previewContext } from '../rules/context';
import { UTF8_BOM, csvLine } from '@shared/export/csv';
import { exportColumns, headerCells, rowCells, type ExportFormat, type ExportLocale } from '@shared/export/columns';
import { XLSX_CONTENT_TYPE, XlsxStreamWriter } from '@shared/export/xlsx';
import { EXPORT_COUNT_HEADER } from '@shared/api/exports';

/** Rows per D1 read: big enough that a 100k export is 50 reads, small enough to hold. */
export const EXPORT_PAGE = 2000;

export interface ExportRequest {
  /** Which contacts: a predicate over `contacts c` (a filter, a segment's WHERE and the viewer's scope, AND-ed). */
  where: SqlPredicate;
  format: ExportFormat;
  locale: ExportLocale;
  /** May the viewer see sealed fields (phone, ID number) in clear? Otherwise their columns are left out. */
  sealed: boolean;
  /** The file's name without date and extension (a segment's name, or "contacts"). */
  fileBase: string;
  /** The audit entry, completed here with the row count (`rows`) and the format. */
  audit: (rows: number) => AuditEntry;
}

const SELECT = `SELECT c.id, c.external_id, c.name, c.kind, c.gender, c.region, c.city, c.company, c.occupation, c.remark,
    d.name AS department,
    (SELECT group_concat(g.name || '/' || t.name, '，') FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id JOIN tag_groups g ON g.id = t.group_id
     WHERE ct.contact_id = c.id) AS tags,
    c.total_spend / 100.0 AS total_spend_yuan,
    CASE WHEN c.last_active_at IS NULL THEN NULL ELSE strftime('%Y-%m-%d %H:%M', c.last_active_at / 1000, 'unixepoch', ?) END AS last_active,
    c.device, c.source_channel`;
const SEALED = ', c.phone_enc, c.id_number_enc';

type Row = Record<string, string | number | null> & { id: number };

/** Counts, audits, and answers the export as a streamed file. */
export async function exportContacts(db: D1Database, env: Env, req: ExportRequest): Promise<Response> {
  const where = `(${req.where.sql})`;
  const { n } = (await db
    .prepare(`SELECT count(*) AS n FROM contacts c WHERE ${where}`)
    .bind(...req.where.params)
    .first<{ n: number }>())!;
  const at = Date.now();
  await auditStatement(db, req.audit(n)).run();

  // local time of the configured zone, as SQLite modifier '+480 minutes'
  const offset = previewContext(env, at).tzOffsetMinutes;
  const tz = `${offset >= 0 ? '+' : ''}${offset} minutes`;
  const cols = exportColumns({ sealed: req.sealed });
  const sql = `${SELECT}${req.sealed ? SEALED : ''} FROM contacts c LEFT JOIN departments d ON d.id = c.department_id
    WHERE ${where} AND c.id > ? ORDER BY c.id LIMIT ?`;

  /** The next page of cells, or null after the last one. */
  let after = 0;
  let done = false;
  async function nextPage(): Promise<ReturnType<typeof rowCells>[] | null> {
    if (done) return null;
    // keyset paging by id: each page is an indexed range, whatever the file's size
    const { results } = await db
      .prepare(sql)
      .bind(tz, ...req.where.params, after, EXPORT_PAGE)
      .all<Row>();
    if (results.length < EXPORT_PAGE) done = true;
    if (!results.length) return done ? null : [];
    after = results[results.length - 1]!.id;
    if (req.sealed) {
      await Promise.all(
        results.map(async (r) => {
          r.phone = await revealField(env, r.phone_enc, true);
          r.id_number = await revealField(env, r.id_number_enc, true);
        }),
      );
    }
    return results.map((r) => rowCells(cols, r, req.locale));
  }

  const header = headerCells(cols, req.locale);
  const stream =
    req.format === 'xlsx'
      ? xlsxStream(
          req.fileBase,
          header,
          cols.map((c) => c.width),
          nextPage,
        )
      : csvStream(header, nextPage);
  const day = new Date(at + offset * 60_000).toISOString().slice(0, 10);
  const file = `${req.fileBase}-${day}.${req.format}`;
  return new Response(stream, {
    headers: {
      'content-type': req.format === 'xlsx' ? XLSX_CONTENT_TYPE : 'text/csv; charset=utf-8',
      // an ASCII name for old clients, the real one (Chinese segment names) for the rest
      'content-disposition': `attachment; filename="contacts-${day}.${req.format}"; filename*=UTF-8''${encodeURIComponent(file)}`,
      [EXPORT_COUNT_HEADER]: String(n),
      'cache-control': 'no-store',
    },
  });
}

type Pages = () => Promise<ReturnType<typeof rowCells>[] | null>;

function csvStream(header: string[], nextPage: Pages): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(UTF8_BOM + csvLine(header)));
    },
    async pull(controller) {
      const rows = await nextPage();
      if (rows === null) return controller.close();
      if (rows.length) controller.enqueue(encoder.encode(rows.map(csvLine).join('')));
    },
  });
}

function xlsxStream(sheetName: string, header: string[], widths: number[], nextPage: Pages): ReadableStream<Uint8Array> {
  let writer: XlsxStreamWriter;
  let closed = false;
  let chunks = 0;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      writer = new XlsxStreamWriter(
        (chunk, final) => {
          if (chunk.length) {
            controller.enqueue(chunk);
            chunks++;
          }
          if (final && !closed) {
            closed = true;
            controller.close();
          }
        },
        // Excel refuses sheet names with : \ / ? * [ ]
        { sheetName: sheetName.replace(/[:\\/?*[\]]/g, ' '), header, widths },
      );
    },
    async pull() {
      // DEFLATE may keep a small page in its window and give nothing yet; workerd calls pull
      // again only after something was enqueued, so read on until it gives bytes or the end
      const before = chunks;
      while (chunks === before && !closed) {
        const rows = await nextPage();
        if (rows === null) writer.end();
        else writer.rows(rows);
      }
    },
  });
}
