/**
 * Contact export as CSV: cell escaping and the guard against spreadsheet formula injection. The
 * columns (and their words per locale) are in ./columns.ts, shared with the XLSX writer.
 */
import { EXPORT_COLUMNS, headerCells, type ExportLocale } from './columns';

/**
 * One CSV cell. Quoted when it holds a separator, quote or line break. A text starting with
 * = + - @ (or a tab / CR) is prefixed with ' so Excel shows it instead of evaluating it: an
 * exported contact named "=HYPERLINK(…)" must not become a live formula on someone's desktop.
 */
export function csvCell(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '';
  let s = String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One CSV line (CRLF, as Excel writes). */
export const csvLine = (cells: readonly (string | number | null | undefined)[]) => `${cells.map(csvCell).join(',')}\r\n`;

/** The header line in a locale. */
export const exportHeader = (locale: ExportLocale, cols = EXPORT_COLUMNS) => csvLine(headerCells(cols, locale));

/** UTF-8 byte order mark: without it Excel on Chinese Windows reads a UTF-8 CSV as GBK. */
export const UTF8_BOM = '\uFEFF';
