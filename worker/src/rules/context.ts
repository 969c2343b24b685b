/**
 * What the rule routes need around the compiler: the workspace's custom fields and tags (for
 * validation), the clock and zone of an evaluation, and the hash that ties a publish to the
 * preview the user confirmed.
 */
import type { CompileOptions } from '@shared/rules/compile';
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

/** The workspace: declared custom fields and every tag. */
export interface Workspace {
  customFields: CustomFieldDecl[];
  tags: TagInfo[];
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

/** Loads custom fields and tags in one batch (both are small tables). */
export async function loadWorkspace(db: D1Database): Promise<Workspace> {
  const [fields, tags] = await batch(db, [
    customFieldsStatement(db),
    typed<TagInfoRow>(
      db.prepare(
        `SELECT t.id, t.name, coalesce(t.color, g.color) AS color, t.status, t.level, t.parent_id, g.id AS group_id,
                g.name AS group_name, g.exclusive
         FROM tags t JOIN tag_groups g ON g.id = t.group_id ORDER BY g.sort_order, g.id, t.level, t.id`,
      ),
    ),
  ]);
  return {
    customFields: fields.results.map(toCustomFieldDecl),
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

/** Compiler options for the workspace: its custom fields, only active tags exist, each tag's group (band nodes). */
export function compileOptions(ws: Workspace): CompileOptions {
  const active = new Set(ws.tags.filter((t) => t.status === 'active').map((t) => t.id));
  const groups = new Map(ws.tags.map((t) => [t.id, { groupId: t.groupId, exclusive: t.groupExclusive }]));
  return { customFields: ws.customFields, tagExists: (id) => active.has(id), tagGroup: (id) => groups.get(id) };
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
