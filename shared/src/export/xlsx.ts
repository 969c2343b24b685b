/**
 * A streaming XLSX writer: the workbook's few fixed parts and one worksheet whose rows are
 * deflated into the ZIP as they come, so a sheet of a million rows never sits in memory (only
 * DEFLATE's 32 KB window and the caller's current page). fflate's `Zip` + `ZipDeflate` (sync,
 * no Web Workers, so it runs in workerd) does the ZIP; the sheet XML is written here, with
 * inline strings (`t="inlineStr"`): a shared-strings table would need every string before the
 * first row. Workbook-building libraries (exceljs, write-excel-file, SheetJS) hold the whole
 * workbook in memory before writing, which is what an export of 100k contacts must not do.
 */
import { Zip, ZipDeflate, strToU8 } from 'fflate';
import type { ExportCell } from './columns';

export const XLSX_CONTENT_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

const XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n';
const NS_MAIN = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main';
const NS_REL = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';
const NS_PKG_REL = 'http://schemas.openxmlformats.org/package/2006/relationships';

const STATIC_PARTS = (sheetName: string): [string, string][] => [
  [
    '[Content_Types].xml',
    `${XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
      '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>' +
      '<Default Extension="xml" ContentType="application/xml"/>' +
      '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>' +
      '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>' +
      '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>' +
      '</Types>',
  ],
  [
    '_rels/.rels',
    `${XML_HEAD}<Relationships xmlns="${NS_PKG_REL}">` +
      '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>' +
      '</Relationships>',
  ],
  [
    'xl/workbook.xml',
    `${XML_HEAD}<workbook xmlns="${NS_MAIN}" xmlns:r="${NS_REL}"><sheets>` +
      `<sheet name="${xmlText(sheetName)}" sheetId="1" r:id="rId1"/></sheets></workbook>`,
  ],
  [
    'xl/_rels/workbook.xml.rels',
    `${XML_HEAD}<Relationships xmlns="${NS_PKG_REL}">` +
      '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>' +
      '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>' +
      '</Relationships>',
  ],
  [
    // style 1: the bold header row
    'xl/styles.xml',
    `${XML_HEAD}<styleSheet xmlns="${NS_MAIN}">` +
      '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font></fonts>' +
      '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>' +
      '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>' +
      '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>' +
      '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>' +
      '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>' +
      '</styleSheet>',
  ],
];

/** Text for XML: the five entities escaped, characters XML 1.0 cannot hold (most C0 controls) dropped. */
export function xmlText(s: string): string {
  return s
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

/** 0 → A, 25 → Z, 26 → AA. */
export function columnName(i: number): string {
  let s = '';
  for (let n = i + 1; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(65 + ((n - 1) % 26)) + s;
  return s;
}

/** One `<row>`: numbers as numbers, text as inline strings (never formulas: nothing here is evaluated). */
export function rowXml(r: number, cells: readonly ExportCell[], style?: number): string {
  const s = style ? ` s="${style}"` : '';
  let xml = `<row r="${r}">`;
  cells.forEach((v, i) => {
    if (v === null || v === '') return;
    const ref = `${columnName(i)}${r}`;
    xml +=
      typeof v === 'number' && Number.isFinite(v)
        ? `<c r="${ref}"${s}><v>${v}</v></c>`
        : `<c r="${ref}"${s} t="inlineStr"><is><t xml:space="preserve">${xmlText(String(v))}</t></is></c>`;
  });
  return `${xml}</row>`;
}

/**
 * Writes one sheet as a stream: `header`, then `rows(...)` as often as there are pages, then
 * `end()`. Every byte of the file goes to `out` as soon as DEFLATE gives it.
 */
export class XlsxStreamWriter {
  private readonly zip: Zip;
  private readonly sheet: ZipDeflate;
  private next = 2;

  constructor(
    out: (chunk: Uint8Array, final: boolean) => void,
    opts: { sheetName: string; header: readonly string[]; widths?: readonly number[] },
  ) {
    this.zip = new Zip((err, chunk, final) => {
      if (err) throw err;
      out(chunk, final);
    });
    for (const [name, text] of STATIC_PARTS(opts.sheetName.slice(0, 31) || 'Sheet1')) {
      const part = new ZipDeflate(name, { level: 6 });
      this.zip.add(part);
      part.push(strToU8(text), true);
    }
    this.sheet = new ZipDeflate('xl/worksheets/sheet1.xml', { level: 6 });
    this.zip.add(this.sheet);
    const cols = opts.widths?.length
      ? `<cols>${opts.widths.map((w, i) => `<col min="${i + 1}" max="${i + 1}" width="${w}" customWidth="1"/>`).join('')}</cols>`
      : '';
    // the header row stays in view while scrolling
    const views =
      '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>';
    this.push(`${XML_HEAD}<worksheet xmlns="${NS_MAIN}">${views}${cols}<sheetData>${rowXml(1, opts.header, 1)}`);
  }

  private push(text: string, final = false) {
    this.sheet.push(strToU8(text), final);
  }

  /** Appends rows (one page of them). */
  rows(rows: readonly (readonly ExportCell[])[]): void {
    if (!rows.length) return;
    let xml = '';
    for (const cells of rows) xml += rowXml(this.next++, cells);
    this.push(xml);
  }

  /** Closes the sheet and the ZIP (its central directory is the last chunk). */
  end(): void {
    this.push('</sheetData></worksheet>', true);
    this.zip.end();
  }
}
