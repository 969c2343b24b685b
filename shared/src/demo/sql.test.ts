import { describe, expect, it } from 'vitest';
import { collectDemo } from './generate';
import { demoSql, insertStatements, sqlLiteral, utf8Length } from './sql';

const NOW = Date.UTC(2026, 5, 1);

/**
 * A tiny reader for the INSERT statements the writer emits: splits the VALUES list into rows
 * of values, honouring quoted strings. Enough to prove the text round-trips to the data.
 */
function parseInsert(sql: string): { table: string; columns: string[]; rows: (string | number | null)[][] } {
  const m = /^INSERT INTO (\w+) \(([^)]*)\) VALUES\n/.exec(sql);
  if (!m) throw new Error(`not an insert: ${sql.slice(0, 60)}`);
  const rows: (string | number | null)[][] = [];
  let i = m[0].length;
  let row: (string | number | null)[] | null = null;
  while (i < sql.length) {
    const ch = sql[i] as string;
    if (ch === '(') {
      row = [];
      i++;
    } else if (ch === ')') {
      rows.push(row as (string | number | null)[]);
      row = null;
      i++;
    } else if (ch === "'") {
      let s = '';
      i++;
      for (;;) {
        const q = sql.indexOf("'", i);
        if (q < 0) throw new Error('unterminated string');
        s += sql.slice(i, q);
        if (sql[q + 1] === "'") {
          s += "'";
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      row?.push(s);
    } else if (ch === ',' || ch === ' ' || ch === '\n' || ch === ';') i++;
    else {
      const tok = /^(NULL|-?\d+)/.exec(sql.slice(i, i + 25));
      if (!tok || !row) throw new Error(`unexpected text at ${i}: ${sql.slice(i, i + 20)}`);
      row.push(tok[1] === 'NULL' ? null : Number(tok[1]));
      i += (tok[1] as string).length;
    }
  }
  return { table: m[1] as string, columns: (m[2] as string).split(', '), rows };
}

describe('sqlLiteral', () => {
  it('doubles single quotes and leaves everything else alone', () => {
    expect(sqlLiteral("O'Neil")).toBe("'O''Neil'");
    expect(sqlLiteral("''")).toBe("''''''");
    expect(sqlLiteral('王总-华东采购 🌸 "x" \\n')).toBe('\'王总-华东采购 🌸 "x" \\n\'');
  });

  it('writes integers and NULL bare, and refuses numbers SQL would misread', () => {
    expect(sqlLiteral(null)).toBe('NULL');
    expect(sqlLiteral(-42)).toBe('-42');
    expect(() => sqlLiteral(1.5)).toThrow();
    expect(() => sqlLiteral(Number.NaN)).toThrow();
    expect(() => sqlLiteral(1e21)).toThrow();
  });
});

describe('utf8Length', () => {
  it('counts bytes as TextEncoder does, for ASCII, CJK and emoji', () => {
    for (const s of ['', 'abc', '王总-华东采购', 'é', '🌸花花', "Tom's 小店"]) {
      expect(utf8Length(s)).toBe(new TextEncoder().encode(s).length);
    }
  });
});

describe('insertStatements', () => {
  it('round-trips awkward strings through the SQL text', () => {
    const rows = [
      { id: 1, name: "O'Neil", remark: null },
      { id: 2, name: "'); DROP TABLE contacts; --", remark: "Tom's 小店, (分店)" },
    ];
    const stmts = [...insertStatements('contacts', ['id', 'name', 'remark'], rows)];
    expect(stmts).toHaveLength(1);
    const parsed = parseInsert(stmts[0] as string);
    expect(parsed.rows).toEqual(rows.map((r) => [r.id, r.name, r.remark]));
  });

  it('splits into statements no longer than the limit, keeping every row', () => {
    const rows = Array.from({ length: 200 }, (_, i) => ({ id: i, name: `联系人${i}` }));
    const stmts = [...insertStatements('t', ['id', 'name'], rows, 500)];
    expect(stmts.length).toBeGreaterThan(1);
    // The limit is in UTF-8 bytes (联系人 is 9 bytes, 3 characters): what SQLite counts.
    for (const s of stmts) expect(new TextEncoder().encode(s).length).toBeLessThanOrEqual(500);
    expect(stmts.flatMap((s) => parseInsert(s).rows.map((r) => r[0]))).toEqual(rows.map((r) => r.id));
  });
});

describe('demoSql', () => {
  const opts = { contacts: 300, seed: 3, now: NOW };
  const stmts = [...demoSql(opts)];
  const data = collectDemo(opts);

  it('contains every generated row, in FK-safe table order', () => {
    const firstSeen: string[] = [];
    const counts = new Map<string, number>();
    const parsedContacts: (string | number | null)[][] = [];
    for (const s of stmts) {
      if (!s.startsWith('INSERT')) continue;
      const p = parseInsert(s);
      if (!firstSeen.includes(p.table)) firstSeen.push(p.table);
      counts.set(p.table, (counts.get(p.table) ?? 0) + p.rows.length);
      if (p.table === 'contacts') parsedContacts.push(...p.rows);
    }
    const order = [
      'departments',
      'users',
      'event_sources',
      'custom_fields',
      'tag_groups',
      'tags',
      'contacts',
      'events',
      'contact_daily_stats',
      'contact_tags',
      'tag_ledger',
    ];
    expect(firstSeen).toEqual(order);
    expect(Object.fromEntries(counts)).toEqual({
      departments: data.departments.length,
      users: data.users.length,
      event_sources: 1,
      custom_fields: data.customFields.length,
      tag_groups: data.tagGroups.length,
      tags: data.tags.length,
      contacts: 300,
      events: data.events.length,
      contact_daily_stats: data.dailyStats.length,
      contact_tags: data.contactTags.length,
      tag_ledger: data.tagLedger.length,
    });
    // Names with quotes survive the trip (the nickname list has some on purpose).
    const names = parsedContacts.map((r) => r[3]);
    expect(names).toEqual(data.contacts.map((c) => c.name));
  });

  it('ends with the updates only known after all contacts', () => {
    const updates = stmts.filter((s) => s.startsWith('UPDATE'));
    expect(updates.length).toBe(data.tags.filter((t) => t.last_applied_at !== null).length + 1);
    expect(stmts.slice(-updates.length)).toEqual(updates);
  });
});
