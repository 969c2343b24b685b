/**
 * The rule templates of the 新建规则 gallery, drawn from the seed articles: each is a graph plus
 * the tag groups and tags it needs. The worker creates the missing tags (near-duplicate check
 * applied) and saves the graph as a draft (`worker/src/templates/`); the demo seed publishes some
 * of them. Names, summaries and side notes are i18n keys (`templates.items.<id>.*` in the web
 * app's `templates` namespace); tag and group names are data, in Chinese like the rest of a
 * WeChat workspace.
 */
import type { Role } from '../domain';
import { outputHandles } from '../rules/handles';
import { RULE_SCHEMA_VERSION, type ActionNode, type RuleEdge, type RuleGraph, type RuleNode } from '../rules/types';

/** The ids of the gallery, in the order it shows them. */
export const TEMPLATE_IDS = [
  'rfm',
  'member_score',
  'lifecycle',
  'violation_ladder',
  'keyword_tagging',
  'qr_channel',
  'inactive_180',
] as const;
/** One of `TEMPLATE_IDS`. */
export type TemplateId = (typeof TEMPLATE_IDS)[number];

/** A tag group a template writes into; created with these settings when no group has its name. */
export interface TemplateGroupSpec {
  name: string;
  description: string;
  color: string;
  /** Stages and tiers are exclusive: a contact holds one tag of the group. */
  exclusive: boolean;
  applyRole: Exclude<Role, 'super_admin'>;
}

/** A tag a template's actions add: `key` is how its graph refers to it. */
export interface TemplateTagSpec {
  key: string;
  group: string;
  name: string;
}

/** What the graph is built from once the tags exist. */
export interface TemplateContext {
  /** The id of the tag the template calls `key`. */
  tagId: (key: string) => number;
  /** A notify destination to tell the contact's owner, when the workspace has one (else the template leaves it out). */
  notifyDestinationId: number | null;
}

/** One gallery entry. */
export interface RuleTemplate {
  id: TemplateId;
  /** i18n keys (web `templates` namespace): card title, one-line summary, the side note explaining it. */
  i18n: { name: string; summary: string; note: string };
  /** Which seed article it comes from (shown under the note). */
  seed: string;
  trigger: 'schedule' | 'event';
  groups: TemplateGroupSpec[];
  tags: TemplateTagSpec[];
  /** Adds notify actions when a notify destination exists. */
  usesOutbound: boolean;
  build: (ctx: TemplateContext) => RuleGraph;
}

const keys = (id: TemplateId) => ({
  name: `templates.items.${id}.name`,
  summary: `templates.items.${id}.summary`,
  note: `templates.items.${id}.note`,
});

const DAILY = '0 3 * * *';
const YUAN = 100; // values are fen

/** The group-member score's metrics (seed 003), violations a penalty. */
export const MEMBER_SCORE_METRICS = [
  { field: 'messageCount', weight: 30, cap: 60 },
  { field: 'event.count', params: { eventType: 'article_open' as const, days: 30 }, weight: 25, cap: 5 },
  { field: 'event.count', params: { eventType: 'group_join' as const, days: 90 }, weight: 20, cap: 2 },
  { field: 'inviteCount', weight: 15, cap: 5 },
  { field: 'violationCount', weight: -10, cap: 3 },
];

/**
 * Seed 003's bands (> 80 core, 60–80 active, 40–60 normal, < 40 watch) count a clean record as
 * 10 of 100 points. Here violations subtract up to 10 instead, so the same member scores exactly
 * 10 less: each edge moves down by 10 and the bands say the same thing.
 */
export const MEMBER_SCORE_BANDS = [
  { id: 'core', min: 70, max: null },
  { id: 'active', min: 50, max: 70 },
  { id: 'normal', min: 30, max: 50 },
  { id: 'watch', min: -10, max: 30 },
];

const action = (id: string, tagId: number): ActionNode => ({ id, kind: 'action', action: { type: 'add_tag', tagId } });
const notify = (id: string, destinationId: number, text: string): ActionNode => ({
  id,
  kind: 'action',
  action: { type: 'notify', destinationId, text },
});
const edge = (source: string, target: string, sourceHandle?: string): RuleEdge => ({
  id: `${source}-${target}${sourceHandle ? `-${sourceHandle}` : ''}`,
  source,
  target,
  ...(sourceHandle ? { sourceHandle } : {}),
});

