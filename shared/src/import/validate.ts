/**
 * Checking an import before anything is written: the mapping itself, columns whose values have
 * the wrong shape (a shifted column), each row's values, duplicates inside the file, and tag
 * references against the taxonomy. Every rejection names its row, column and reason.
 */
import type { ContactKind, Gender } from '../domain';
import { normalizeIdNumber, normalizePhone, parseGender, parseKind, valueProblem, type ImportField, type ValueProblem } from './fields';

/** Column index → field (null = not imported). */
export type ImportMapping = (ImportField | null)[];

export type RejectionReason =
  | ValueProblem
  | 'required'
  | 'misaligned_column'
  | 'duplicate_in_file'
  | 'unknown_tag'
  | 'ambiguous_tag'
  | 'retired_tag'
  | 'exclusive_conflict'
  | 'phone_taken'
  /** The row has non-empty cells beyond the header's columns (a ragged CSV line): its values are likely shifted. */
  | 'extra_cells';

/**
 * One rejected value. `row` is the spreadsheet row (the header is row 1, so the first data row
 * is 2); `column` the 0-based column index; `value` what the cell held; `detail` an argument of
 * the reason (the other row of a duplicate, the tag that is unknown…).
 */
export interface Rejection {
  row: number;
  column: number;
  field: ImportField | null;
  reason: RejectionReason;
  value?: string;
  detail?: string;
}

/** A column whose values mostly have the wrong shape: the file is refused until it is remapped. */
export interface MisalignedColumn {
  column: number;
  field: ImportField;
  /** Non-empty values checked, and how many did not fit. */
  checked: number;
  bad: number;
  /** Up to three offending values. */
  samples: string[];
}

export interface MappingProblem {
  column: number | null;
  field: ImportField | null;
  reason: 'required' | 'duplicate_field';
}

/** The mapping must import the external id, and no field from two columns. */
export function mappingProblems(mapping: ImportMapping): MappingProblem[] {
  const out: MappingProblem[] = [];
  const seen = new Map<ImportField, number>();
  mapping.forEach((f, column) => {
    if (!f) return;
    if (seen.has(f)) out.push({ column, field: f, reason: 'duplicate_field' });
    else seen.set(f, column);
  });
  if (!seen.has('externalId')) out.push({ column: null, field: 'externalId', reason: 'required' });
  return out;
}

/** Share of wrong-shaped values above which a column counts as misaligned ("most values"). */
export const MISALIGNED_SHARE = 0.5;

/**
 * Columns where most non-empty values do not fit the mapped field: phone numbers under 姓名,
 * names under 手机, dates under a name… A few bad values are row rejections; most means the
 * column itself is wrong (shifted, or mapped to the wrong field).
 */
export function misalignedColumns(mapping: ImportMapping, rows: readonly (readonly string[])[]): MisalignedColumn[] {
  const out: MisalignedColumn[] = [];
  mapping.forEach((field, column) => {
    if (!field || field === 'remark' || field === 'tags') return;
    let checked = 0;
    let bad = 0;
    const samples: string[] = [];
    for (const cells of rows) {
      const v = (cells[column] ?? '').trim();
      if (!v) continue;
      checked++;
      if (valueProblem(field, v)) {
        bad++;
        if (samples.length < 3) samples.push(v);
      }
    }
    if (checked > 0 && bad / checked > MISALIGNED_SHARE) out.push({ column, field, checked, bad, samples });
  });
  return out;
}

/** A tag named in a cell: `组/标签` (group and tag) or a bare tag name. */
export interface TagRef {
  group: string | null;
  name: string;
}

/** Splits a tags cell on the usual separators (, ， ; ； 、 | and newlines); `/` separates group from tag. */
export function parseTagCell(cell: string): TagRef[] {
  const refs: TagRef[] = [];
  const seen = new Set<string>();
  for (const part of cell.split(/[,，;；、|\n]/)) {
    const p = part.trim();
    if (!p) continue;
    const slash = p.search(/[/／]/);
    const ref: TagRef =
      slash > 0
        ? { group: p.slice(0, slash).trim(), name: p.slice(slash + 1).trim() }
        : { group: null, name: p.replace(/^[/／]/, '').trim() };
    if (!ref.name) continue;
    const key = `${ref.group ?? ''}\u0000${ref.name}`;
    if (!seen.has(key)) {
      seen.add(key);
      refs.push(ref);
    }
  }
  return refs;
}

