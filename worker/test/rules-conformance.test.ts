import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { caseCompileOptions, caseData, CONFORMANCE_CASES, contactColumns, isGraphCase } from '@shared/rules/conformance/cases';
import { compileRule } from '@shared/rules/compile';
import { compileWhere } from '@shared/rules/sql';
import type { JsonLogic } from '@shared/rules/types';
import { runPreview } from '../src/rules/preview';

// Contact ids far from anything other tests insert into this file's isolated D1.
const BASE_ID = 500_000;

beforeAll(async () => {
  const db = env.DB;
  const stmts: D1PreparedStatement[] = [];
  const tagIds = new Set<number>();
  const deptIds = new Set<number>();
  // departments on a case's department path, each with its own path (the prefix ending in its id)
  const deptPaths = new Map<number, string>();
  CONFORMANCE_CASES.forEach((c, i) => {
    const data = caseData(c, BASE_ID + i);
    (data.tags ?? []).forEach((t) => tagIds.add(t));
    if (typeof data.contact.departmentId === 'number') deptIds.add(data.contact.departmentId);
    const path = data.contact.departmentPath;
    if (typeof path === 'string') {
      const ids = path.split('/').filter(Boolean).map(Number);
      ids.forEach((d, k) => deptPaths.set(d, `/${ids.slice(0, k + 1).join('/')}/`));
    }
  });
  // Foreign keys: tags and departments the cases refer to must exist.
  stmts.push(db.prepare("INSERT INTO tag_groups (id, name) VALUES (900001, '一致性测试')"));
  for (const t of tagIds) stmts.push(db.prepare('INSERT INTO tags (id, group_id, name) VALUES (?, 900001, ?)').bind(t, `标签${t}`));
  for (const [d, path] of deptPaths)
    stmts.push(db.prepare('INSERT INTO departments (id, name, path) VALUES (?, ?, ?)').bind(d, `部门${d}`, path));
  for (const d of deptIds) {
    if (!deptPaths.has(d)) stmts.push(db.prepare("INSERT INTO departments (id, name, path) VALUES (?, ?, '/')").bind(d, `部门${d}`));
  }

  CONFORMANCE_CASES.forEach((c, i) => {
    const id = BASE_ID + i;
    const data = caseData(c, id);
    const row = contactColumns(data.contact);
    const cols = Object.keys(row);
    stmts.push(
      db
        .prepare(`INSERT INTO contacts (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`)
        .bind(...cols.map((k) => row[k] ?? null)),
    );
    for (const t of data.tags ?? []) {
      stmts.push(db.prepare("INSERT INTO contact_tags (contact_id, tag_id, source, added_at) VALUES (?, ?, 'manual', 0)").bind(id, t));
    }
    for (const s of data.stats ?? []) {
      stmts.push(
        db
          .prepare('INSERT INTO contact_daily_stats (contact_id, type, day, count, amount) VALUES (?, ?, ?, ?, ?)')
          .bind(id, s.type, s.day, s.count, s.amount),
      );
    }
    (data.events ?? []).forEach((e, j) => {
      stmts.push(
        db
          .prepare(
            "INSERT INTO events (source_id, sender_event_id, contact_id, type, occurred_at, received_at, amount, channel, text) VALUES ('conformance', ?, ?, ?, ?, ?, ?, ?, ?)",
          )
          .bind(`${id}-${j}`, id, e.type, e.occurredAt, e.occurredAt, e.amount ?? null, e.channel ?? null, e.text ?? null),
      );
    });
  });
  for (let i = 0; i < stmts.length; i += 200) await db.batch(stmts.slice(i, i + 200));
});

describe('conformance: SQL on D1 agrees with every case', () => {
  CONFORMANCE_CASES.forEach((c, i) => {
    it(c.description, async () => {
      const id = BASE_ID + i;
      const data = caseData(c, id);
      const ctx = { now: data.now, tzOffsetMinutes: data.tzOffsetMinutes ?? 480, event: data.event ?? null };
      if (isGraphCase(c)) {
        const compiled = compileRule(c.rule, caseCompileOptions(c));
        if (!compiled.ok) throw new Error(JSON.stringify(compiled.errors));
        const r = await runPreview(env.DB, compiled.value, ctx, { scope: { sql: 'c.id = ?', params: [id] } });
        if (!r.ok) throw new Error(JSON.stringify(r.errors));
        expect(r.value.total).toBe(1);
        const fired = compiled.value.actions.filter((a) => r.value.nodes[a.nodeId] === 1).map((a) => a.nodeId);
        expect(fired.sort()).toEqual([...c.expected].sort());
        expect(r.value.matched).toBe(c.expected.length > 0 ? 1 : 0);
      } else {
        const w = compileWhere(c.rule as JsonLogic, ctx);
        if (!w.ok) throw new Error(JSON.stringify(w.errors));
        const row = await env.DB.prepare(`SELECT (${w.value.sql}) AS m FROM contacts c WHERE c.id = ?`)
          .bind(...w.value.params, id)
          .first<{ m: number | null }>();
        expect(row).not.toBeNull();
        // Every predicate must be 0/1, never NULL: NOT and else-branches depend on it.
        expect(row?.m === 0 || row?.m === 1).toBe(true);
        expect(row?.m === 1).toBe(c.expected);
      }
    });
  });
});
