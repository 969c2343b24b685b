/**
 * What the rule routes need around the compiler: the workspace's custom fields and tags (for
 * validation), the clock and zone of an evaluation, and the hash that ties a publish to the
 * preview the user confirmed.
 */
import type { CompileOptions, SegmentSource } from '@shared/rules/compile';
import { parseJsonOr } from '@shared/json';
import type { CustomFieldDecl } from '@shared/rules/fields';
import type { SqlContext } from '@shared/rules/operators';
import { SHANGHAI_OFFSET_MINUTES } from '@shared/time';
import { batch, typed, type CustomFieldRow, type TagGroupRow, type TagRow, type Typed } from '../db/rows';

/** Fixed offsets of the zones `TIMEZONE` may name (no DST in any of them). */
const ZONE_OFFSETS: Record<string, number> = {
  'Asia/Shanghai': SHANGHAI_OFFSET_MINUTES,
  'Asia/Hong_Kong': 480,
  'Asia/Taipei': 480,
  'Asia/Singapore': 480,
  UTC: 0,
};

/** The zone days and schedules are counted in: the configured one, or Asia/Shanghai when unset or unknown. */
export function zoneName(env: { TIMEZONE?: string }): string {
  return env.TIMEZONE && env.TIMEZONE in ZONE_OFFSETS ? env.TIMEZONE : 'Asia/Shanghai';
}

/** Offset of that zone in minutes. */
export function tzOffsetMinutes(env: { TIMEZONE?: string }): number {
  return ZONE_OFFSETS[zoneName(env)] ?? SHANGHAI_OFFSET_MINUTES;
}

/** The SQL context of a preview or a publish at `now`: no triggering event (event tests assumed to hold). */
export function previewContext(env: { TIMEZONE?: string }, now: number): SqlContext {
  return { now, tzOffsetMinutes: tzOffsetMinutes(env) };
}

/** A tag as the compiler and the catalog see it. */
export interface TagInfo {
  id: number;
  name: string;
  color: string;
  status: 'active' | 'retired';
  level: number;
  parentId: number | null;
  groupId: number;
  groupName: string;
  groupExclusive: boolean;
}

/** A segment as conditions "in segment X" expand it: its current graph (docs/rules.md, "Segment references"). */
export interface WorkspaceSegment {
  id: number;
  name: string;
  /** The stored graph, JSON text (parsed only when a rule references it). */
  graph: string;
  updatedAt: number;
  /** Its department's path (null: company-wide), for who may reference it. */
  departmentPath: string | null;
}

/** The workspace: declared custom fields, every tag, and every segment (for segment references). */
export interface Workspace {
  customFields: CustomFieldDecl[];
  tags: TagInfo[];
  segments: WorkspaceSegment[];
}

type CustomFieldDeclRow = Pick<CustomFieldRow, 'key' | 'label_zh' | 'label_en' | 'type'>;

/** The declared custom fields, for the compiler (see {@link toCustomFieldDecl}). */
export const customFieldsStatement = (db: D1Database): Typed<CustomFieldDeclRow> =>
  db.prepare('SELECT key, label_zh, label_en, type FROM custom_fields ORDER BY id');

export const toCustomFieldDecl = (f: CustomFieldDeclRow): CustomFieldDecl => ({
  key: f.key,
  labelZh: f.label_zh,
  labelEn: f.label_en,
  type: f.type,
});

type TagInfoRow = Pick<TagRow, 'id' | 'name' | 'status' | 'level' | 'parent_id' | 'group_id'> & {
  color: string;
  group_name: TagGroupRow['name'];
  exclusive: TagGroupRow['exclusive'];
};

type WorkspaceSegmentRow = { id: number; name: string; graph: string; updated_at: number; path: string | null };

/** Every segment with its graph: what segment references expand (a small table; graphs are a few KB). */
export const segmentsStatement = (db: D1Database): Typed<WorkspaceSegmentRow> =>
  db.prepare(
    'SELECT s.id, s.name, s.graph, s.updated_at, d.path FROM segments s LEFT JOIN departments d ON d.id = s.department_id ORDER BY s.id',
  );

