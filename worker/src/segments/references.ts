/**
 * Segment references ("in segment X" conditions) around the compiler: who may name a segment,
 * who uses one (a used segment cannot be deleted), and the stored audiences that follow an edit.
 *
 * A segment's stored `logic` is its audience with every referenced segment expanded; whatever
 * reads it (sizes, snapshots, overlap, export, the contact page) counts the current definitions
 * because saving a segment re-stores the logic of every segment that names it, transitively, in
 * the same batch (`dependantLogicStatements`). Rules compile with the current graphs wherever
 * they compile (worker/src/rules/context.ts `compileOptions`, execution/published.ts).
 */
import type { SessionUser } from '@shared/api/auth';
import type { SegmentSource } from '@shared/rules/compile';
import { compileSegment, segmentReferences } from '@shared/rules/segment';
import { parseJsonOr } from '@shared/json';
import { ApiError } from '../errors';
import { inScope } from '../auth/access';
import { compileOptions, segmentResolver, type Workspace } from '../rules/context';

/**
 * 400 naming the first segment the graph names that does not exist or is outside the user's
 * scope (the same answer for both: a hidden segment does not exist for them).
 */
export function requireVisibleSegments(ws: Workspace, user: SessionUser, graph: unknown, selfId?: number): void {
  const byId = new Map(ws.segments.map((s) => [s.id, s]));
  const refs = segmentReferences(graph).filter((r) => r.segmentId !== selfId);
  const bad = refs.filter((r) => {
    const s = byId.get(r.segmentId);
    return !s || !inScope(user, s.departmentPath);
  });
  if (bad.length)
    throw new ApiError(
      400,
      'unknown_reference',
      `No segment with id ${bad.map((r) => r.segmentId).join(', ')}: a condition "in segment" can name only a segment you can see`,
      bad.map((r) => ({ path: `graph.nodes.${r.nodeId}`, message: `no segment with id ${r.segmentId}` })),
    );
}

/**
 * 409 when the compiler found segments naming each other in a loop, naming the loop
 * (`segments "A" → "B" → "A" form a cycle`), pinned to the node that closes it.
 */
export function refuseCycle(errors: readonly { nodeId: string | null; code: string; message: string }[]): void {
  const cycles = errors.filter((e) => e.code === 'segment_cycle');
  if (cycles.length)
    throw new ApiError(
      409,
      'conflict',
      cycles.map((e) => e.message).join('; '),
      cycles.map((e) => ({ path: `graph.nodes.${e.nodeId ?? ''}`, message: e.message })),
    );
}

/** Rules and segments whose graph names a segment. */
export interface SegmentUsers {
  rules: { id: number; name: string }[];
  segments: { id: number; name: string }[];
}

/**
 * Who names segment `id`: rules (draft or published version; archived rules left out, they run
 * nothing) and other segments. Graphs are pre-filtered by text, then read properly.
 */
export async function segmentUsers(db: D1Database, id: number): Promise<SegmentUsers> {
  const [rules, segments] = await db.batch<{
    id: number;
    name: string;
    draft_graph: string;
    published_graph: string | null;
    graph: string;
  }>([
    db.prepare(
      `SELECT r.id, r.name, r.draft_graph, v.graph AS published_graph FROM rules r
       LEFT JOIN rule_versions v ON v.rule_id = r.id AND v.version = r.published_version
       WHERE r.status <> 'archived' AND (instr(r.draft_graph, '"segment"') > 0 OR instr(coalesce(v.graph, ''), '"segment"') > 0) ORDER BY r.id`,
    ),
    db.prepare(`SELECT id, name, graph FROM segments WHERE id <> ? AND instr(graph, '"segment"') > 0 ORDER BY id`).bind(id),
  ]);
  const names = (text: string | null) => segmentReferences(parseJsonOr<unknown>(text ?? 'null', null)).some((r) => r.segmentId === id);
  return {
    rules: rules!.results.filter((r) => names(r.draft_graph) || names(r.published_graph)).map((r) => ({ id: r.id, name: r.name })),
    segments: segments!.results.filter((s) => names(s.graph)).map((s) => ({ id: s.id, name: s.name })),
  };
}

/** 409 naming the rules and segments that use segment `id`: it cannot be deleted under them. */
export async function refuseDeleteIfUsed(db: D1Database, id: number, name: string): Promise<void> {
  const users = await segmentUsers(db, id);
  if (!users.rules.length && !users.segments.length) return;
  const who = [...users.rules.map((r) => `rule "${r.name}"`), ...users.segments.map((s) => `segment "${s.name}"`)];
  // details name each user (path `usedBy.rule.<id>` / `usedBy.segment.<id>`, message its name) for the UI to word
  throw new ApiError(409, 'conflict', `Segment "${name}" is used by ${who.join(', ')}: remove those conditions first`, [
    ...users.rules.map((r) => ({ path: `usedBy.rule.${r.id}`, message: r.name })),
    ...users.segments.map((s) => ({ path: `usedBy.segment.${s.id}`, message: s.name })),
  ]);
}

/**
 * UPDATEs of the stored audience of every segment that names `saved`, directly or through
 * others, compiled against `saved`'s new graph: for the caller's batch, so a segment and the
 * segments built on it change together.
 */
export function dependantLogicStatements(db: D1Database, ws: Workspace, saved: SegmentSource): D1PreparedStatement[] {
  const refsOf = new Map(ws.segments.map((s) => [s.id, segmentReferences(parseJsonOr<unknown>(s.graph, null)).map((r) => r.segmentId)]));
  const dependants = new Set<number>();
  let frontier = [saved.id];
  while (frontier.length) {
    const next: number[] = [];
    for (const [id, refs] of refsOf)
      if (id !== saved.id && !dependants.has(id) && refs.some((r) => frontier.includes(r))) {
        dependants.add(id);
        next.push(id);
      }
    frontier = next;
  }
  const opts = compileOptions(ws);
  return [...dependants].map((id) => {
    const seg = ws.segments.find((s) => s.id === id)!;
    const compiled = compileSegment(parseJsonOr<unknown>(seg.graph, null), {
      ...opts,
      segments: segmentResolver(ws.segments, { override: saved, stack: [id] }),
    });
    return db.prepare('UPDATE segments SET logic = ? WHERE id = ?').bind(JSON.stringify(compiled.ok ? compiled.value.logic : null), id);
  });
}
