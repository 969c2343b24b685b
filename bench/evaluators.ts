/**
 * Rule evaluator benchmark: `npx tsx bench/evaluators.ts [--contacts 100000] [--reps 3] [--batch 100] [--seed 1]`
 *
 * 20 rules a marketer would draw (RFM tiers, 30-day spend, lifecycle, keyword on a message
 * trigger, group-member score bands, tags, regions, custom attributes, gray release…) over demo
 * contacts (`shared/src/demo`, read through `evalDataFromRows` exactly as the webhook path reads
 * D1 rows), each contact carrying a triggering event (60% message, 20% purchase, 10% qr_scan, 10%
 * article_open). Evaluators:
 *   json-logic-js  the reference (`applyReference`, Segflow operations registered) on `rule.logic`
 *   closure        `compileLogic(rule.logic)`: the inlined JSON Logic as closures
 *   plan           `compileRulePlan(rule)`: each test once, reach formulas over them
 *   hand-written   a closure per rule written by hand for the same graph: the ceiling
 * warm (compiled once per rule) and cold (stored JSON parsed and compiled again for every batch
 * of `--batch` contacts: a webhook batch on a fresh isolate). Timings interleave evaluators and
 * rules and take the median over `--reps` passes of the process's CPU time (`process.cpuUsage`:
 * on a loaded machine wall time mostly measures the scheduler); ratios are against json-logic-js measured in
 * the same pass. Every timed pass counts matches and fired actions per rule and aborts if any
 * evaluator disagrees with json-logic-js.
 */
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import { generateDemo } from '@shared/demo';
import { compileRule, type CompiledRule } from '@shared/rules/compile';
import { evalDataFromRows, type ContactRows } from '@shared/rules/data';
import { lastDaysWindow } from '@shared/rules/days';
import { compileLogic, compileRulePlan } from '@shared/rules/evaluate';
import { applyReference } from '@shared/rules/jsonlogic';
import type {
  AggregateParams,
  ConditionSpec,
  EvalData,
  JsonLogic,
  RuleEdge,
  RuleGraph,
  RuleNode,
  TriggerEvent,
  TriggerSpec,
} from '@shared/rules/types';
import type { CustomFieldDecl } from '@shared/rules/fields';
import type { EventType } from '@shared/domain';

const { values } = parseArgs({
  options: {
    contacts: { type: 'string', default: '100000' },
    reps: { type: 'string', default: '3' },
    batch: { type: 'string', default: '100' },
    seed: { type: 'string', default: '1' },
  },
});
const N = Number(values.contacts);
const REPS = Number(values.reps);
const BATCH = Number(values.batch);
const SEED = Number(values.seed);
const NOW = 1_773_540_000_000; // 2026-03-15 10:00 Asia/Shanghai (fixed: results are reproducible)
const TZ = 480;
const log = (s: string) => process.stderr.write(`${s}\n`);

// ---------------------------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------------------------

const MESSAGE_TEXTS = [
  '这款价格多少？',
  '好的，谢谢',
  '有什么优惠活动吗',
  '在吗？',
  '什么时候发货？',
  '收到',
  '多少钱一盒',
  '链接发我一下',
  '我想申请退款',
  '哈哈哈',
];
const QR_CHANNELS = ['扫码-门店A', '直播间', '企微活动', '扫码-门店B'];

function triggerEventFor(id: number): TriggerEvent {
  const k = id % 10;
  if (k < 6) return { type: 'message', text: MESSAGE_TEXTS[(id * 7) % MESSAGE_TEXTS.length] ?? null, channel: null, amount: null };
  if (k < 8) return { type: 'purchase', text: null, channel: '小程序商城', amount: ((id * 37) % 120) * 1000 };
  if (k < 9) return { type: 'qr_scan', text: null, channel: QR_CHANNELS[id % QR_CHANNELS.length] ?? null, amount: null };
  return { type: 'article_open', text: '会员日福利来啦', channel: '公众号', amount: null };
}

