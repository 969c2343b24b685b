import { describe, expect, it } from 'vitest';
import { csvCell, csvLine, exportHeader } from './csv';
import { guessMapping } from '../import/fields';
import { parseCsv } from '../import/parse';

describe('export CSV', () => {
  it('quotes separators, quotes and line breaks', () => {
    expect(csvCell('张伟')).toBe('张伟');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(csvCell(null)).toBe('');
    expect(csvCell(12.5)).toBe('12.5');
  });

  it('defuses text that a spreadsheet would run as a formula', () => {
    expect(csvCell('=HYPERLINK("http://x","点我")')).toBe(`"'=HYPERLINK(""http://x"",""点我"")"`);
    expect(csvCell('+86 138')).toBe("'+86 138");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell(-3)).toBe('-3');
  });

  it('writes headers the import maps back to the same fields, and a file the import parses back', () => {
    for (const locale of ['zh-CN', 'en'] as const) {
      const headers = exportHeader(locale).trimEnd().split(',');
      expect(guessMapping(headers).slice(0, 9)).toEqual([
        'externalId',
        'name',
        'kind',
        'gender',
        'region',
        'city',
        'company',
        'occupation',
        'remark',
      ]);
      expect(guessMapping(headers)[10]).toBe('tags');
    }
    const text =
      '\uFEFF' +
      exportHeader('zh-CN') +
      csvLine(['wm_1', '张, 伟', 'wecom_customer', 'male', '', '', '', '', '', '', '兴趣偏好/美妆，生命周期/活跃客户', 12.5, '']);
    const sheet = parseCsv(new TextEncoder().encode(text));
    expect(sheet.rows[0]!.cells.slice(0, 2)).toEqual(['wm_1', '张, 伟']);
    expect(sheet.rows[0]!.cells[10]).toBe('兴趣偏好/美妆，生命周期/活跃客户');
  });
});
