/**
 * Contact export as CSV: the columns (headers in zh-CN or en, named so that the import's header
 * guessing maps them back), cell escaping, and the guard against spreadsheet formula injection.
 */

/** Export columns, in file order; the key is the SQL alias the worker selects. */
export const EXPORT_COLUMNS = [
  { key: 'external_id', zh: '外部ID', en: 'External ID' },
  { key: 'name', zh: '姓名', en: 'Name' },
  { key: 'kind', zh: '类型', en: 'Kind' },
  { key: 'gender', zh: '性别', en: 'Gender' },
  { key: 'region', zh: '地区', en: 'Region' },
  { key: 'city', zh: '城市', en: 'City' },
  { key: 'company', zh: '公司', en: 'Company' },
  { key: 'occupation', zh: '职业', en: 'Occupation' },
  { key: 'remark', zh: '备注', en: 'Remark' },
  { key: 'department', zh: '部门', en: 'Department' },
  { key: 'tags', zh: '标签', en: 'Tags' },
  { key: 'total_spend_yuan', zh: '累计消费(元)', en: 'Total spend (CNY)' },
  { key: 'last_active', zh: '最近活跃', en: 'Last active' },
] as const;
export type ExportColumnKey = (typeof EXPORT_COLUMNS)[number]['key'];

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
export const exportHeader = (locale: 'zh-CN' | 'en') => csvLine(EXPORT_COLUMNS.map((c) => (locale === 'en' ? c.en : c.zh)));

/** UTF-8 byte order mark: without it Excel on Chinese Windows reads a UTF-8 CSV as GBK. */
export const UTF8_BOM = '\uFEFF';