/** A contact's values as imported: only the fields the file has (an empty cell is absent). */
export interface ImportValues {
  externalId?: string;
  name?: string;
  phone?: string;
  idNumber?: string;
  region?: string;
  city?: string;
  company?: string;
  occupation?: string;
  gender?: Gender;
  remark?: string;
  kind?: ContactKind;
}

export interface CheckedRow {
  row: number;
  values: ImportValues;
  tags: TagRef[];
  rejections: Rejection[];
}

/** Checks one row's cells against the mapping: normalized values, tag references, rejections. */
export function checkRow(mapping: ImportMapping, row: number, cells: readonly string[]): CheckedRow {
  const values: ImportValues = {};
  const rejections: Rejection[] = [];
  let tags: TagRef[] = [];
  const extra = raggedRejection(mapping, row, cells);
  if (extra) rejections.push(extra);
  mapping.forEach((field, column) => {
    if (!field) return;
    const raw = (cells[column] ?? '').normalize('NFC').trim();
    if (!raw) {
      if (field === 'externalId') rejections.push({ row, column, field, reason: 'required' });
      return;
    }
    const problem = valueProblem(field, raw);
    if (problem) {
      rejections.push({ row, column, field, reason: problem, value: raw });
      return;
    }
    switch (field) {
      case 'phone':
        values.phone = normalizePhone(raw)!;
        break;
      case 'idNumber':
        values.idNumber = normalizeIdNumber(raw)!;
        break;
      case 'gender':
        values.gender = parseGender(raw)!;
        break;
      case 'kind':
        values.kind = parseKind(raw)!;
        break;
      case 'tags':
        tags = parseTagCell(raw);
        break;
      default:
        values[field] = raw;
    }
  });
  return { row, values, tags, rejections };
}

/**
 * A row with non-empty cells past the header's last column (one more delimiter on a CSV line)
 * is rejected as a whole: which of its cells belong to which column is a guess. Empty cells past
 * the end (trailing delimiters, Excel's padding) are harmless and ignored. `column` is the first
 * extra non-empty cell, `detail` the header's column count, `value` the extra cells.
 */
export function raggedRejection(mapping: ImportMapping, row: number, cells: readonly string[]): Rejection | null {
  const extra = cells.slice(mapping.length).map((c) => c.trim());
  const first = extra.findIndex((c) => c !== '');
  if (first < 0) return null;
  return {
    row,
    column: mapping.length + first,
    field: null,
    reason: 'extra_cells',
    value: extra.filter((c) => c !== '').join(', '),
    detail: String(mapping.length),
  };
}

/**
 * Later rows that repeat an earlier row's external id or phone number are rejected, naming the
 * first row: which of two conflicting lines is right is the user's call, not ours.
 */
export function duplicateRejections(mapping: ImportMapping, rows: readonly CheckedRow[]): Rejection[] {
  const out: Rejection[] = [];
  const keys: ('externalId' | 'phone')[] = ['externalId', 'phone'];
  for (const key of keys) {
    const column = mapping.indexOf(key);
    if (column < 0) continue;
    const first = new Map<string, number>();
    for (const r of rows) {
      const v = r.values[key];
      if (!v) continue;
      const seen = first.get(v);
      if (seen === undefined) first.set(v, r.row);
      else out.push({ row: r.row, column, field: key, reason: 'duplicate_in_file', value: v, detail: String(seen) });
    }
  }
  return out;
}

/** A tag as the resolver sees the taxonomy. */
export interface TaxonomyTag {
  id: number;
  name: string;
  groupId: number;
  groupName: string;
  exclusive: boolean;
  status: 'active' | 'retired';
}

export type TagResolution =
  | { ok: true; tagIds: number[] }
  | { ok: false; reason: 'unknown_tag' | 'ambiguous_tag' | 'retired_tag' | 'exclusive_conflict'; detail: string };

/** Index of the taxonomy for {@link resolveTags}: by group/name and by bare name. */
export function taxonomyIndex(tags: readonly TaxonomyTag[]) {
  const byGroupName = new Map<string, TaxonomyTag>();
  const byName = new Map<string, TaxonomyTag[]>();
  for (const t of tags) {
    byGroupName.set(`${t.groupName}\u0000${t.name}`, t);
    byName.set(t.name, [...(byName.get(t.name) ?? []), t]);
  }
  return { byGroupName, byName };
}

const refText = (r: TagRef) => (r.group ? `${r.group}/${r.name}` : r.name);

/**
 * Tag references to tag ids. A bare name must name one tag in the whole taxonomy (else
 * "ambiguous": write 组/标签); retired tags are refused, and so are two tags of one exclusive group.
 */
