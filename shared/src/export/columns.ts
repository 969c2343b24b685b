/**
 * The contact export's columns, shared by the CSV and the XLSX writers: header words in zh-CN
 * and en (named so that the import's header guessing maps them back), which columns hold a
 * fixed set of values (written as words in the viewer's language, from the labels the rule
 * builder shows), and which hold sealed fields (phone, ID number: only for roles that see them
 * in clear, see worker/src/routes/contact-detail.ts).
 */
import { ENUM_VALUE_LABELS } from '../rules/labels';

export type ExportLocale = 'zh-CN' | 'en';
export type ExportFormat = 'csv' | 'xlsx';

/** One column of the export. */
export interface ExportColumn {
  /** The SQL alias the worker selects. */
  key: string;
  zh: string;
  en: string;
  /** Values of a fixed set, written as words (`ENUM_VALUE_LABELS`). */
  enum?: keyof typeof ENUM_VALUE_LABELS;
  /** A sealed field: exported in clear only to roles that may see it, left out for the others. */
  sealed?: true;
  /** A number (right-aligned, summable in a spreadsheet). */
  number?: true;
  /** Width in characters in the XLSX sheet. */
  width: number;
}

/** Export columns, in file order. New columns go at the end so existing files keep their layout. */
export const EXPORT_COLUMNS: readonly ExportColumn[] = [
  { key: 'external_id', zh: '外部ID', en: 'External ID', width: 18 },
  { key: 'name', zh: '姓名', en: 'Name', width: 14 },
  { key: 'kind', zh: '类型', en: 'Kind', enum: 'kind', width: 16 },
  { key: 'gender', zh: '性别', en: 'Gender', enum: 'gender', width: 8 },
  { key: 'region', zh: '地区', en: 'Region', width: 10 },
  { key: 'city', zh: '城市', en: 'City', width: 10 },
  { key: 'company', zh: '公司', en: 'Company', width: 18 },
  { key: 'occupation', zh: '职业', en: 'Occupation', width: 12 },
  { key: 'remark', zh: '备注', en: 'Remark', width: 20 },
  { key: 'department', zh: '部门', en: 'Department', width: 12 },
  { key: 'tags', zh: '标签', en: 'Tags', width: 36 },
  { key: 'total_spend_yuan', zh: '累计消费(元)', en: 'Total spend (CNY)', number: true, width: 14 },
  { key: 'last_active', zh: '最近活跃', en: 'Last active', width: 17 },
  { key: 'device', zh: '设备', en: 'Device', enum: 'device', width: 10 },
  { key: 'source_channel', zh: '来源渠道', en: 'Source channel', width: 14 },
  { key: 'phone', zh: '手机号', en: 'Phone', sealed: true, width: 14 },
  { key: 'id_number', zh: '身份证号', en: 'ID number', sealed: true, width: 20 },
];

/** The columns a viewer gets: sealed ones only when they may see sealed fields in clear. */
export function exportColumns(opts: { sealed: boolean }): readonly ExportColumn[] {
  return opts.sealed ? EXPORT_COLUMNS : EXPORT_COLUMNS.filter((c) => !c.sealed);
}

/** The header cells in a locale. */
export const headerCells = (cols: readonly ExportColumn[], locale: ExportLocale) => cols.map((c) => (locale === 'en' ? c.en : c.zh));

export type ExportCell = string | number | null;

/**
 * One row's cells, in column order: fixed-set values as words of the locale (an unknown value
 * is written as stored, never dropped).
 */
export function rowCells(cols: readonly ExportColumn[], row: Record<string, unknown>, locale: ExportLocale): ExportCell[] {
  const lang = locale === 'en' ? 'en' : 'zh';
  return cols.map((c) => {
    const v = row[c.key];
    if (v === null || v === undefined) return null;
    if (c.enum && typeof v === 'string') return ENUM_VALUE_LABELS[c.enum][v]?.[lang] ?? v;
    return typeof v === 'number' ? v : String(v);
  });
}
