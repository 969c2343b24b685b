import { parseCsv, toSheet, type ParsedSheet } from '@shared/import/parse';

/** The file kinds the import screen reads. Old binary .xls is not one: Excel saves .xlsx or CSV. */
export const ACCEPTED_FILES = '.csv,.txt,.tsv,.xlsx';

export class UnreadableFileError extends Error {
  constructor(readonly reason: 'unsupported' | 'empty' | 'invalid') {
    super(reason);
  }
}

/** Reads an uploaded CSV (UTF-8, UTF-8 with BOM, GBK/GB18030) or XLSX (first sheet) in the browser. */
export async function readImportFile(file: File): Promise<ParsedSheet & { encoding?: string }> {
  const name = file.name.toLowerCase();
  let sheet: ParsedSheet & { encoding?: string };
  if (name.endsWith('.xlsx')) {
    // loaded on demand: only XLSX uploads pay for the zip + XML reader
    const { readSheet } = await import('read-excel-file/browser');
    try {
      sheet = toSheet(await readSheet(file));
    } catch {
      throw new UnreadableFileError('invalid');
    }
  } else if (/\.(csv|txt|tsv)$/.test(name)) {
    sheet = parseCsv(new Uint8Array(await file.arrayBuffer()));
  } else {
    throw new UnreadableFileError('unsupported');
  }
  if (sheet.headers.every((h) => h === '') || sheet.rows.length === 0) throw new UnreadableFileError('empty');
  return sheet;
}
