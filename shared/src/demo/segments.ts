/**
 * The demo's saved segments: audiences a marketer would keep, drawn as the segment editor draws
 * them (a Start node, conditions, one End node; see shared/src/api/segments.ts), and their daily
 * sizes back-computed for the home's chart. Pure: the caller compiles each graph (the seed and
 * the worker test use worker/src/rules/segment.ts `compileSegment`, the API's own compiler, with
 * `demoCompileOptions`) and runs the statements.
 */
import type { CompileOptions } from '../rules/compile';
import type { RuleResult } from '../rules/errors';
import type { SqlFrag } from '../rules/operators';
import { compileWhere } from '../rules/sql';
import type { ConditionSpec, JsonLogic, RuleEdge, RuleGraph, RuleNode } from '../rules/types';
import { dayNumber, dayStartMs } from '../time';
import { buildCatalog } from './catalog';
import { SOURCE_CHANNELS } from './names';

/** The provinces of 华东 the demo's contacts live in (its 华东大区 sells in the first three). */
export const EAST_CHINA = ['上海', '江苏', '浙江', '安徽', '福建', '山东'] as const;

/** Event types that count as "activity" for 近 30 天活跃 (the demo's behaviour events). */
export const ACTIVITY_EVENTS = ['message', 'purchase', 'article_open', 'group_join', 'invite', 'qr_scan'] as const;

/** One demo segment as the `segments` table stores it, without its compiled `logic`. */
export interface DemoSegment {
  name: string;
  description: string;
  /** Owning department (null: company-wide, super admins only). */
  departmentId: number | null;
  /** The demo user who "drew" it: the owning department's admin, or the super admin. */
  createdBy: number;
  graph: RuleGraph;
}

const start: RuleNode = { id: 'start', kind: 'trigger', trigger: { type: 'schedule', cron: 'segment' }, position: { x: 0, y: 120 } };
const end = (x: number, y = 120): RuleNode => ({ id: 'end', kind: 'logic', op: 'or', position: { x, y } });
const cond = (id: string, condition: ConditionSpec, x: number, y = 120): RuleNode => ({
  id,
  kind: 'condition',
  condition,
  position: { x, y },
});
const edge = (source: string, target: string, sourceHandle?: 'yes' | 'no'): RuleEdge => ({
  id: `${source}-${target}`,
  source,
  target,
  ...(sourceHandle ? { sourceHandle } : {}),
});
/** Start → c1 → c2 … → End, condition i passing its contacts on `handles[i]` (default yes). */
function chain(conditions: [string, ConditionSpec][], handles: ('yes' | 'no')[] = []): RuleGraph {
  const nodes = [start, ...conditions.map(([id, c], i) => cond(id, c, 320 * (i + 1))), end(320 * (conditions.length + 1))];
  const ids = nodes.map((n) => n.id);
  const edges = ids.slice(1).map((id, i) => edge(ids[i] as string, id, i === 0 ? undefined : (handles[i - 1] ?? 'yes')));
  return { schemaVersion: 1, nodes, edges };
}

/** The demo's segments, in the order they are created. `now` only places the catalog's rows (ids do not depend on it). */
export function demoSegments(now: number): DemoSegment[] {
  const cat = buildCatalog(now, SOURCE_CHANNELS.items);
  const admin = (email: string) => {
    const u = cat.users.find((x) => x.email === email);
    if (!u) throw new Error(`no demo user ${email}`);
    return u.id;
  };
  const dept = (name: string) => {
    const d = cat.departments.find((x) => x.name === name);
    if (!d) throw new Error(`no demo department ${name}`);
    return d.id;
  };
  const east = dept('华东大区');
  const community = dept('社群运营部');
  const media = dept('新媒体部');

  const active: RuleGraph = {
    schemaVersion: 1,
    nodes: [
      { ...start, position: { x: 0, y: 85 * (ACTIVITY_EVENTS.length - 1) } },
      ...ACTIVITY_EVENTS.map((eventType, i) =>
        cond(eventType, { field: 'event.count', op: 'gte', value: 1, params: { eventType, days: 30 } }, 320, 170 * i),
      ),
      end(640, 85 * (ACTIVITY_EVENTS.length - 1)),
    ],
    edges: ACTIVITY_EVENTS.flatMap((t) => [edge('start', t), edge(t, 'end', 'yes')]),
  };

  return [
    {
      name: '上海地区客户',
      description: '地区为上海的客户，由上海销售一组、二组跟进',
      departmentId: east,
      createdBy: admin(`dept${east}.admin@segflow.demo`),
      graph: chain([['shanghai', { field: 'region', op: 'eq', value: '上海' }]]),
    },
    {
      name: '近 30 天活跃',
      description: '近 30 天内发过消息、下过单、看过文章、进过群、邀请过人或扫过码',
      departmentId: community,
      createdBy: admin(`dept${community}.admin@segflow.demo`),
      graph: active,
    },
    {
      name: '高消费客户（≥¥1,000）',
      description: '累计消费满 1,000 元，全公司的重点维护对象',
      departmentId: null,
      createdBy: admin('admin@segflow.demo'),
      graph: chain([['spend', { field: 'totalSpend', op: 'gte', value: 100_000 }]]),
    },
    {
      name: '华东 · 复购客户',
      description: '华东地区、近 90 天购买 2 次及以上',
      departmentId: east,
      createdBy: admin(`dept${east}.admin@segflow.demo`),
      graph: chain([
        ['east', { field: 'region', op: 'in', value: [...EAST_CHINA] }],
        ['repeat', { field: 'event.count', op: 'gte', value: 2, params: { eventType: 'purchase', days: 90 } }],
      ]),
    },
    {
      name: '沉默 180 天',
      description: '添加超过 180 天、近 180 天没有任何互动，待激活',
      departmentId: media,
      createdBy: admin(`dept${media}.admin@segflow.demo`),
      graph: chain(
        [
          ['old', { field: 'createdAt', op: 'more_than_days_ago', value: 180 }],
          ['recent', { field: 'lastActiveAt', op: 'within_last_days', value: 180 }],
        ],
        ['yes', 'no'],
      ),
    },
  ];
}