/**
 * Left-to-right positions so the canvas opens tidy: a node's column is its longest path from
 * the trigger, rows follow the order edges leave their sources (yes above no, case 1 above case 2).
 */
export function layoutGraph(g: RuleGraph): RuleGraph {
  const depth = new Map<string, number>();
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const order: string[] = [];
  const visit = (id: string, d: number) => {
    if ((depth.get(id) ?? -1) >= d) return;
    if (!depth.has(id)) order.push(id);
    depth.set(id, d);
    const n = byId.get(id);
    if (!n) return;
    for (const h of outputHandles(n)) for (const e of g.edges) if (e.source === id && e.sourceHandle === h) visit(e.target, d + 1);
  };
  for (const n of g.nodes) if (n.kind === 'trigger') visit(n.id, 0);
  const rows = new Map<number, number>();
  const positions = new Map<string, { x: number; y: number }>();
  for (const id of order) {
    const d = depth.get(id) ?? 0;
    const row = rows.get(d) ?? 0;
    rows.set(d, row + 1);
    positions.set(id, { x: d * 320, y: row * 190 });
  }
  return { ...g, nodes: g.nodes.map((n): RuleNode => ({ ...n, position: positions.get(n.id) ?? { x: 0, y: 0 } })) };
}

const graph = (nodes: RuleNode[], edges: RuleEdge[]): RuleGraph => layoutGraph({ schemaVersion: RULE_SCHEMA_VERSION, nodes, edges });

const LIFECYCLE: TemplateGroupSpec = {
  name: '生命周期',
  description: '按最近互动时间划分的客户阶段，每人只属于一个阶段',
  color: '#409eff',
  exclusive: true,
  applyRole: 'dept_admin',
};

