/**
 * Segments: saved audiences drawn with the rule builder, without actions (see
 * shared/src/api/segments.ts for the graph's shape and the contract). Sizes are counted when
 * the list is asked for, one COUNT per segment on the page.
 */
import { contactScope, departmentOwned, hasRole, ownerDepartment, requireRole, userScope } from '../auth/access';
import { Hono } from 'hono';
import type { SessionUser } from '@shared/api/auth';
import type { AppEnv } from '../app-env';
import { ApiError } from '../errors';
import { validate } from '../validate';
import { db as drizzleDb } from '../db/client';
import { contactSummaries } from './contacts';
import { idPath } from '@shared/api/rules';
import {
  createSegmentBody,
  segmentListQuery,
  segmentPreviewBody,
  segmentExportBody,
  segmentOverlapQuery,
  SEGMENT_HISTORY_DAYS,
  updateSegmentBody,
  type SegmentOverlapResponse,
  type SegmentDetail,
  type SegmentListItem,
  type SegmentListResponse,
  type SegmentPreviewResponse,
} from '@shared/api/segments';
import type { SqlContext, SqlFrag } from '@shared/rules/operators';
import type { JsonLogic, RuleGraph } from '@shared/rules/types';
import { auditStatementForNewRow, auditStatementIfChanged } from '../audit';
import { actorOf } from '../auth/access';
import { compileOptions, loadWorkspace, previewContext, type Workspace } from '../rules/context';
import { countWhere, runPreview, sampleMatches } from '../rules/preview';
import { AUDIENCE_NODE, compileSegment } from '../rules/segment';
import { parseJsonOr } from '@shared/json';
import { batch, type SegmentRow } from '../db/rows';
import { readPage } from '../db/page';
import { segmentPredicate, visibleSegment } from '../segments/visible';
import { segmentHistory } from '../segments/history';
import { overlapCounts } from '../segments/overlap';
import { exportContacts } from '../segments/export';
import { dependantLogicStatements, refuseCycle, refuseDeleteIfUsed, requireVisibleSegments } from '../segments/references';

const EMPTY_GRAPH = { schemaVersion: 1, nodes: [], edges: [] } as unknown as RuleGraph;

const parse = parseJsonOr;

async function getSegment(db: D1Database, id: number): Promise<SegmentRow> {
  const row = await db.prepare('SELECT * FROM segments WHERE id = ?').bind(id).first<SegmentRow>();
  if (!row) throw new ApiError(404, 'not_found', `No segment with id ${id}`);
  return row;
}

/**
 * Contacts in a segment now: its stored predicate as one COUNT. A predicate too large for one
 * statement's parameters is counted the way the preview counts (tests once per contact).
 */
async function sizeOf(db: D1Database, ws: Workspace, row: SegmentRow, ctx: SqlContext, scope: SqlFrag | undefined): Promise<number | null> {
  const logic = parse<JsonLogic>(row.logic, null);
  if (logic === null) return null;
  const n = await countWhere(db, logic, ctx, scope);
  if (n.ok) return n.value;
  const compiled = compileSegment(parse<unknown>(row.graph, null), compileOptions(ws, selfOf(row)));
  if (!compiled.ok) return null;
  const counted = await runPreview(db, compiled.value.rule, ctx, { scope });
  return counted.ok ? (counted.value.nodes[AUDIENCE_NODE] ?? 0) : null;
}

/** A stored segment as the compiler sees itself: references back to it are cycles. */
const selfOf = (row: Pick<SegmentRow, 'id' | 'name' | 'graph'>) => ({ id: row.id, name: row.name, graph: parse<unknown>(row.graph, null) });

