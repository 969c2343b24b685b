import { describe, expect, it } from 'vitest';
import { cellsForUpload, decodeText, parseCsv, toSheet } from './parse';

// '外部ID,姓名,手机,标签\r\nwm_1,张伟,13800138000,"生命周期/活跃客户,美妆"\r\n' as Excel on Chinese Windows saves it (GBK)
const GBK = new Uint8Array([
  205, 226, 178, 191, 73, 68, 44, 208, 213, 195, 251, 44, 202, 214, 187, 250, 44, 177, 234, 199, 169, 13, 10, 119, 109, 95, 49, 44, 213,
  197, 206, 176, 44, 49, 51, 56, 48, 48, 49, 51, 56, 48, 48, 48, 44, 34, 201, 250, 195, 252, 214, 220, 198, 218, 47, 187, 238, 212, 190,
  191, 205, 187, 167, 44, 195, 192, 215, 177, 34, 13, 10,
]);
const TEXT = '外部ID,姓名,手机,标签\r\nwm_1,张伟,13800138000,"生命周期/活跃客户,美妆"\r\n';

describe('CSV decoding and parsing', () => {
  it('reads a GBK file as Excel on Chinese Windows writes it', () => {
    const sheet = parseCsv(GBK);
    expect(sheet.encoding).toBe('gb18030');
    expect(sheet.headers).toEqual(['外部ID', '姓名', '手机', '标签']);
    expect(sheet.rows).toEqual([{ row: 2, cells: ['wm_1', '张伟', '13800138000', '生命周期/活跃客户,美妆'] }]);
  });

  it('reads UTF-8 with a BOM without leaving the BOM in the first header', () => {
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(TEXT)]);
    const sheet = parseCsv(bytes);
    expect(sheet.encoding).toBe('utf-8');
    expect(sheet.headers[0]).toBe('外部ID');
    expect(sheet.rows[0]!.cells[1]).toBe('张伟');
  });

  it('reads plain UTF-8, tab-separated, keeping spreadsheet row numbers across blank lines', () => {
    const sheet = parseCsv(new TextEncoder().encode('name\tphone\n\n李娜\t13900139000\n'));
    expect(decodeText(new TextEncoder().encode('李娜')).encoding).toBe('utf-8');
    expect(sheet.headers).toEqual(['name', 'phone']);
    expect(sheet.rows).toEqual([{ row: 3, cells: ['李娜', '13900139000'] }]);
  });

  it('turns typed cells (numbers, dates, nulls) from a spreadsheet into strings', () => {
    expect(
      toSheet([
        ['手机', '生日', '备注'],
        [13800138000, new Date(Date.UTC(1990, 4, 6)), null],
      ]).rows,
    ).toEqual([{ row: 2, cells: ['13800138000', '1990-05-06', ''] }]);
  });
});

describe('cellsForUpload', () => {
  it('drops empty cells past the header, keeps a ragged row ragged, and cuts at the cap', () => {
    expect(cellsForUpload(['a', 'b', '', ''], 2, 61)).toEqual(['a', 'b']);
    expect(cellsForUpload(['a', '', ''], 3, 61)).toEqual(['a', '', '']);
    expect(cellsForUpload(['a', 'b', 'c', ''], 2, 61)).toEqual(['a', 'b', 'c']);
    expect(
      cellsForUpload(
        Array.from({ length: 70 }, () => 'x'),
        60,
        61,
      ),
    ).toHaveLength(61);
  });
});