export const toWorkspaceSegment = (r: WorkspaceSegmentRow): WorkspaceSegment => ({
  id: r.id,
  name: r.name,
  graph: r.graph,
  updatedAt: r.updated_at,
  departmentPath: r.path,
});

/** Loads custom fields, tags and segments in one batch (all small tables). */
export async function loadWorkspace(db: D1Database): Promise<Workspace> {
  const [fields, tags, segments] = await batch(db, [
    customFieldsStatement(db),
    typed<TagInfoRow>(
      db.prepare(
        `SELECT t.id, t.name, coalesce(t.color, g.color) AS color, t.status, t.level, t.parent_id, g.id AS group_id,
                g.name AS group_name, g.exclusive
         FROM tags t JOIN tag_groups g ON g.id = t.group_id ORDER BY g.sort_order, g.id, t.level, t.id`,
      ),
    ),
    segmentsStatement(db),
  ]);
  return {
    customFields: fields.results.map(toCustomFieldDecl),
    segments: segments.results.map(toWorkspaceSegment),
    tags: tags.results.map((t) => ({
      id: t.id,
      name: t.name,
      color: t.color,
      status: t.status,
      level: t.level,
      parentId: t.parent_id,
      groupId: t.group_id,
      groupName: t.group_name,
      groupExclusive: t.exclusive === 1,
    })),
  };
}

/**
 * The workspace's segments as the compiler's resolver: current graphs, parsed once per resolver.
 * `override` stands in for a segment being saved (its new name and graph); `stack` is what is
 * being compiled (the segment being saved: a reference back to it is a cycle).
 */
export function segmentResolver(
  segments: readonly WorkspaceSegment[],
  o: { override?: SegmentSource; stack?: number[] } = {},
): NonNullable<CompileOptions['segments']> {
  const byId = new Map(segments.map((s) => [s.id, s]));
  const parsed = new Map<number, SegmentSource>();
  if (o.override) parsed.set(o.override.id, o.override);
  return {
    get: (id) => {
      const known = parsed.get(id);
      if (known) return known;
      const s = byId.get(id);
      if (!s) return undefined;
      const source = { id: s.id, name: s.name, graph: parseJsonOr<unknown>(s.graph, null) };
      parsed.set(id, source);
      return source;
    },
    ...(o.stack ? { stack: o.stack } : {}),
  };
}

/**
 * Compiler options for the workspace: its custom fields, only active tags exist, each tag's
 * group (band nodes), and its segments as they stand now (segment references).
 */
export function compileOptions(ws: Workspace, saving?: SegmentSource): CompileOptions {
  // a segment being saved is compiled as itself: its id starts the stack
  const active = new Set(ws.tags.filter((t) => t.status === 'active').map((t) => t.id));
  const groups = new Map(ws.tags.map((t) => [t.id, { groupId: t.groupId, exclusive: t.groupExclusive }]));
  return {
    customFields: ws.customFields,
    tagExists: (id) => active.has(id),
    tagGroup: (id) => groups.get(id),
    segments: segmentResolver(ws.segments, saving ? { override: saving, stack: [saving.id] } : {}),
  };
}

/** JSON with object keys sorted at every level: equal documents give equal text. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * SHA-256 (hex) of a graph, ignoring node positions: moving a node on the canvas does not change
 * what publishing does, everything else (labels included) does.
 */
export async function graphHash(graph: unknown): Promise<string> {
  const g = graph as { nodes?: unknown };
  const stripped =
    g && typeof g === 'object' && Array.isArray(g.nodes)
      ? {
          ...(g as object),
          nodes: g.nodes.map((n) => {
            if (!n || typeof n !== 'object') return n;
            const { position: _p, ...rest } = n as Record<string, unknown>;
            return rest;
          }),
        }
      : graph;
  const bytes = new TextEncoder().encode(canonical(stripped));
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
