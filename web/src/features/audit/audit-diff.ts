/** Before / after of an audit entry as rows a person can read: one per field, marked by what happened to it. */
export interface DiffRow {
  field: string;
  before: string | null;
  after: string | null;
  change: 'added' | 'removed' | 'changed' | 'unchanged';
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function show(v: unknown): string | null {
  if (v === undefined) return null;
  if (typeof v === 'string') return v;
  return JSON.stringify(v, null, 1).replace(/\n\s*/g, ' ');
}

/** Field-by-field when both sides are objects (or one is absent); otherwise one row for the whole value. */
export function auditDiff(before: unknown, after: unknown): DiffRow[] {
  const b = before ?? undefined;
  const a = after ?? undefined;
  if ((b === undefined || isRecord(b)) && (a === undefined || isRecord(a))) {
    const keys = [...new Set([...Object.keys(b ?? {}), ...Object.keys(a ?? {})])];
    return keys.map((field) =>
      row(
        field,
        (b as Record<string, unknown> | undefined)?.[field],
        (a as Record<string, unknown> | undefined)?.[field],
        b !== undefined,
        a !== undefined,
      ),
    );
  }
  return [row('', b, a, b !== undefined, a !== undefined)];
}

function row(field: string, b: unknown, a: unknown, hasBefore: boolean, hasAfter: boolean): DiffRow {
  const before = show(b);
  const after = show(a);
  const change =
    !hasBefore || before === null
      ? after === null
        ? 'unchanged'
        : 'added'
      : !hasAfter || after === null
        ? 'removed'
        : before === after
          ? 'unchanged'
          : 'changed';
  return { field, before, after, change };
}