function toItem(row: SegmentRow, size: number | null): SegmentListItem {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    size,
    valid: parse<JsonLogic>(row.logic, null) !== null,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

async function segmentDetail(
  db: D1Database,
  env: { TIMEZONE?: string },
  id: number,
  scope: SqlFrag | undefined,
  ws?: Workspace,
): Promise<SegmentDetail> {
  const row = await getSegment(db, id);
  const workspace = ws ?? (await loadWorkspace(db));
  const graph = parse<RuleGraph>(row.graph, EMPTY_GRAPH);
  const compiled = compileSegment(graph, compileOptions(workspace, selfOf(row)));
  const size = await sizeOf(db, workspace, row, previewContext(env, Date.now()), scope);
  return {
    ...toItem(row, size),
    graph,
    logic: parse<JsonLogic>(row.logic, null),
    errors: compiled.ok ? [] : compiled.errors,
  };
}

/**
 * The predicate stored with a segment: its audience logic with referenced segments expanded as
 * they are now, or null while the graph does not compile (a draft). A reference to a segment the
 * user cannot see is a 400, a loop of references a 409: those are never saved.
 */
function storedLogic(graph: unknown, ws: Workspace, user: SessionUser, self?: { id: number; name: string }): string {
  requireVisibleSegments(ws, user, graph, self?.id);
  const compiled = compileSegment(graph, compileOptions(ws, self ? { ...self, graph } : undefined));
  if (!compiled.ok) refuseCycle(compiled.errors);
  return JSON.stringify(compiled.ok ? compiled.value.logic : null);
}

/**
 * Segments belong to a department (visible and editable within its scope, see
 * departmentOwned); sizes, previews and samples count the contacts the viewer may see, so
 * the size in the list, the detail and the editor's preview are the same number.
 */
export const segments = new Hono<AppEnv>()
  .use('/:id', departmentOwned('segments', 'segment'))
  .get('/', validate('query', segmentListQuery), async (c) => {
    const q = c.req.valid('query');
    const db = c.env.DB;
    const user = c.get('user');
    const conds: string[] = [];
    const params: unknown[] = [];
    if (q.q) {
      conds.push('instr(lower(name), lower(?)) > 0'); // not LIKE: D1 refuses patterns over 50 bytes (worker/src/db/search.ts)
      params.push(q.q);
    }
    const scope = userScope(user, 'department_id');
    if (scope) {
      conds.push(scope.sql);
      params.push(...scope.params);
    }
    const where = conds.length ? `WHERE ${conds.join(' AND ')}` : '';
    const { rows: list, ...page } = await readPage<SegmentRow>(
      db,
      q,
      `SELECT * FROM segments ${where} ORDER BY updated_at DESC, id DESC`,
      `SELECT COUNT(*) AS n FROM segments ${where}`,
      params,
    );
    const ws = await loadWorkspace(db);
    const ctx = previewContext(c.env, Date.now());
    const started = Date.now();
    const sizes = await Promise.all(list.map((r) => sizeOf(db, ws, r, ctx, contactScope(user))));
    const body: SegmentListResponse = {
      ...page,
      items: list.map((r, i) => toItem(r, sizes[i] ?? null)),
      sizeMs: Date.now() - started,
    };
    return c.json(body);
  })

  .post('/preview', validate('json', segmentPreviewBody), async (c) => {
    const b = c.req.valid('json');
    const db = c.env.DB;
    const ws = await loadWorkspace(db);
    requireVisibleSegments(ws, c.get('user'), b.graph, b.segmentId);
    const self = b.segmentId === undefined ? undefined : ws.segments.find((s) => s.id === b.segmentId);
    const compiled = compileSegment(b.graph, compileOptions(ws, self ? { id: self.id, name: self.name, graph: b.graph } : undefined));
    if (!compiled.ok) return c.json({ ok: false, errors: compiled.errors } satisfies SegmentPreviewResponse);
    const ctx = previewContext(c.env, Date.now());
    const started = Date.now();
    const scope = contactScope(c.get('user'));
    const counted = await runPreview(db, compiled.value.rule, ctx, { scope });
    const tookMs = Date.now() - started;
    if (!counted.ok) return c.json({ ok: false, errors: counted.errors } satisfies SegmentPreviewResponse);
    const n = b.sampleSize ?? 20;
    const sample = n > 0 ? await sampleMatches(db, compiled.value.rule, ctx, n, { scope }) : { ok: true as const, value: [] };
    if (!sample.ok) return c.json({ ok: false, errors: sample.errors } satisfies SegmentPreviewResponse);
    const { [AUDIENCE_NODE]: size, ...nodes } = counted.value.nodes;
    const { [AUDIENCE_NODE]: _internal, ...edges } = counted.value.edges;
    const body: SegmentPreviewResponse = {
      ok: true,
      total: counted.value.total,
      size: size ?? 0,
      nodes,
      edges,
      sample: await contactSummaries(
        drizzleDb(c.env),
        sample.value.map((s) => s.id),
      ),
      logic: compiled.value.logic,
      tookMs,
    };
    return c.json(body);
  })

  .post('/', requireRole('dept_admin'), validate('json', createSegmentBody), async (c) => {
    const b = c.req.valid('json');
    const db = c.env.DB;
    const ws = await loadWorkspace(db);
    const now = Date.now();
    const owner = await ownerDepartment(db, c.get('user'), b.departmentId);
    const [insert] = await batch(db, [
      db
        .prepare(
          'INSERT INTO segments (name, description, department_id, graph, logic, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .bind(
          b.name,
          b.description ?? null,
          owner.id,
          JSON.stringify(b.graph),
          storedLogic(b.graph, ws, c.get('user')),
          c.get('user').id,
          now,
          now,
        ),
      auditStatementForNewRow(db, {
        actor: actorOf(c),
        action: 'segment.create',
        objectType: 'segment',
        summary: `created segment "${b.name}"`,
        params: { name: b.name },
        after: { name: b.name, description: b.description ?? null, graph: b.graph },
        at: now,
      }),
    ]);
    return c.json(await segmentDetail(db, c.env, insert.meta.last_row_id, contactScope(c.get('user')), ws), 201);
  })

  // a segment page: size history, overlap with another segment, export (worker/src/segments/)
  .get('/:id/history', validate('param', idPath), async (c) => {
    const { id } = c.req.valid('param');
    const user = c.get('user');
    await visibleSegment(c.env.DB, user, id);
    const now = Date.now();
    const tz = previewContext(c.env, now).tzOffsetMinutes;
    return c.json(await segmentHistory(c.env.DB, user, id, { now, tzOffsetMinutes: tz, days: SEGMENT_HISTORY_DAYS }));
  })

  .get('/:id/overlap', validate('param', idPath), validate('query', segmentOverlapQuery), async (c) => {
    const { id } = c.req.valid('param');
    const other = c.req.valid('query').with;
    const db = c.env.DB;
    const user = c.get('user');
    const a = await visibleSegment(db, user, id);
    const b = await visibleSegment(db, user, other).catch((e: unknown) => {
      // the other segment is named in the query: a 400 naming it, not a 404 of the page's own
      if (e instanceof ApiError && e.status === 404)
        throw Object.assign(
          new ApiError(400, 'unknown_reference', `with: no segment with id ${other}`, [{ path: 'with', message: 'no such segment' }]),
          { securityReason: e.securityReason },
        );
      throw e;
    });
    const now = Date.now();
    const started = Date.now();
    const counts = await overlapCounts(db, segmentPredicate(a, c.env, now), segmentPredicate(b, c.env, now), contactScope(user));
    const body: SegmentOverlapResponse = {
      a: { id: a.id, name: a.name, size: counts.a },
      b: { id: b.id, name: b.name, size: counts.b },
      both: counts.both,
      either: counts.either,
      onlyA: counts.onlyA,
      onlyB: counts.onlyB,
      tookMs: Date.now() - started,
    };
    return c.json(body);
  })

  .post('/:id/export', validate('param', idPath), validate('json', segmentExportBody), async (c) => {
    const { id } = c.req.valid('param');
    const b = c.req.valid('json');
    const db = c.env.DB;
    const user = c.get('user');
    const seg = await visibleSegment(db, user, id);
    const audience = segmentPredicate(seg, c.env, Date.now());
    const scope = contactScope(user);
    const actor = actorOf(c);
    // sealed fields as the contact page shows them: in clear to super admins, to nobody else
    const sealed = hasRole(user, 'super_admin');
    return exportContacts(db, c.env, {
      where: scope ? { sql: `(${audience.sql}) AND ${scope.sql}`, params: [...audience.params, ...scope.params] } : audience,
      format: b.format,
      locale: b.locale,
      sealed,
      fileBase: seg.name,
      audit: (n) => ({
        actor,
        action: 'contact.export',
        objectType: 'segment',
        objectId: id,
        summary: `${n} contacts of segment ${seg.name} exported to ${b.format.toUpperCase()}`,
        params: { variant: b.format === 'xlsx' ? 'segment_xlsx' : 'segment', count: n, segment: seg.name },
        after: { segmentId: id, rows: n, format: b.format, locale: b.locale, sealed },
        at: Date.now(),
      }),
    });
  })

  .get('/:id', validate('param', idPath), async (c) =>
    c.json(await segmentDetail(c.env.DB, c.env, c.req.valid('param').id, contactScope(c.get('user')))),
  )

  .put('/:id', validate('param', idPath), validate('json', updateSegmentBody), async (c) => {
    const { id } = c.req.valid('param');
    const b = c.req.valid('json');
    const db = c.env.DB;
    const row = await getSegment(db, id);
    const ws = await loadWorkspace(db);
    const now = Date.now();
    const name = b.name ?? row.name;
    const description = b.description === undefined ? row.description : b.description;
    const graphText = b.graph ? JSON.stringify(b.graph) : row.graph;
    const logic = b.graph ? storedLogic(b.graph, ws, c.get('user'), { id, name }) : row.logic;
    // segments built on this one store their audience with this one expanded: re-stored with it
    const saved = { id, name, graph: parse<unknown>(graphText, null) };
    const [updated] = await db.batch([
      db
        .prepare('UPDATE segments SET name = ?, description = ?, graph = ?, logic = ?, updated_at = max(?, updated_at + 1) WHERE id = ?')
        .bind(name, description, graphText, logic, now, id),
      auditStatementIfChanged(db, {
        actor: actorOf(c),
        action: 'segment.update',
        objectType: 'segment',
        objectId: id,
        summary: `updated segment "${name}"`,
        params: { variant: 'edit', name },
        before: { name: row.name, description: row.description, graph: parse<unknown>(row.graph, null) },
        after: { name, description, graph: parse<unknown>(graphText, null) },
        at: now,
      }),
      ...dependantLogicStatements(db, ws, saved),
    ]);
    // deleted since it was read: nothing was updated, and the log says nothing was
    if (!updated!.meta.changes) throw new ApiError(404, 'not_found', `No segment with id ${id}`);
    return c.json(await segmentDetail(db, c.env, id, contactScope(c.get('user')), ws));
  })

  .delete('/:id', validate('param', idPath), async (c) => {
    const { id } = c.req.valid('param');
    const db = c.env.DB;
    const row = await getSegment(db, id);
    await refuseDeleteIfUsed(db, id, row.name);
    const now = Date.now();
    const [, deleted] = await db.batch([
      db.prepare('DELETE FROM segment_snapshots WHERE segment_id = ?').bind(id),
      db.prepare('DELETE FROM segments WHERE id = ?').bind(id),
      auditStatementIfChanged(db, {
        actor: actorOf(c),
        action: 'segment.delete',
        objectType: 'segment',
        objectId: id,
        summary: `deleted segment "${row.name}"`,
        params: { name: row.name },
        before: { name: row.name, description: row.description, graph: parse<unknown>(row.graph, null) },
        at: now,
      }),
    ]);
    if (!deleted!.meta.changes) throw new ApiError(404, 'not_found', `No segment with id ${id}`);
    return c.body(null, 204);
  });