/** Every template, in gallery order. */
export const RULE_TEMPLATES: readonly RuleTemplate[] = [
  {
    // Seed 001: R = interaction in the last 30 / 90 days, F = weekly messages, M = ¥500 a month.
    id: 'rfm',
    i18n: keys('rfm'),
    seed: '001',
    trigger: 'schedule',
    groups: [
      {
        name: '价值分层',
        description: '按消费金额与频次划分（RFM），由规则维护',
        color: '#e6a23c',
        exclusive: true,
        applyRole: 'dept_admin',
      },
    ],
    tags: [
      { key: 'high', group: '价值分层', name: '高价值客户' },
      { key: 'potential', group: '价值分层', name: '潜力客户' },
      { key: 'normal', group: '价值分层', name: '普通客户' },
    ],
    usesOutbound: false,
    build: ({ tagId }) =>
      graph(
        [
          { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: DAILY } },
          { id: 'r30', kind: 'condition', condition: { field: 'lastActiveAt', op: 'within_last_days', value: 30 } },
          {
            id: 'f',
            kind: 'condition',
            condition: { field: 'event.count', op: 'gte', value: 4, params: { eventType: 'message', days: 30 } },
          },
          {
            id: 'm',
            kind: 'condition',
            condition: { field: 'event.amount', op: 'gte', value: 1500 * YUAN, params: { eventType: 'purchase', days: 90 } },
          },
          { id: 'r90', kind: 'condition', condition: { field: 'lastActiveAt', op: 'within_last_days', value: 90 } },
          action('a_high', tagId('high')),
          action('a_potential', tagId('potential')),
          action('a_normal', tagId('normal')),
        ],
        [
          edge('t', 'r30'),
          edge('r30', 'f', 'yes'),
          edge('r30', 'r90', 'no'),
          edge('f', 'm', 'yes'),
          edge('f', 'a_potential', 'no'),
          edge('m', 'a_high', 'yes'),
          edge('m', 'a_potential', 'no'),
          edge('r90', 'a_potential', 'yes'),
          edge('r90', 'a_normal', 'no'),
        ],
      ),
  },
  {
    // Seed 003: five weighted factors, violations as a penalty, four bands onto one exclusive group.
    id: 'member_score',
    i18n: keys('member_score'),
    seed: '003',
    trigger: 'schedule',
    groups: [
      {
        name: '群成员评级',
        description: '群成员综合评分：发言30% 内容25% 活动20% 邀请15% 违规10%',
        color: '#13c2c2',
        exclusive: true,
        applyRole: 'dept_admin',
      },
    ],
    tags: [
      { key: 'core', group: '群成员评级', name: '核心成员' },
      { key: 'active', group: '群成员评级', name: '活跃成员' },
      { key: 'normal', group: '群成员评级', name: '普通成员' },
      { key: 'watch', group: '群成员评级', name: '观察名单' },
    ],
    usesOutbound: false,
    build: ({ tagId }) =>
      graph(
        [
          { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * 1' } },
          { id: 'member', kind: 'condition', condition: { field: 'kind', op: 'eq', value: 'group_member' } },
          // one band node: each band adds its tag of the exclusive group 群成员评级 (actions `s:core` …)
          { id: 's', kind: 'band', metrics: MEMBER_SCORE_METRICS, bands: MEMBER_SCORE_BANDS.map((b) => ({ ...b, tagId: tagId(b.id) })) },
        ],
        [edge('t', 'member'), edge('member', 's', 'yes')],
      ),
  },
  {
    // Seed 001 §7: new → active → silent → lost; the branch's first match keeps stages exclusive.
    id: 'lifecycle',
    i18n: keys('lifecycle'),
    seed: '001',
    trigger: 'schedule',
    groups: [LIFECYCLE],
    tags: [
      { key: 'new', group: '生命周期', name: '新客' },
      { key: 'active', group: '生命周期', name: '活跃客户' },
      { key: 'silent', group: '生命周期', name: '沉睡客户' },
      { key: 'lost', group: '生命周期', name: '流失客户' },
    ],
    usesOutbound: false,
    build: ({ tagId }) =>
      graph(
        [
          { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: DAILY } },
          {
            id: 'stage',
            kind: 'branch',
            cases: [
              { id: 'new', condition: { field: 'createdAt', op: 'within_last_days', value: 30 } },
              { id: 'active', condition: { field: 'lastActiveAt', op: 'within_last_days', value: 30 } },
              { id: 'silent', condition: { field: 'lastActiveAt', op: 'within_last_days', value: 180 } },
            ],
          },
          action('a_new', tagId('new')),
          action('a_active', tagId('active')),
          action('a_silent', tagId('silent')),
          action('a_lost', tagId('lost')),
        ],
        [
          edge('t', 'stage'),
          edge('stage', 'a_new', 'new'),
          edge('stage', 'a_active', 'active'),
          edge('stage', 'a_silent', 'silent'),
          edge('stage', 'a_lost', 'else'),
        ],
      ),
  },
  {
    // Seed 003 §3: 1st and 2nd violation a warning, 3rd a 24-hour mute, 4th removal.
    id: 'violation_ladder',
    i18n: keys('violation_ladder'),
    seed: '003',
    trigger: 'event',
    groups: [{ name: '风险', description: '违规阶梯：警告 → 禁言 → 移出', color: '#f56c6c', exclusive: true, applyRole: 'staff' }],
    tags: [
      { key: 'warn', group: '风险', name: '违规警告' },
      { key: 'mute', group: '风险', name: '禁言' },
      { key: 'remove', group: '风险', name: '移出群聊' },
    ],
    usesOutbound: true,
    build: ({ tagId, notifyDestinationId }) => {
      const nodes: RuleNode[] = [
        { id: 't', kind: 'trigger', trigger: { type: 'event', eventType: 'violation', filters: [] } },
        {
          id: 'ladder',
          kind: 'branch',
          cases: [
            { id: 'remove', condition: { field: 'violationCount', op: 'gte', value: 4 } },
            { id: 'mute', condition: { field: 'violationCount', op: 'eq', value: 3 } },
          ],
        },
        action('a_remove', tagId('remove')),
        action('a_mute', tagId('mute')),
        action('a_warn', tagId('warn')),
      ];
      const edges = [
        edge('t', 'ladder'),
        edge('ladder', 'a_remove', 'remove'),
        edge('ladder', 'a_mute', 'mute'),
        edge('ladder', 'a_warn', 'else'),
      ];
      if (notifyDestinationId !== null) {
        nodes.push(
          notify('n_remove', notifyDestinationId, '{name} 第 4 次违规，请将其移出群聊（规则：{rule}）'),
          notify('n_mute', notifyDestinationId, '{name} 第 3 次违规，请在群内禁言 24 小时（规则：{rule}）'),
        );
        edges.push(edge('ladder', 'n_remove', 'remove'), edge('ladder', 'n_mute', 'mute'));
      }
      return graph(nodes, edges);
    },
  },
  {
    // Seed 004: keywords in a message tag the contact for follow-up.
    id: 'keyword_tagging',
    i18n: keys('keyword_tagging'),
    seed: '004',
    trigger: 'event',
    groups: [{ name: '运营标记', description: '运营人员手动标记', color: '#909399', exclusive: false, applyRole: 'staff' }],
    tags: [
      { key: 'agent', group: '运营标记', name: '意向代理' },
      { key: 'followup', group: '运营标记', name: '待跟进' },
    ],
    usesOutbound: false,
    build: ({ tagId }) =>
      graph(
        [
          { id: 't', kind: 'trigger', trigger: { type: 'event', eventType: 'message', filters: [] } },
          { id: 'kw_agent', kind: 'condition', condition: { field: 'trigger.text', op: 'contains_any', value: ['代理', '合作', '加盟'] } },
          { id: 'kw_care', kind: 'condition', condition: { field: 'trigger.text', op: 'contains_any', value: ['投诉', '退款', '没发货'] } },
          action('a_agent', tagId('agent')),
          action('a_followup', tagId('followup')),
        ],
        [edge('t', 'kw_agent'), edge('t', 'kw_care'), edge('kw_agent', 'a_agent', 'yes'), edge('kw_care', 'a_followup', 'yes')],
      ),
  },
  {
    // Seed 004: a scanned QR code's channel (WeCom `State`) becomes the source tag.
    id: 'qr_channel',
    i18n: keys('qr_channel'),
    seed: '004',
    trigger: 'event',
    groups: [{ name: '来源渠道', description: '客户首次添加的渠道', color: '#67c23a', exclusive: true, applyRole: 'dept_admin' }],
    tags: [
      { key: 'store_a', group: '来源渠道', name: '扫码-门店A' },
      { key: 'store_b', group: '来源渠道', name: '扫码-门店B' },
    ],
    usesOutbound: false,
    build: ({ tagId }) =>
      graph(
        [
          { id: 't', kind: 'trigger', trigger: { type: 'event', eventType: 'qr_scan', filters: [] } },
          {
            id: 'channel',
            kind: 'branch',
            cases: [
              { id: 'store_a', condition: { field: 'trigger.channel', op: 'eq', value: '扫码-门店A' } },
              { id: 'store_b', condition: { field: 'trigger.channel', op: 'eq', value: '扫码-门店B' } },
            ],
          },
          action('a_store_a', tagId('store_a')),
          action('a_store_b', tagId('store_b')),
        ],
        [edge('t', 'channel'), edge('channel', 'a_store_a', 'store_a'), edge('channel', 'a_store_b', 'store_b')],
      ),
  },
  {
    // Seed 004: no interaction for 180 days → 待激活 (displaces the other stages of its exclusive group).
    id: 'inactive_180',
    i18n: keys('inactive_180'),
    seed: '004',
    trigger: 'schedule',
    groups: [LIFECYCLE],
    tags: [{ key: 'dormant', group: '生命周期', name: '待激活' }],
    usesOutbound: false,
    build: ({ tagId }) =>
      graph(
        [
          { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: DAILY } },
          { id: 'idle', kind: 'condition', condition: { field: 'lastActiveAt', op: 'more_than_days_ago', value: 180 } },
          { id: 'never', kind: 'condition', condition: { field: 'lastActiveAt', op: 'is_empty' } },
          { id: 'old', kind: 'condition', condition: { field: 'createdAt', op: 'more_than_days_ago', value: 180 } },
          action('a_dormant', tagId('dormant')),
        ],
        [
          edge('t', 'idle'),
          edge('t', 'never'),
          edge('never', 'old', 'yes'),
          edge('idle', 'a_dormant', 'yes'),
          edge('old', 'a_dormant', 'yes'),
        ],
      ),
  },
];

/** A template by id, or undefined. */
export function templateById(id: string): RuleTemplate | undefined {
  return RULE_TEMPLATES.find((t) => t.id === id);
}