function loadContacts(): { data: EvalData[]; tagId: (group: string, name: string) => number; customFields: CustomFieldDecl[] } {
  const data: EvalData[] = [];
  const tags = new Map<string, number>();
  const groups = new Map<number, string>();
  let customFields: CustomFieldDecl[] = [];
  for (const part of generateDemo({ contacts: N, seed: SEED, now: NOW, batchSize: 2000 })) {
    if (part.kind === 'static') {
      for (const g of part.data.tagGroups) groups.set(g.id, g.name);
      for (const t of part.data.tags) tags.set(`${groups.get(t.group_id)}/${t.name}`, t.id);
      customFields = part.data.customFields.map((f) => ({ key: f.key, labelZh: f.label_zh, labelEn: f.label_en, type: f.type }));
    } else if (part.kind === 'batch') {
      const rows = new Map<number, ContactRows>();
      for (const c of part.data.contacts)
        rows.set(c.id, { contact: c as unknown as Record<string, unknown>, tagIds: [], stats: [], events: [] });
      for (const t of part.data.contactTags) rows.get(t.contact_id)?.tagIds?.push(t.tag_id);
      for (const s of part.data.dailyStats)
        rows.get(s.contact_id)?.stats?.push({ type: s.type, day: s.day, count: s.count, amount: s.amount });
      for (const e of part.data.events)
        rows
          .get(e.contact_id)
          ?.events?.push({ type: e.type, occurred_at: e.occurred_at, amount: e.amount, channel: e.channel, text: e.text });
      for (const [id, r] of rows) data.push(evalDataFromRows(r, NOW, TZ, triggerEventFor(id)));
    }
  }
  const tagId = (group: string, name: string) => {
    const id = tags.get(`${group}/${name}`);
    if (id === undefined) throw new Error(`no demo tag ${group}/${name}`);
    return id;
  };
  return { data, tagId, customFields };
}

// ---------------------------------------------------------------------------------------------
// The 20 rules, as graphs, each with its hand-written twin
// ---------------------------------------------------------------------------------------------

interface Bench {
  name: string;
  graph: RuleGraph;
  /** Fired action node ids, in node order, as the compiled rule returns them. */
  hand: (d: EvalData) => string[];
}

const cond = (id: string, field: string, op: string, value?: unknown, params?: AggregateParams): RuleNode => {
  const condition: ConditionSpec = { field, op };
  if (value !== undefined) condition.value = value;
  if (params) condition.params = params;
  return { id, kind: 'condition', condition };
};
const add = (id: string, tagId: number): RuleNode => ({ id, kind: 'action', action: { type: 'add_tag', tagId } });
const remove = (id: string, tagId: number): RuleNode => ({ id, kind: 'action', action: { type: 'remove_tag', tagId } });
const schedule: TriggerSpec = { type: 'schedule', cron: '0 3 * * *' };
function graph(trigger: TriggerSpec, nodes: RuleNode[], edges: [string, string, string?][]): RuleGraph {
  return {
    schemaVersion: 1,
    nodes: [{ id: 't', kind: 'trigger', trigger }, ...nodes],
    edges: edges.map(([source, target, sourceHandle], i): RuleEdge =>
      sourceHandle ? { id: `e${i}`, source, target, sourceHandle } : { id: `e${i}`, source, target },
    ),
  };
}

// Hand-written helpers: what a careful engineer writes for the hot path. Windows are cached per
// `now`, as the compiled evaluators do too (DayWindow in shared/src/rules/evaluate.ts).
let winNow = Number.NaN;
const winCache = new Map<number, ReturnType<typeof lastDaysWindow>>();
function win(d: EvalData, days: number) {
  if (d.now !== winNow) {
    winCache.clear();
    winNow = d.now;
  }
  let w = winCache.get(days);
  if (!w) {
    w = lastDaysWindow(d.now, days, d.tzOffsetMinutes ?? 480);
    winCache.set(days, w);
  }
  return w;
}
function statSum(d: EvalData, type: EventType, days: number, amount: boolean): number {
  const w = win(d, days);
  let t = 0;
  const stats = d.stats;
  if (stats)
    for (let i = 0; i < stats.length; i++) {
      const s = stats[i] as (typeof stats)[number];
      if (s.type === type && s.day >= w.firstDay && s.day <= w.lastDay) t += amount ? s.amount : s.count;
    }
  return t;
}
function eventCount(d: EvalData, type: EventType, days: number, channel: string): number {
  const w = win(d, days);
  let t = 0;
  const events = d.events;
  if (events)
    for (let i = 0; i < events.length; i++) {
      const e = events[i] as (typeof events)[number];
      if (e.type === type && e.channel === channel && e.occurredAt >= w.fromMs && e.occurredAt <= w.toMs) t++;
    }
  return t;
}
const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const within = (d: EvalData, v: unknown, days: number) => {
  if (!num(v)) return false;
  const w = win(d, days);
  return v >= w.fromMs && v <= w.toMs;
};
const hasTag = (d: EvalData, id: number) => (d.tags as number[]).includes(id);
const custom = (d: EvalData, key: string) => (d.contact.custom as Record<string, unknown>)[key];
const metric = (v: unknown, w: number, cap: number) => (Math.min(Math.max(num(v) ? v : 0, 0), cap) * 1.0 * w) / cap;
const NONE: string[] = [];

