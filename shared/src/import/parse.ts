/**
 * Turning an uploaded file into header + rows of strings, in the browser. CSV bytes are decoded
 * here rather than by the browser's FileReader guess: Excel on Chinese Windows writes GBK
 * (GB18030) unless told otherwise, and "UTF-8 CSV" from Excel starts with a BOM.
 */
import Papa from 'papaparse';

/** Rows handed to the checks: the header row and data rows, every cell a string. */
export interface ParsedSheet {
  headers: string[];
  /** `row` is the spreadsheet row number (header = 1). Entirely empty rows are skipped. */
  rows: { row: number; cells: string[] }[];
}

export type TextEncodingName = 'utf-8' | 'gb18030';

/**
 * Decodes CSV bytes: UTF-8 (with or without BOM) when the bytes are valid UTF-8, else GB18030
 * (a superset of GBK and GB2312). Valid UTF-8 that is really GBK is vanishingly rare for
 * Chinese text, so trying UTF-8 strictly first is safe.
 */
export function decodeText(bytes: Uint8Array): { text: string; encoding: TextEncodingName } {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    return { text: new TextDecoder('utf-8').decode(bytes.subarray(3)), encoding: 'utf-8' };
  }
  try {
    return { text: new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes), encoding: 'utf-8' };
  } catch {
    return { text: new TextDecoder('gb18030').decode(bytes), encoding: 'gb18030' };
  }
}

/** Rows of cells as strings, however the sheet typed them; dates as YYYY-MM-DD. */
export function toSheet(table: readonly (readonly unknown[])[]): ParsedSheet {
  const cell = (v: unknown): string => {
    if (v === null || v === undefined) return '';
    if (v instanceof Date) return Number.isNaN(v.getTime()) ? '' : v.toISOString().slice(0, 10);
    return String(v).trim();
  };
  const [head = [], ...body] = table;
  const headers = head.map(cell);
  headers[0] = (headers[0] ?? '').replace(/^\uFEFF/, '');
  const rows: ParsedSheet['rows'] = [];
  body.forEach((r, i) => {
    const cells = r.map(cell);
    if (cells.some((c) => c !== '')) rows.push({ row: i + 2, cells });
  });
  return { headers, rows };
}

/**
 * The header line's most frequent separator (comma, tab, semicolon, bar). Papaparse's own guess
 * checks field counts across rows and gives up on files with blank lines, which exports have.
 */
function guessDelimiter(text: string): string {
  const header = text.split(/\r?\n/, 1)[0] ?? '';
  let best = ',';
  let most = 0;
  for (const d of [',', '\t', ';', '|']) {
    const n = header.split(d).length - 1;
    if (n > most) [best, most] = [d, n];
  }
  return best;
}

/** Parses CSV bytes (delimiter from the header line: comma, tab, semicolon or bar). */
export function parseCsv(bytes: Uint8Array): ParsedSheet & { encoding: TextEncodingName; errors: string[] } {
  const { text, encoding } = decodeText(bytes);
  const result = Papa.parse<string[]>(text, { skipEmptyLines: false, delimiter: guessDelimiter(text) });
  // a trailing newline yields one empty row; empty rows are skipped by toSheet (row numbers kept)
  const errors = result.errors
    .filter((e) => e.code !== 'UndetectableDelimiter')
    .map((e) => `${e.row === undefined ? '' : `row ${e.row + 1}: `}${e.message}`);
  return { ...toSheet(result.data), encoding, errors };
}

/**
 * A row's cells as sent for staging: empty cells past the header's width dropped (trailing
 * delimiters are harmless), and at most `maxCells`, so a ragged line still reaches the server,
 * where the dry run rejects it as a row (`extra_cells`), instead of failing the whole upload.
 */
export function cellsForUpload(cells: readonly string[], width: number, maxCells: number): string[] {
  let end = cells.length;
  while (end > width && (cells[end - 1] ?? '').trim() === '') end--;
  return cells.slice(0, Math.min(end, maxCells));
}