export function resolveTags(refs: readonly TagRef[], index: ReturnType<typeof taxonomyIndex>): TagResolution {
  const found: TaxonomyTag[] = [];
  for (const r of refs) {
    let tag: TaxonomyTag | undefined;
    if (r.group) {
      tag = index.byGroupName.get(`${r.group}\u0000${r.name}`);
      if (!tag) return { ok: false, reason: 'unknown_tag', detail: refText(r) };
    } else {
      const all = index.byName.get(r.name) ?? [];
      const active = all.filter((t) => t.status === 'active');
      if (all.length === 0) return { ok: false, reason: 'unknown_tag', detail: refText(r) };
      if (active.length > 1 || (active.length === 0 && all.length > 1)) return { ok: false, reason: 'ambiguous_tag', detail: refText(r) };
      tag = active[0] ?? all[0]!;
    }
    if (tag.status !== 'active') return { ok: false, reason: 'retired_tag', detail: refText(r) };
    if (!found.some((f) => f.id === tag.id)) found.push(tag);
  }
  for (const t of found) {
    if (!t.exclusive) continue;
    const same = found.filter((f) => f.groupId === t.groupId);
    if (same.length > 1)
      return { ok: false, reason: 'exclusive_conflict', detail: `${t.groupName}: ${same.map((f) => f.name).join(', ')}` };
  }
  return { ok: true, tagIds: found.map((t) => t.id) };
}

/** Outcome of checking a whole file (everything but what needs the database). */
export interface FileCheck {
  mappingProblems: MappingProblem[];
  misaligned: MisalignedColumn[];
  rows: CheckedRow[];
}

/**
 * Checks a file page by page, in row order, so a 100k-row import never needs all its rows in
 * memory: each page's rows come back checked (in-file duplicates included), while the
 * per-column shape counts behind {@link misaligned} and one key per row for duplicates carry
 * over. Same verdicts as {@link checkRow} + {@link duplicateRejections} + {@link misalignedColumns}.
 */
export class FileChecker {
  private readonly firstByKey = { externalId: new Map<string, number>(), phone: new Map<string, number>() };
  private readonly shapes = new Map<number, { field: ImportField; checked: number; bad: number; samples: string[] }>();
  constructor(readonly mapping: ImportMapping) {
    mapping.forEach((field, column) => {
      if (field && field !== 'remark' && field !== 'tags') this.shapes.set(column, { field, checked: 0, bad: 0, samples: [] });
    });
  }

  add(rows: readonly { row: number; cells: readonly string[] }[]): CheckedRow[] {
    return rows.map((r) => {
      for (const [column, s] of this.shapes) {
        const v = (r.cells[column] ?? '').trim();
        if (!v) continue;
        s.checked++;
        if (valueProblem(s.field, v)) {
          s.bad++;
          if (s.samples.length < 3) s.samples.push(v);
        }
      }
      const checked = checkRow(this.mapping, r.row, r.cells);
      if (checked.rejections.length === 0) {
        const dupes: Rejection[] = [];
        for (const key of ['externalId', 'phone'] as const) {
          const v = checked.values[key];
          if (!v) continue;
          const first = this.firstByKey[key].get(v);
          if (first === undefined) this.firstByKey[key].set(v, r.row);
          else
            dupes.push({
              row: r.row,
              column: this.mapping.indexOf(key),
              field: key,
              reason: 'duplicate_in_file',
              value: v,
              detail: String(first),
            });
        }
        checked.rejections.push(...dupes);
      }
      return checked;
    });
  }

  /** Columns where, over every row added so far, most non-empty values have the wrong shape. */
  misaligned(): MisalignedColumn[] {
    const out: MisalignedColumn[] = [];
    for (const [column, s] of this.shapes) {
      if (s.checked > 0 && s.bad / s.checked > MISALIGNED_SHARE)
        out.push({ column, field: s.field, checked: s.checked, bad: s.bad, samples: s.samples });
    }
    return out.sort((x, y) => x.column - y.column);
  }
}

/**
 * Checks a parsed file: the mapping, misaligned columns, each row, duplicates inside the file.
 * `rows[i].row` is the spreadsheet row number. A row with any rejection is not imported.
 */
export function checkFile(mapping: ImportMapping, rows: readonly { row: number; cells: readonly string[] }[]): FileCheck {
  const checker = new FileChecker(mapping);
  const checked = checker.add(rows);
  return { mappingProblems: mappingProblems(mapping), misaligned: checker.misaligned(), rows: checked };
}
