import { describe, expect, it } from 'vitest';
import { strFromU8, unzipSync } from 'fflate';
import { XlsxStreamWriter, columnName, rowXml, xmlText } from './xlsx';

describe('streaming XLSX writer', () => {
  it('names columns as a spreadsheet does', () => {
    expect([0, 1, 25, 26, 27, 51, 52, 701, 702].map(columnName)).toEqual(['A', 'B', 'Z', 'AA', 'AB', 'AZ', 'BA', 'ZZ', 'AAA']);
  });

  it('escapes XML and drops the control characters XML cannot hold', () => {
    expect(xmlText('a<b>&"c"')).toBe('a&lt;b&gt;&amp;&quot;c&quot;');
    expect(xmlText('x\u0000y\u0007z\tw\n')).toBe('xyz\tw\n');
    expect(xmlText('𠮷野家')).toBe('𠮷野家');
  });

  it('writes numbers as numbers and text as inline strings, never as formulas, skipping empty cells', () => {
    expect(rowXml(3, ['=SUM(A1)', null, 12.5, ''])).toBe(
      '<row r="3"><c r="A3" t="inlineStr"><is><t xml:space="preserve">=SUM(A1)</t></is></c><c r="C3"><v>12.5</v></c></row>',
    );
  });

  it('emits the file as it goes: bytes before the end, a valid ZIP after it', () => {
    const chunks: Uint8Array[] = [];
    let finals = 0;
    const w = new XlsxStreamWriter(
      (c, final) => {
        chunks.push(c);
        if (final) finals++;
      },
      { sheetName: '高价值客户', header: ['姓名', '消费'], widths: [10, 8] },
    );
    for (let page = 0; page < 20; page++) w.rows(Array.from({ length: 1000 }, (_, i) => [`客户${page * 1000 + i}`, i]));
    const beforeEnd = chunks.reduce((n, c) => n + c.length, 0);
    expect(beforeEnd).toBeGreaterThan(10_000); // streamed, not held until end()
    expect(finals).toBe(0);
    w.end();
    expect(finals).toBe(1);
    const zip = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) zip.set(c, (at += c.length) - c.length);
    const files = unzipSync(zip);
    expect(strFromU8(files['xl/workbook.xml']!)).toContain('name="高价值客户"');
    const sheet = strFromU8(files['xl/worksheets/sheet1.xml']!);
    expect(sheet.match(/<row /g)).toHaveLength(20_001);
    expect(sheet).toContain('<c r="A20001" t="inlineStr"><is><t xml:space="preserve">客户19999</t></is></c>');
    expect(sheet.endsWith('</sheetData></worksheet>')).toBe(true);
  });
});