// Long on purpose: the benchmark's table of rules, each a graph beside its hand-written twin.
function rules(tag: (group: string, name: string) => number): Bench[] {
  const T = {
    high: tag('价值分层', '高价值客户'),
    potential: tag('价值分层', '潜力客户'),
    ordinary: tag('价值分层', '普通客户'),
    newbie: tag('生命周期', '新客'),
    active: tag('生命周期', '活跃客户'),
    asleep: tag('生命周期', '沉睡客户'),
    lost: tag('生命周期', '流失客户'),
    toWake: tag('生命周期', '待激活'),
    core: tag('群成员评级', '核心成员'),
    activeMember: tag('群成员评级', '活跃成员'),
    member: tag('群成员评级', '普通成员'),
    watch: tag('群成员评级', '观察名单'),
    warn: tag('风险', '违规警告'),
    vip: tag('运营标记', 'VIP'),
    followUp: tag('运营标记', '待跟进'),
    agent: tag('运营标记', '意向代理'),
    antiAge: tag('兴趣偏好', '抗老'),
    whitening: tag('兴趣偏好', '美白'),
    sensitive: tag('兴趣偏好', '敏感肌'),
  };
  const month = new Date(NOW + TZ * 60_000).getUTCMonth() + 1;
  const out: Bench[] = [];

  // 1. RFM tiers: bought in the last 90 days, then frequency / monetary bands; lapsed buyers lose "high value".
  out.push({
    name: 'RFM tiers (branch)',
    graph: graph(
      schedule,
      [
        cond('recent', 'lastPurchaseAt', 'within_last_days', 90),
        {
          id: 'tier',
          kind: 'branch',
          cases: [
            { id: 'champ', condition: { field: 'purchaseCount', op: 'gte', value: 5 } },
            { id: 'big', condition: { field: 'totalSpend', op: 'gte', value: 200_000 } },
          ],
        },
        add('a_high', T.high),
        add('a_pot', T.potential),
        add('a_ord', T.ordinary),
        remove('a_lapsed', T.high),
      ],
      [
        ['t', 'recent'],
        ['recent', 'tier', 'yes'],
        ['tier', 'a_high', 'champ'],
        ['tier', 'a_pot', 'big'],
        ['tier', 'a_ord', 'else'],
        ['recent', 'a_lapsed', 'no'],
      ],
    ),
    hand: (d) => {
      const c = d.contact;
      if (!within(d, c.lastPurchaseAt, 90)) return ['a_lapsed'];
      if (num(c.purchaseCount) && c.purchaseCount >= 5) return ['a_high'];
      if (num(c.totalSpend) && c.totalSpend >= 200_000) return ['a_pot'];
      return ['a_ord'];
    },
  });

  // 2. Spend in the last 30 days ≥ ¥1,000 (rollup aggregate).
  out.push({
    name: 'spend 30d ≥ ¥1000',
    graph: graph(
      schedule,
      [cond('spend', 'event.amount', 'gte', 100_000, { eventType: 'purchase', days: 30 }), add('a', T.vip)],
      [
        ['t', 'spend'],
        ['spend', 'a', 'yes'],
      ],
    ),
    hand: (d) => (statSum(d, 'purchase', 30, true) >= 100_000 ? ['a'] : NONE),
  });

  // 3. Lifecycle by last active: 7 / 30 / 90 days, else lost.
  out.push({
    name: 'lifecycle by last active',
    graph: graph(
      schedule,
      [
        {
          id: 'life',
          kind: 'branch',
          cases: [
            { id: 'w7', condition: { field: 'lastActiveAt', op: 'within_last_days', value: 7 } },
            { id: 'w30', condition: { field: 'lastActiveAt', op: 'within_last_days', value: 30 } },
            { id: 'w90', condition: { field: 'lastActiveAt', op: 'within_last_days', value: 90 } },
          ],
        },
        add('a_active', T.active),
        add('a_wake', T.toWake),
        add('a_asleep', T.asleep),
        add('a_lost', T.lost),
      ],
      [
        ['t', 'life'],
        ['life', 'a_active', 'w7'],
        ['life', 'a_wake', 'w30'],
        ['life', 'a_asleep', 'w90'],
        ['life', 'a_lost', 'else'],
      ],
    ),
    hand: (d) => {
      const v = d.contact.lastActiveAt;
      if (within(d, v, 7)) return ['a_active'];
      if (within(d, v, 30)) return ['a_wake'];
      if (within(d, v, 90)) return ['a_asleep'];
      return ['a_lost'];
    },
  });

  // 4. Keyword match on a message trigger.
  const words4 = ['价格', '优惠', '多少钱'];
  out.push({
    name: 'message keyword',
    graph: graph(
      { type: 'event', eventType: 'message', filters: [{ field: 'trigger.text', op: 'contains_any', value: words4 }] },
      [add('a', T.followUp)],
      [['t', 'a']],
    ),
    hand: (d) => {
      const e = d.event;
      if (!e || e.type !== 'message' || typeof e.text !== 'string') return NONE;
      const text = e.text;
      return words4.some((w) => text.includes(w)) ? ['a'] : NONE;
    },
  });

  // 5. Group-member score with four bands.
  out.push({
    name: 'group member score bands',
    graph: graph(
      schedule,
      [
        cond('gm', 'kind', 'eq', 'group_member'),
        {
          id: 's',
          kind: 'score',
          metrics: [
            { field: 'messageCount', weight: 30, cap: 50 },
            { field: 'event.count', params: { eventType: 'message', days: 30 }, weight: 25, cap: 20 },
            { field: 'event.count', params: { eventType: 'article_open', days: 30 }, weight: 20, cap: 5 },
            { field: 'inviteCount', weight: 15, cap: 5 },
          ],
          bands: [
            { id: 'core', min: 60, max: null },
            { id: 'act', min: 35, max: 60 },
            { id: 'norm', min: 10, max: 35 },
            { id: 'watch', min: 0, max: 10 },
          ],
        },
        add('a_core', T.core),
        add('a_act', T.activeMember),
        add('a_norm', T.member),
        add('a_watch', T.watch),
      ],
      [
        ['t', 'gm'],
        ['gm', 's', 'yes'],
        ['s', 'a_core', 'core'],
        ['s', 'a_act', 'act'],
        ['s', 'a_norm', 'norm'],
        ['s', 'a_watch', 'watch'],
      ],
    ),
    hand: (d) => {
      const c = d.contact;
      if (c.kind !== 'group_member') return NONE;
      let s = 0;
      s += metric(c.messageCount, 30, 50);
      s += metric(statSum(d, 'message', 30, false), 25, 20);
      s += metric(statSum(d, 'article_open', 30, false), 20, 5);
      s += metric(c.inviteCount, 15, 5);
      if (s >= 60) return ['a_core'];
      if (s >= 35) return ['a_act'];
      if (s >= 10) return ['a_norm'];
      return s >= 0 ? ['a_watch'] : NONE;
    },
  });

  // 6. Has a tag and lacks another (AND node).
  out.push({
    name: 'has tag ∧ lacks tag',
    graph: graph(
      schedule,
      [
        cond('has', 'tags', 'has', T.antiAge),
        cond('lacks', 'tags', 'lacks', T.high),
        { id: 'and', kind: 'logic', op: 'and' },
        add('a', T.potential),
      ],
      [
        ['t', 'has'],
        ['t', 'lacks'],
        ['has', 'and', 'yes'],
        ['lacks', 'and', 'yes'],
        ['and', 'a'],
      ],
    ),
    hand: (d) => (hasTag(d, T.antiAge) && !hasTag(d, T.high) ? ['a'] : NONE),
  });

  // 7. Region in a list.
  const regions7 = ['广东', '上海', '北京', '浙江'];
  out.push({
    name: 'region in list',
    graph: graph(
      schedule,
      [cond('r', 'region', 'in', regions7), add('a', T.followUp)],
      [
        ['t', 'r'],
        ['r', 'a', 'yes'],
      ],
    ),
    hand: (d) => {
      const r = d.contact.region;
      return typeof r === 'string' && regions7.includes(r) ? ['a'] : NONE;
    },
  });

  // 8. Violations: 3+ ever, or any in the last 7 days (OR node) → warn, and drop VIP.
  out.push({
    name: 'violations (OR)',
    graph: graph(
      schedule,
      [
        cond('v3', 'violationCount', 'gte', 3),
        cond('v7', 'event.count', 'gte', 1, { eventType: 'violation', days: 7 }),
        { id: 'or', kind: 'logic', op: 'or' },
        add('a_warn', T.warn),
        remove('a_vip', T.vip),
      ],
      [
        ['t', 'v3'],
        ['t', 'v7'],
        ['v3', 'or', 'yes'],
        ['v7', 'or', 'yes'],
        ['or', 'a_warn'],
        ['or', 'a_vip'],
      ],
    ),
    hand: (d) => {
      const v = d.contact.violationCount;
      return (num(v) && v >= 3) || statSum(d, 'violation', 7, false) >= 1 ? ['a_warn', 'a_vip'] : NONE;
    },
  });

  // 9. Win-back: no purchase for 60+ days but spent ≥ ¥1,000 in total.
  out.push({
    name: 'win-back',
    graph: graph(
      schedule,
      [cond('old', 'lastPurchaseAt', 'more_than_days_ago', 60), cond('spent', 'totalSpend', 'gte', 100_000), add('a', T.toWake)],
      [
        ['t', 'old'],
        ['old', 'spent', 'yes'],
        ['spent', 'a', 'yes'],
      ],
    ),
    hand: (d) => {
      const c = d.contact;
      const lp = c.lastPurchaseAt;
      return num(lp) && lp < win(d, 60).fromMs && num(c.totalSpend) && c.totalSpend >= 100_000 ? ['a'] : NONE;
    },
  });

  // 10. New contacts from offline channels.
  const channels10 = ['扫码-门店A', '扫码-门店B', '企微活动'];
  out.push({
    name: 'new from channels',
    graph: graph(
      schedule,
      [cond('new', 'createdAt', 'within_last_days', 14), cond('ch', 'sourceChannel', 'in', channels10), add('a', T.newbie)],
      [
        ['t', 'new'],
        ['new', 'ch', 'yes'],
        ['ch', 'a', 'yes'],
      ],
    ),
    hand: (d) => {
      const c = d.contact;
      const ch = c.sourceChannel;
      return within(d, c.createdAt, 14) && typeof ch === 'string' && channels10.includes(ch) ? ['a'] : NONE;
    },
  });

  // 11. Custom attributes: gold/diamond members with ≥ 1000 points.
  const levels11 = ['金卡', '钻石'];
  out.push({
    name: 'custom level ∧ points',
    graph: graph(
      schedule,
      [cond('lvl', 'custom.member_level', 'in', levels11), cond('pts', 'custom.points', 'gte', 1000), add('a', T.vip)],
      [
        ['t', 'lvl'],
        ['lvl', 'pts', 'yes'],
        ['pts', 'a', 'yes'],
      ],
    ),
    hand: (d) => {
      const lvl = custom(d, 'member_level');
      const pts = custom(d, 'points');
      return typeof lvl === 'string' && levels11.includes(lvl) && num(pts) && pts >= 1000 ? ['a'] : NONE;
    },
  });

  // 12. Birthday this month.
  out.push({
    name: 'birthday month',
    graph: graph(
      schedule,
      [cond('bd', 'custom.birthday_month', 'eq', month), add('a', T.followUp)],
      [
        ['t', 'bd'],
        ['bd', 'a', 'yes'],
      ],
    ),
    hand: (d) => (custom(d, 'birthday_month') === month ? ['a'] : NONE),
  });

  // 13. Purchase trigger: a big order, then split by lifetime spend.
  out.push({
    name: 'big order (purchase trigger)',
    graph: graph(
      { type: 'event', eventType: 'purchase', filters: [{ field: 'trigger.amount', op: 'gte', value: 50_000 }] },
      [cond('ltv', 'totalSpend', 'gte', 500_000), add('a_high', T.high), add('a_pot', T.potential)],
      [
        ['t', 'ltv'],
        ['ltv', 'a_high', 'yes'],
        ['ltv', 'a_pot', 'no'],
      ],
    ),
    hand: (d) => {
      const e = d.event;
      if (!e || e.type !== 'purchase' || !num(e.amount) || e.amount < 50_000) return NONE;
      const s = d.contact.totalSpend;
      return num(s) && s >= 500_000 ? ['a_high'] : ['a_pot'];
    },
  });

  // 14. Apple device, female, mid spend.
  const devices14 = ['ios', 'mac'];
  out.push({
    name: 'device ∧ gender ∧ spend band',
    graph: graph(
      schedule,
      [
        cond('dev', 'device', 'in', devices14),
        cond('g', 'gender', 'eq', 'female'),
        cond('sp', 'totalSpend', 'between', [50_000, 500_000]),
        add('a', T.potential),
      ],
      [
        ['t', 'dev'],
        ['dev', 'g', 'yes'],
        ['g', 'sp', 'yes'],
        ['sp', 'a', 'yes'],
      ],
    ),
    hand: (d) => {
      const c = d.contact;
      const dev = c.device;
      const s = c.totalSpend;
      return typeof dev === 'string' && devices14.includes(dev) && c.gender === 'female' && num(s) && s >= 50_000 && s <= 500_000
        ? ['a']
        : NONE;
    },
  });

  // 15. Gray release: 20% of talkative contacts.
  out.push({
    name: 'gray release 20%',
    graph: graph(
      schedule,
      [cond('gr', 'bucket', 'in_rollout', { percent: 20, salt: 17 }), cond('talk', 'messageCount', 'gte', 10), add('a', T.followUp)],
      [
        ['t', 'gr'],
        ['gr', 'talk', 'yes'],
        ['talk', 'a', 'yes'],
      ],
    ),
    hand: (d) => {
      const c = d.contact;
      const b = c.bucket;
      return num(b) && (b + 17) % 10_000 < 2000 && num(c.messageCount) && c.messageCount >= 10 ? ['a'] : NONE;
    },
  });

  // 16. Any skincare interest and read 2+ articles in 30 days.
  const skin16 = [T.antiAge, T.whitening, T.sensitive];
  out.push({
    name: 'has any tag ∧ articles 30d',
    graph: graph(
      schedule,
      [
        cond('skin', 'tags', 'has_any', skin16),
        cond('read', 'event.count', 'gte', 2, { eventType: 'article_open', days: 30 }),
        add('a', T.followUp),
      ],
      [
        ['t', 'skin'],
        ['skin', 'read', 'yes'],
        ['read', 'a', 'yes'],
      ],
    ),
    hand: (d) => (skin16.some((id) => hasTag(d, id)) && statSum(d, 'article_open', 30, false) >= 2 ? ['a'] : NONE),
  });

  // 17. Remark mentions 代理 or the company is in Shenzhen (OR node).
  out.push({
    name: 'remark ∨ company text',
    graph: graph(
      schedule,
      [
        cond('rm', 'remark', 'contains', '代理'),
        cond('co', 'company', 'starts_with', '深圳'),
        { id: 'or', kind: 'logic', op: 'or' },
        add('a', T.agent),
      ],
      [
        ['t', 'rm'],
        ['t', 'co'],
        ['rm', 'or', 'yes'],
        ['co', 'or', 'yes'],
        ['or', 'a'],
      ],
    ),
    hand: (d) => {
      const c = d.contact;
      return (typeof c.remark === 'string' && c.remark.includes('代理')) || (typeof c.company === 'string' && c.company.startsWith('深圳'))
        ? ['a']
        : NONE;
    },
  });

  // 18. Scanned the live-stream QR code in the last 90 days (raw events: channel filter).
  out.push({
    name: 'qr scans by channel 90d',
    graph: graph(
      schedule,
      [cond('qr', 'event.count', 'gte', 1, { eventType: 'qr_scan', days: 90, channel: '直播间' }), add('a', T.followUp)],
      [
        ['t', 'qr'],
        ['qr', 'a', 'yes'],
      ],
    ),
    hand: (d) => (eventCount(d, 'qr_scan', 90, '直播间') >= 1 ? ['a'] : NONE),
  });

  // 19. Never bought (NOT node) but talks: to activate.
  out.push({
    name: 'NOT bought ∧ talks',
    graph: graph(
      schedule,
      [
        cond('bought', 'purchaseCount', 'gte', 1),
        { id: 'not', kind: 'logic', op: 'not' },
        cond('talk', 'messageCount', 'gte', 5),
        add('a', T.toWake),
      ],
      [
        ['t', 'bought'],
        ['bought', 'not', 'yes'],
        ['not', 'talk'],
        ['talk', 'a', 'yes'],
      ],
    ),
    hand: (d) => {
      const c = d.contact;
      return !(num(c.purchaseCount) && c.purchaseCount >= 1) && num(c.messageCount) && c.messageCount >= 5 ? ['a'] : NONE;
    },
  });

  // 20. On any message from an owned friend / customer: value score in two bands.
  const kinds20 = ['friend', 'wecom_customer'];
  out.push({
    name: 'message → owned customer value score',
    graph: graph(
      { type: 'event', eventType: 'message', filters: [] },
      [
        cond('k', 'kind', 'in', kinds20),
        cond('own', 'ownerUserId', 'is_not_empty'),
        { id: 'and', kind: 'logic', op: 'and' },
        {
          id: 's',
          kind: 'score',
          metrics: [
            { field: 'totalSpend', weight: 50, cap: 500_000 },
            { field: 'event.count', params: { eventType: 'purchase', days: 90 }, weight: 30, cap: 5 },
            { field: 'messageCount', weight: 20, cap: 100 },
          ],
          bands: [
            { id: 'hi', min: 50, max: null },
            { id: 'lo', min: 0, max: 50 },
          ],
        },
        add('a_hi', T.high),
        add('a_lo', T.ordinary),
      ],
      [
        ['t', 'k'],
        ['t', 'own'],
        ['k', 'and', 'yes'],
        ['own', 'and', 'yes'],
        ['and', 's'],
        ['s', 'a_hi', 'hi'],
        ['s', 'a_lo', 'lo'],
      ],
    ),
    hand: (d) => {
      const e = d.event;
      if (!e || e.type !== 'message') return NONE;
      const c = d.contact;
      if (typeof c.kind !== 'string' || !kinds20.includes(c.kind)) return NONE;
      if (c.ownerUserId === null || c.ownerUserId === undefined || c.ownerUserId === '') return NONE;
      let s = 0;
      s += metric(c.totalSpend, 50, 500_000);
      s += metric(statSum(d, 'purchase', 90, false), 30, 5);
      s += metric(c.messageCount, 20, 100);
      if (s >= 50) return ['a_hi'];
      return s >= 0 ? ['a_lo'] : NONE;
    },
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Timing
// ---------------------------------------------------------------------------------------------

type Fn = (d: EvalData) => unknown;
interface Prepared {
  bench: Bench;
  rule: CompiledRule;
  logicText: string;
  planText: string;
  ref: Fn;
  closure: Fn;
  plan: Fn;
}
const EVALUATORS = ['json-logic-js', 'closure', 'plan', 'hand-written'] as const;
type EvalName = (typeof EVALUATORS)[number];
interface Tally {
  matched: number;
  fired: number;
}

/** One pass of one evaluator over all contacts for one rule: ns, and what it found. */
function run(p: Prepared, ev: EvalName, cold: boolean, data: EvalData[]): { ns: number; tally: Tally } {
  let matched = 0;
  let fired = 0;
  const count = (r: unknown) => {
    const n = (r as unknown[]).length;
    if (n > 0) matched++;
    fired += n;
  };
  // CPU time of this process, not wall time: on a shared machine preemption would dominate.
  const t0 = process.cpuUsage();
  if (!cold) {
    const f: Fn = ev === 'json-logic-js' ? p.ref : ev === 'closure' ? p.closure : ev === 'plan' ? p.plan : p.bench.hand;
    for (let i = 0; i < data.length; i++) count(f(data[i] as EvalData));
  } else {
    for (let start = 0; start < data.length; start += BATCH) {
      let f: Fn;
      if (ev === 'json-logic-js') {
        const logic = JSON.parse(p.logicText) as JsonLogic;
        f = (d) => applyReference(logic, d);
      } else if (ev === 'closure') f = compileLogic(JSON.parse(p.logicText) as JsonLogic);
      else if (ev === 'plan') f = compileRulePlan(JSON.parse(p.planText) as Pick<CompiledRule, 'tests' | 'reach' | 'actions'>);
      else f = p.bench.hand;
      const end = Math.min(data.length, start + BATCH);
      for (let i = start; i < end; i++) count(f(data[i] as EvalData));
    }
  }
  const t1 = process.cpuUsage(t0);
  const ns = (t1.user + t1.system) * 1000;
  return { ns, tally: { matched, fired } };
}

/**
 * The webhook shape: each contact (with its event) through all 20 rules before the next contact,
 * so one contact's rows stay in cache and the time is the evaluators', not memory misses. Cold:
 * every rule parsed and compiled again at the start of each batch of `BATCH` contacts.
 */
function runAll(prepared: Prepared[], ev: EvalName, cold: boolean, data: EvalData[]): { ns: number; tallies: Tally[] } {
  const R = prepared.length;
  const matched = new Array<number>(R).fill(0);
  const fired = new Array<number>(R).fill(0);
  const compile = (p: Prepared): Fn => {
    if (!cold) return ev === 'json-logic-js' ? p.ref : ev === 'closure' ? p.closure : ev === 'plan' ? p.plan : p.bench.hand;
    if (ev === 'json-logic-js') {
      const logic = JSON.parse(p.logicText) as JsonLogic;
      return (d) => applyReference(logic, d);
    }
    if (ev === 'closure') return compileLogic(JSON.parse(p.logicText) as JsonLogic);
    if (ev === 'plan') return compileRulePlan(JSON.parse(p.planText) as Pick<CompiledRule, 'tests' | 'reach' | 'actions'>);
    return p.bench.hand;
  };
  const t0 = process.cpuUsage();
  let fns = prepared.map(compile);
  for (let start = 0; start < data.length; start += BATCH) {
    if (cold && start > 0) fns = prepared.map(compile);
    const end = Math.min(data.length, start + BATCH);
    for (let i = start; i < end; i++) {
      const d = data[i] as EvalData;
      for (let r = 0; r < R; r++) {
        const n = ((fns[r] as Fn)(d) as unknown[]).length;
        if (n > 0) matched[r] = (matched[r] as number) + 1;
        fired[r] = (fired[r] as number) + n;
      }
    }
  }
  const t1 = process.cpuUsage(t0);
  return { ns: (t1.user + t1.system) * 1000, tallies: matched.map((m, r) => ({ matched: m, fired: fired[r] as number })) };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

// Long on purpose: a script's steps in the order it prints them (setup, timed passes, tables).
function main() {
  log(`generating ${N.toLocaleString()} demo contacts (seed ${SEED})…`);
  const t0 = Date.now();
  const { data, tagId, customFields } = loadContacts();
  log(`  ${data.length.toLocaleString()} contacts in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const prepared: Prepared[] = rules(tagId).map((bench) => {
    const compiled = compileRule(bench.graph, { customFields });
    if (!compiled.ok) throw new Error(`${bench.name}: ${JSON.stringify(compiled.errors)}`);
    const rule = compiled.value;
    const logic = rule.logic;
    return {
      bench,
      rule,
      logicText: JSON.stringify(logic),
      planText: JSON.stringify({ tests: rule.tests, reach: rule.reach, actions: rule.actions }),
      ref: (d) => applyReference(logic, d),
      closure: compileLogic(logic),
      plan: compileRulePlan(rule),
    };
  });

  // Reference counts (json-logic-js, untimed), then a short warm-up of everything.
  const expected = prepared.map((p) => run(p, 'json-logic-js', false, data).tally);
  const warm = data.slice(0, Math.min(5000, data.length));
  for (const p of prepared) for (const ev of EVALUATORS) for (const cold of [false, true]) run(p, ev, cold, warm);
  for (const ev of EVALUATORS) for (const cold of [false, true]) runAll(prepared, ev, cold, warm);

  const check = (what: string, r: number, tally: Tally) => {
    const want = expected[r] as Tally;
    if (tally.matched !== want.matched || tally.fired !== want.fired) {
      console.error(
        `DISAGREEMENT on rule ${r + 1} "${prepared[r]?.bench.name}" (${what}): matched ${tally.matched} fired ${tally.fired}; json-logic-js says matched ${want.matched} fired ${want.fired}`,
      );
      process.exit(1);
    }
  };

  // Per pass, interleaved so load drift hits every evaluator alike: contact-major warm and cold
  // (the headline), then rule-major warm (one rule over all contacts: the per-rule table).
  const times = new Map<string, number[]>();
  const push = (k: string, ns: number) => times.set(k, [...(times.get(k) ?? []), ns]);
  for (let rep = 0; rep < REPS; rep++) {
    const tRep = Date.now();
    for (const cold of [false, true]) {
      for (const ev of EVALUATORS) {
        const { ns, tallies } = runAll(prepared, ev, cold, data);
        tallies.forEach((t, r) => check(`${ev}, ${cold ? 'cold' : 'warm'}, contact-major`, r, t));
        push(`all|${ev}|${cold}`, ns);
      }
    }
    prepared.forEach((p, r) => {
      for (const ev of EVALUATORS) {
        const { ns, tally } = run(p, ev, false, data);
        check(`${ev}, warm, rule-major`, r, tally);
        push(`rule|${ev}|${r}`, ns);
      }
    });
    log(`  pass ${rep + 1}/${REPS}: ${((Date.now() - tRep) / 1000).toFixed(1)} s, load ${loadavg()[0]?.toFixed(1)}`);
  }

  const evals = data.length * prepared.length;
  const overall = (ev: EvalName, cold: boolean) => median(times.get(`all|${ev}|${cold}`) ?? []) / evals;
  const perRule = (ev: EvalName, r: number) => median(times.get(`rule|${ev}|${r}`) ?? []) / data.length;

  console.log(`\n## Evaluators: ${prepared.length} rules × ${data.length.toLocaleString()} contacts, CPU time, median of ${REPS} passes`);
  console.log(
    `Each contact through all ${prepared.length} rules (the webhook shape). Cold = every rule parsed + compiled per batch of ${BATCH} contacts.`,
  );
  console.log(`All evaluators agreed with json-logic-js on matched contacts and fired actions, per rule, in every pass.\n`);
  console.log('| evaluator | warm ns/contact-rule | warm × json-logic-js | cold ns/contact-rule | cold × json-logic-js |');
  console.log('|---|---:|---:|---:|---:|');
  const refWarm = overall('json-logic-js', false);
  const refCold = overall('json-logic-js', true);
  for (const ev of EVALUATORS) {
    const w = overall(ev, false);
    const c = overall(ev, true);
    console.log(`| ${ev} | ${w.toFixed(0)} | ${(refWarm / w).toFixed(1)}× | ${c.toFixed(0)} | ${(refCold / c).toFixed(1)}× |`);
  }
  console.log(
    `\nper rule, warm, rule-major (one rule over all contacts; memory-bound, so ratios are compressed): ns/contact (× json-logic-js)\n`,
  );
  console.log('| # | rule | matched | json-logic-js | closure | plan | hand |');
  console.log('|---:|---|---:|---:|---:|---:|---:|');
  prepared.forEach((p, r) => {
    const ref = perRule('json-logic-js', r);
    const cell = (ev: EvalName) => {
      const t = perRule(ev, r);
      return `${t.toFixed(0)} (${(ref / t).toFixed(1)}×)`;
    };
    console.log(
      `| ${r + 1} | ${p.bench.name} | ${(expected[r] as Tally).matched} | ${ref.toFixed(0)} | ${cell('closure')} | ${cell('plan')} | ${cell('hand-written')} |`,
    );
  });
  console.log(
    `\nload average at the end: ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );
}

main();
