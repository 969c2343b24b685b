import { describe, expect, it } from 'vitest';
import { auditDiff } from '../src/features/audit/audit-diff';

describe('audit before/after as rows', () => {
  it('marks each field of an edit as changed, unchanged, added or removed', () => {
    const rows = auditDiff(
      { name: '王磊', role: 'staff', departmentId: 3, note: 'x' },
      { name: '王磊', role: 'dept_admin', departmentId: 3, disabled: true },
    );
    expect(rows).toEqual([
      { field: 'name', before: '王磊', after: '王磊', change: 'unchanged' },
      { field: 'role', before: 'staff', after: 'dept_admin', change: 'changed' },
      { field: 'departmentId', before: '3', after: '3', change: 'unchanged' },
      { field: 'note', before: 'x', after: null, change: 'removed' },
      { field: 'disabled', before: null, after: 'true', change: 'added' },
    ]);
  });

  it('a creation has only an after side; nested values are shown as compact JSON', () => {
    const rows = auditDiff(null, { email: 'a@b.c', tags: [1, 2], range: { from: 1 } });
    expect(rows.map((r) => [r.field, r.before, r.after, r.change])).toEqual([
      ['email', null, 'a@b.c', 'added'],
      ['tags', null, '[ 1, 2 ]', 'added'],
      ['range', null, '{ "from": 1 }', 'added'],
    ]);
  });

  it('a non-object value (a tag list) is one row for the whole value; nothing recorded is no rows', () => {
    expect(auditDiff([1, 3], [1, 3, 5])).toEqual([{ field: '', before: '[ 1, 3 ]', after: '[ 1, 3, 5 ]', change: 'changed' }]);
    expect(auditDiff(null, null)).toEqual([]);
  });
});