/**
 * What the segments API compiles with in a database holding the demo (worker/src/rules/context.ts
 * `compileOptions(loadWorkspace(db))`), built from the demo catalog: its custom fields, and only
 * its active tags exist.
 */
export function demoCompileOptions(now: number): CompileOptions {
  const cat = buildCatalog(now, SOURCE_CHANNELS.items);
  const active = new Set(cat.tags.filter((t) => t.status === 'active').map((t) => t.id));
  return {
    customFields: cat.customFields.map((f) => ({ key: f.key, labelZh: f.label_zh, labelEn: f.label_en, type: f.type })),
    tagExists: (id) => active.has(id),
  };
}

/**
 * The INSERT of one demo segment with its compiled predicate, the columns and JSON the segments
 * API writes (`JSON.stringify(graph)`, `JSON.stringify(logic)`, null when it does not compile).
 * Answers its id (`RETURNING id`). `at`: its created and updated time.
 */
export function demoSegmentInsert(s: DemoSegment, logic: JsonLogic | null, at: number): SqlFrag {
  return {
    sql: 'INSERT INTO segments (name, description, department_id, graph, logic, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id',
    params: [s.name, s.description, s.departmentId, JSON.stringify(s.graph), JSON.stringify(logic), s.createdBy, at, at],
  };
}

/** One day of a segment's history: the day and the predicate (over `contacts c`) that counts it. */
export interface HistoryDay {
  day: number;
  where: SqlFrag;
}

/** Options of {@link segmentHistory}. */
export interface HistoryOptions {
  now: number;
  /** Days to count, today included (today − days + 1 … today); 0: none. */
  days: number;
  tzOffsetMinutes: number;
  /** Days already recorded (skipped), e.g. those the cron wrote. */
  skip?: ReadonlySet<number>;
  /** No day before this one (the segment's creation day). */
  fromDay?: number;
}

/**
 * A segment's size per day, back-computed: each past day is counted with the real SQL compiler at
 * that day's last millisecond (so event windows such as "≥ 2 purchases in 90 days" slide with it)
 * over the contacts created by then. Everything else is today's: a contact's region, total spend
 * and last-active time are what they are now. Today is counted at `now` over every contact,
 * exactly as the cron's daily snapshot counts it (worker/src/cron/scheduled.ts). The caller writes
 * each day with the cron's statements (worker/src/home/sql.ts `SEGMENT_DEPARTMENT_SIZES`, …).
 */
export function segmentHistory(logic: JsonLogic, o: HistoryOptions): RuleResult<HistoryDay[]> {
  const today = dayNumber(o.now, o.tzOffsetMinutes);
  const out: HistoryDay[] = [];
  for (let day = Math.max(today - o.days + 1, o.fromDay ?? -Infinity); day <= today; day++) {
    if (o.skip?.has(day)) continue;
    if (day === today) {
      const where = compileWhere(logic, { now: o.now, tzOffsetMinutes: o.tzOffsetMinutes });
      if (!where.ok) return where;
      out.push({ day, where: where.value });
      continue;
    }
    const dayEnd = dayStartMs(day + 1, o.tzOffsetMinutes) - 1;
    const where = compileWhere(logic, { now: dayEnd, tzOffsetMinutes: o.tzOffsetMinutes });
    if (!where.ok) return where;
    out.push({ day, where: { sql: `(${where.value.sql}) AND c.created_at <= ?`, params: [...where.value.params, dayEnd] } });
  }
  return { ok: true, value: out };
}
