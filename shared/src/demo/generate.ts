/**
 * Deterministic demo data: an organisation, tag catalog and N contacts with 180 days of events,
 * their aggregates, daily rollups and tag history. Streams in batches so the same code can
 * produce 1M contacts for benchmarks without holding them in memory.
 *
 * Every contact draws from its own PRNG seeded by (seed, contact id), so a contact's data does
 * not depend on the batch size or on the contacts before it.
 */
import { bucketOf, type ContactKind, type Device, type EventType, type Gender } from '../domain';
import { DAY_MS, SHANGHAI_OFFSET_MINUTES, dayNumber, dayStartMs } from '../time';
import { PLANTED_REPURCHASE, plantedRepurchase } from './planted';
import { COMMUNITY_DEPT, INTEREST_TREE, MEDIA_DEPT, buildCatalog, type Catalog, type Team } from './catalog';
import {
  ARTICLE_TITLES,
  COMPANY_PREFIX,
  COMPANY_SUFFIX,
  GIVEN_FEMALE,
  GIVEN_MALE,
  GIVEN_UNISEX,
  MESSAGES_KEYWORD,
  MESSAGES_PLAIN,
  NICKNAMES,
  OCCUPATIONS,
  PRODUCTS,
  PROVINCES,
  REMARK_ROLES,
  REMARK_TITLES,
  SOURCE_CHANNELS,
  SURNAMES,
  companyName,
} from './names';
import { Rng, mixSeed, weighted } from './random';
import type {
  ContactRow,
  ContactTagRow,
  DailyStatRow,
  DemoBatch,
  DemoOptions,
  DemoPart,
  DemoStatic,
  DemoTagsApplied,
  EventRow,
  TagLedgerRow,
  TagRow,
} from './types';
import type { TagSource } from '../domain';

export type * from './types';

const HOUR = 3_600_000;
const MINUTE = 60_000;

const KINDS = weighted<ContactKind>([
  ['friend', 30],
  ['group_member', 30],
  ['follower', 20],
  ['wecom_customer', 20],
]);
const DEVICE_TABLE = weighted<Device>([
  ['android', 48],
  ['ios', 40],
  ['windows', 6],
  ['mac', 4],
  ['other', 2],
]);
const PROVINCE_TABLE = weighted(PROVINCES.map((p) => [p, p.weight] as const));
const MEMBER_LEVELS = weighted<string>([
  ['普通会员', 55],
  ['银卡', 25],
  ['金卡', 14],
  ['钻石', 6],
]);
const PURCHASE_CHANNELS = ['小程序商城', '门店', '直播间', '企微小店'];
const VIOLATION_TEXTS = ['发布广告链接', '刷屏', '辱骂群友', '发布违规二维码'];

/** What each kind of contact mostly does (violations and group leaves are drawn separately). */
const EVENT_MIX: Record<ContactKind, ReturnType<typeof weighted<EventType>>> = {
  friend: weighted<EventType>([
    ['message', 72],
    ['purchase', 9],
    ['article_open', 12],
    ['qr_scan', 2],
    ['invite', 2],
    ['group_join', 3],
  ]),
  group_member: weighted<EventType>([
    ['message', 74],
    ['invite', 7],
    ['group_join', 5],
    ['purchase', 4],
    ['article_open', 8],
    ['qr_scan', 2],
  ]),
  follower: weighted<EventType>([
    ['article_open', 74],
    ['qr_scan', 10],
    ['message', 10],
    ['purchase', 6],
  ]),
  wecom_customer: weighted<EventType>([
    ['message', 62],
    ['purchase', 15],
    ['article_open', 15],
    ['qr_scan', 4],
    ['invite', 2],
    ['group_join', 2],
  ]),
};
const BUYER_SHARE: Record<ContactKind, number> = { friend: 0.45, group_member: 0.25, follower: 0.15, wecom_customer: 0.6 };
const VIOLATOR_SHARE: Record<ContactKind, number> = { friend: 0.003, group_member: 0.05, follower: 0.001, wecom_customer: 0.003 };
const NICKNAME_SHARE: Record<ContactKind, number> = { friend: 0.5, group_member: 0.6, follower: 0.75, wecom_customer: 0.15 };
const REMARK_SHARE: Record<ContactKind, number> = { friend: 0.3, group_member: 0.08, follower: 0.03, wecom_customer: 0.45 };

const LOWER_ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';
const ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** A bijective scramble of a 32-bit id, base-36, fixed width: makes random-looking ids unique. */
function scrambledId(id: number): string {
  return (Math.imul(id, 0x9e3779b1) >>> 0).toString(36).padStart(7, '0');
}

/** External ids shaped like the real ones: WeCom `wm…`, official-account openid `o…`, WeChat `wxid_…`. */
function externalIdFor(kind: ContactKind, id: number, r: Rng): string {
  switch (kind) {
    case 'wecom_customer':
      return `wm${r.chars(ID_CHARS, 23)}${scrambledId(id)}`;
    case 'follower':
      return `o${r.chars(ID_CHARS, 20)}${scrambledId(id)}`;
    default:
      return `wxid_${r.chars(LOWER_ALNUM, 7)}${scrambledId(id)}`;
  }
}

/** Group chat ids `chat_…`, stable per (seed, group index). */
function chatId(seed: number, index: number): string {
  return `chat_${new Rng(mixSeed(seed ^ 0x5bd1e995, index)).chars(LOWER_ALNUM, 10)}${scrambledId(index + 1)}`;
}

/** Lomax (Pareto II) count: most contacts do little, a few do a lot; mean ≈ `mean` before the cap. */
function powerLawCount(r: Rng, mean: number): number {
  const alpha = 1.5;
  const scale = mean * (alpha - 1);
  return Math.min(2000, Math.floor(scale * (Math.pow(1 - r.next(), -1 / alpha) - 1)));
}

/** A purchase amount in fen, ¥9.9–¥5,000, log-normal around ~¥130 with shop-like prices (x9, x9.9). */
function priceFen(r: Rng, big: boolean): number {
  let yuan = Math.exp(Math.log(129) + 0.9 * r.normal());
  if (big) yuan *= r.int(3, 8);
  let fen = yuan < 100 ? Math.round(yuan) * 100 - 10 : (Math.round(yuan / 10) * 10 - 1) * 100;
  if (fen < 990) fen = 990;
  if (fen > 500_000) fen = 500_000;
  return fen;
}

interface RawEvent {
  type: EventType;
  at: number;
  amount: number | null;
  channel: string | null;
  groupId: string | null;
  text: string | null;
  properties: string;
}

interface TagOp {
  tagId: number;
  op: 'add' | 'remove';
  source: TagSource;
  actor: number | null;
  batchId: string | null;
  at: number;
}

interface Ctx {
  seed: number;
  now: number;
  windowStart: number;
  avgEvents: number;
  plantRepurchase: boolean;
  cat: Catalog;
  chats: string[];
  interestTop: Map<string, InterestNode>;
  lifecycle: Record<'新客' | '活跃客户' | '沉睡客户' | '流失客户', number>;
  channelTag: Map<string, number>;
  rating: Record<'核心成员' | '活跃成员' | '普通成员' | '观察名单', number>;
  risk: [number, number, number];
  followUp: number;
  agentLead: number;
}

interface InterestNode {
  tagId: number;
  children: InterestNode[];
}

/** The result of one contact: its row and everything that hangs off it, before global ids. */
interface ContactOut {
  contact: ContactRow;
  events: RawEvent[];
  holdings: ContactTagRow[];
  ledger: TagOp[];
}

function pickTeam(r: Rng, kind: ContactKind, cat: Catalog, salesTable: ReturnType<typeof weighted<Team>>): Team {
  if (kind === 'follower' && r.chance(0.7)) return cat.teams.get(MEDIA_DEPT) as Team;
  if (kind === 'group_member' && r.chance(0.6)) return cat.teams.get(COMMUNITY_DEPT) as Team;
  return r.pickWeighted(salesTable);
}

/**
 * Names given to fixed contacts whatever the seed, for examples that must find someone: the
 * README's and the tests' pinyin searches ("zlk", "zhangl", "張麗坤" find 张丽坤). Set after the
 * draws, so no other value of the contact (or of any other contact) changes.
 */
export const SHOWCASE_NAMES: ReadonlyMap<number, string> = new Map([[7, '张丽坤']]);

// Long on purpose: one contact's whole life in the order its random draws are made. The draws'
// order is the dataset (tests and benches pin seeds to it), so reordering them into helpers would
// change every demo; the steps are marked by comments instead.
function makeContact(ctx: Ctx, id: number, salesTable: ReturnType<typeof weighted<Team>>): ContactOut {
  const { now, windowStart, cat } = ctx;
  const r = new Rng(mixSeed(ctx.seed, id));
  const kind = r.pickWeighted(KINDS);
  const externalId = externalIdFor(kind, id, r);

  const gender: Gender = r.chance(kind === 'follower' ? 0.2 : 0.06) ? 'unknown' : r.chance(0.52) ? 'female' : 'male';
  const surname = r.pickWeighted(SURNAMES);
  const givenPool = gender === 'male' ? GIVEN_MALE : gender === 'female' ? GIVEN_FEMALE : GIVEN_UNISEX;
  const given = r.chance(0.7) ? r.pick(GIVEN_UNISEX.concat(givenPool)) + r.pick(givenPool) : r.pick(givenPool);
  const realName = surname + given;
  const drawn = r.chance(NICKNAME_SHARE[kind]) ? r.pick(NICKNAMES) : realName;
  const name = SHOWCASE_NAMES.get(id) ?? drawn;
  // the remark's 张姐 / 王总 follows a showcase name's surname too
  const family = SHOWCASE_NAMES.has(id) ? name.slice(0, 1) : surname;

  const team = pickTeam(r, kind, cat, salesTable);
  const owner = r.pick(team.staffIds);
  let region: string | null;
  let city: string | null;
  if (team.home && r.chance(0.75)) {
    region = team.home.province;
    city = r.pick(team.home.cities);
  } else {
    const p = r.pickWeighted(PROVINCE_TABLE);
    region = p.province;
    city = r.pick(p.cities);
  }
  if (kind === 'follower' && r.chance(0.15)) {
    region = null; // official accounts often only know a follower's openid
    city = null;
  }
  const occupation = r.chance(0.8) ? r.pickWeighted(OCCUPATIONS) : null;
  const company = r.chance(kind === 'wecom_customer' ? 0.7 : kind === 'friend' ? 0.3 : 0.1)
    ? companyName(city ?? '', r.pick(COMPANY_PREFIX), r.pick(COMPANY_PREFIX), r.pick(COMPANY_SUFFIX))
    : null;
  const device = kind === 'follower' && r.chance(0.1) ? null : r.pickWeighted(DEVICE_TABLE);
  let sourceChannel: string | null = r.chance(0.92) ? r.pickWeighted(SOURCE_CHANNELS) : null;
  if (kind === 'follower' && r.chance(0.4)) sourceChannel = '公众号文章';
  if (kind === 'group_member' && r.chance(0.3)) sourceChannel = '社群裂变';

  const remark = r.chance(REMARK_SHARE[kind])
    ? `${family}${r.pick(REMARK_TITLES)}-${r.chance(0.5) && city ? city : regionShort(cat, team)}${r.pick(REMARK_ROLES)}`
    : null;

  const custom: Record<string, string | number> = {};
  if (kind !== 'follower' && r.chance(0.4)) {
    custom.member_level = r.pickWeighted(MEMBER_LEVELS);
    custom.points = r.int(0, 200) * 10;
  }
  if (r.chance(0.15)) custom.birthday_month = r.int(1, 12);

  // 30% were added before the event window (some of them went quiet); the rest arrive over
  // the window, more of them recently (sqrt skews towards now, like a growing account).
  const span = now - windowStart;
  const createdAt = r.chance(0.3)
    ? windowStart - r.int(1, 540) * DAY_MS - r.int(0, DAY_MS - 1)
    : windowStart + Math.floor(Math.sqrt(r.next()) * (span - 10 * MINUTE));

  const events: RawEvent[] = [];
  const ev = (type: EventType, at: number, extra: Partial<RawEvent> = {}) =>
    events.push({ type, at, amount: null, channel: null, groupId: null, text: null, properties: '{}', ...extra });
  const homeChat = r.pick(ctx.chats);
  const joinedChats = new Set<string>([homeChat]);

  if (createdAt >= windowStart) {
    if (sourceChannel?.startsWith('扫码')) ev('qr_scan', createdAt - r.int(5, 60) * 1000, { channel: sourceChannel });
    if (kind === 'friend' || kind === 'wecom_customer') ev('friend_add', createdAt, { channel: sourceChannel });
    else if (kind === 'group_member') ev('group_join', createdAt, { groupId: homeChat });
    else if (sourceChannel === '公众号文章') ev('article_open', createdAt, { text: r.pick(ARTICLE_TITLES), channel: '公众号' });
  }

  const activeStart = Math.max(windowStart, createdAt + MINUTE);
  const lastPossible = now - MINUTE;
  const dormant = createdAt < windowStart && r.chance(0.35);
  const n = dormant ? 0 : powerLawCount(r, ctx.avgEvents);
  // Over half are still active; the others stopped at some point (sleeping / churned).
  const activeEnd = r.chance(0.55) ? lastPossible : activeStart + Math.floor(r.next() * (lastPossible - activeStart));
  const buyer = r.chance(BUYER_SHARE[kind]);
  const bigSpender = buyer && r.chance(0.03);
  const when = () => {
    let t = activeStart + Math.floor(r.next() * (activeEnd - activeStart));
    // People sleep: move most night-time events (01:00–07:00 local) into the day.
    const hour = Math.floor(((t + SHANGHAI_OFFSET_MINUTES * MINUTE) % DAY_MS) / HOUR);
    if (hour >= 1 && hour < 7 && r.chance(0.85) && t + (9 - hour) * HOUR < activeEnd) t += (9 - hour) * HOUR;
    return t;
  };

  if (activeEnd > activeStart) {
    for (let i = 0; i < n; i++) {
      const at = when();
      let type = r.pickWeighted(EVENT_MIX[kind]);
      if (type === 'purchase' && !buyer) type = 'message';
      if (type === 'message' && bigSpender && r.chance(0.3)) type = 'purchase';
      switch (type) {
        case 'message':
          ev('message', at, { text: r.chance(0.14) ? r.pick(MESSAGES_KEYWORD) : r.pick(MESSAGES_PLAIN) });
          break;
        case 'purchase': {
          const amount = priceFen(r, bigSpender);
          ev('purchase', at, {
            amount,
            channel: r.pick(PURCHASE_CHANNELS),
            properties: JSON.stringify({ item: r.pick(PRODUCTS), order_no: `DD${id}-${i}` }),
          });
          break;
        }
        case 'article_open':
          ev('article_open', at, { text: r.pick(ARTICLE_TITLES), channel: '公众号' });
          break;
        case 'qr_scan':
          ev('qr_scan', at, { channel: r.pickWeighted(SOURCE_CHANNELS) });
          break;
        case 'invite':
          ev('invite', at, { groupId: kind === 'group_member' ? homeChat : r.pick(ctx.chats) });
          break;
        case 'group_join': {
          // One stay per chat: a second join of the same chat could interleave with the first
          // stay's leave and produce a leave without a matching membership.
          const chat = r.pick(ctx.chats);
          if (joinedChats.has(chat)) {
            ev('message', at, { text: r.pick(MESSAGES_PLAIN) });
            break;
          }
          joinedChats.add(chat);
          ev('group_join', at, { groupId: chat });
          // A third leave again later; a leave is only ever generated after its join.
          if (r.chance(0.35) && activeEnd - at > 2 * MINUTE) {
            ev('group_leave', at + MINUTE + Math.floor(r.next() * (activeEnd - at - MINUTE)), { groupId: chat });
          }
          break;
        }
        default:
          ev(type, at);
      }
    }
    if (r.chance(VIOLATOR_SHARE[kind])) {
      const v = r.chance(0.5) ? 1 : r.chance(0.5) ? 2 : r.int(3, 6);
      for (let i = 0; i < v; i++) ev('violation', when(), { groupId: homeChat, text: r.pick(VIOLATION_TEXTS) });
    }
  }
  events.sort((a, b) => a.at - b.at);
  if (ctx.plantRepurchase) plantRepurchase(ctx, id, createdAt, region, sourceChannel, events);

  // Aggregates exactly as the worker maintains them on ingest.
  let messageCount = 0,
    purchaseCount = 0,
    totalSpend = 0,
    inviteCount = 0,
    violationCount = 0;
  let lastPurchaseAt: number | null = null,
    lastActiveAt: number | null = null;
  const violationTimes: number[] = [];
  let firstLeadAt: number | null = null,
    agentLeadAt: number | null = null;
  for (const e of events) {
    if (lastActiveAt === null || e.at > lastActiveAt) lastActiveAt = e.at;
    if (e.type === 'message') {
      messageCount++;
      if (firstLeadAt === null && e.text && (e.text.includes('合作') || e.text.includes('代理'))) firstLeadAt = e.at;
      if (agentLeadAt === null && e.text?.includes('代理')) agentLeadAt = e.at;
    } else if (e.type === 'purchase') {
      purchaseCount++;
      totalSpend += e.amount ?? 0;
      if (lastPurchaseAt === null || e.at > lastPurchaseAt) lastPurchaseAt = e.at;
    } else if (e.type === 'invite') inviteCount++;
    else if (e.type === 'violation') {
      violationCount++;
      violationTimes.push(e.at);
    }
  }

  // Tags: holdings and ledger written side by side, each add with its own time and source.
  const holdings: ContactTagRow[] = [];
  const ledger: TagOp[] = [];
  const hold = (tagId: number, source: TagSource, at: number, actor: number | null, batchId: string | null) => {
    holdings.push({ contact_id: id, tag_id: tagId, source, rule_id: null, rule_version: null, added_at: at });
    ledger.push({ tagId, op: 'add', source, actor, batchId, at });
  };
  const held = (tagId: number, source: TagSource, from: number, to: number, actor: number | null, batchId: string | null) => {
    ledger.push({ tagId, op: 'add', source, actor, batchId, at: from });
    ledger.push({ tagId, op: 'remove', source, actor, batchId, at: to });
  };

  const importAt = Math.max(createdAt, now - 3 * DAY_MS);
  const stage =
    createdAt >= now - 14 * DAY_MS
      ? '新客'
      : lastActiveAt !== null && lastActiveAt >= now - 30 * DAY_MS
        ? '活跃客户'
        : lastActiveAt !== null && lastActiveAt >= now - 90 * DAY_MS
          ? '沉睡客户'
          : '流失客户';
  if (createdAt >= windowStart && stage !== '新客') {
    // 新客 depends on nothing but the contact's age, so its history is true. The later stage reads
    // activity up to today (the last 30 / 90 days), so it is known only now: it is imported with
    // the rest (`importAt`), never backdated to the 14th day, when the ledger would say a stage
    // that reads the future was already held (a learner rewound to D − 30 would see the label).
    // (an exclusive group: 新客 ends when the stage arrives, if that is before its 14th day)
    held(ctx.lifecycle.新客, 'import', createdAt, Math.min(createdAt + 14 * DAY_MS, importAt), null, 'demo-import-lifecycle');
    hold(ctx.lifecycle[stage], 'import', importAt, null, 'demo-import-lifecycle');
  } else {
    hold(ctx.lifecycle[stage], 'import', stage === '新客' ? createdAt : importAt, null, 'demo-import-lifecycle');
  }

  if (sourceChannel !== null) hold(ctx.channelTag.get(sourceChannel) as number, 'import', createdAt, null, 'demo-import-channel');

  const taggableFrom = Math.max(createdAt, windowStart);
  const manualAt = () => taggableFrom + Math.floor(r.next() * (lastPossible - taggableFrom));
  if (r.chance(0.45)) {
    const interests = new Set<number>();
    const k = r.chance(0.6) ? 1 : r.chance(0.6) ? 2 : 3;
    for (let i = 0; i < k; i++) interests.add(pickInterest(r, ctx, gender, occupation));
    for (const tagId of interests) hold(tagId, 'manual', manualAt(), owner, null);
    if (r.chance(0.12) && lastPossible - 2 * DAY_MS > taggableFrom) {
      // Tagged by mistake and corrected within two days.
      const wrong = pickInterest(r, ctx, gender, occupation);
      const from = taggableFrom + Math.floor(r.next() * (lastPossible - 2 * DAY_MS - taggableFrom));
      if (!interests.has(wrong)) held(wrong, 'manual', from, from + r.int(1, 47) * HOUR, owner, null);
    }
  }

  if (kind === 'group_member') {
    const rating =
      violationCount >= 2
        ? '观察名单'
        : messageCount >= 40 || (messageCount >= 20 && inviteCount >= 2)
          ? '核心成员'
          : messageCount >= 8
            ? '活跃成员'
            : messageCount >= 1
              ? '普通成员'
              : null;
    if (rating) hold(ctx.rating[rating], 'import', Math.max(createdAt, now - DAY_MS), null, 'demo-import-score');
  }

  // Violation ladder: warn at the 1st, mute at the 3rd, remove from the group at the 5th.
  const [warn, mute, kick] = ctx.risk;
  const ladder: [number, number][] = [
    [1, warn],
    [3, mute],
    [5, kick],
  ];
  let current: { tagId: number; at: number } | null = null;
  for (const [nth, tagId] of ladder) {
    const at = violationTimes[nth - 1];
    if (at === undefined) break;
    if (current) held(current.tagId, 'manual', current.at, at, owner, null);
    current = { tagId, at };
  }
  if (current) hold(current.tagId, 'manual', current.at, owner, null);

  if (firstLeadAt !== null && r.chance(0.6))
    hold(ctx.followUp, 'manual', Math.min(lastPossible, firstLeadAt + r.int(5, 120) * MINUTE), owner, null);
  if (agentLeadAt !== null && r.chance(0.4))
    hold(ctx.agentLead, 'manual', Math.min(lastPossible, agentLeadAt + r.int(10, 300) * MINUTE), owner, null);

  const campaign = cat.retiredCampaign;
  if (createdAt < campaign.startedAt && r.chance(0.08)) {
    const from = campaign.startedAt + Math.floor(r.next() * (campaign.retiredAt - campaign.startedAt));
    ledger.push({ tagId: campaign.tagId, op: 'add', source: 'import', actor: null, batchId: 'demo-campaign-1111', at: from });
    ledger.push({ tagId: campaign.tagId, op: 'remove', source: 'manual', actor: 1, batchId: 'demo-retire-1111', at: campaign.retiredAt });
  }
  // Stable sort: a remove and the add that replaces it at the same instant keep their order.
  ledger.sort((a, b) => a.at - b.at);

  let updatedAt = Math.max(createdAt, lastActiveAt ?? createdAt);
  for (const op of ledger) if (op.at > updatedAt) updatedAt = op.at;

  const contact: ContactRow = {
    id,
    kind,
    external_id: externalId,
    name,
    remark,
    gender,
    region,
    city,
    occupation,
    company,
    device,
    source_channel: sourceChannel,
    department_id: team.departmentId,
    owner_user_id: owner,
    custom: JSON.stringify(custom),
    bucket: bucketOf(externalId),
    created_at: createdAt,
    updated_at: updatedAt,
    last_active_at: lastActiveAt,
    message_count: messageCount,
    purchase_count: purchaseCount,
    total_spend: totalSpend,
    last_purchase_at: lastPurchaseAt,
    invite_count: inviteCount,
    violation_count: violationCount,
  };
  return { contact, events, holdings, ledger };
}

/**
 * Rewrites the contact's purchases of the last 30 days so that whether it buys follows the planted
 * rule (`planted.ts`) with noise: adds one purchase when it should buy and has none, drops them when
 * it should not. Its own PRNG stream, drawn after everything else, so no other draw moves; contacts
 * added in those 30 days are left alone (they did not exist when the features are taken).
 */
function plantRepurchase(ctx: Ctx, id: number, createdAt: number, region: string | null, channel: string | null, events: RawEvent[]): void {
  const p = PLANTED_REPURCHASE;
  const asOfDay = dayNumber(ctx.now, SHANGHAI_OFFSET_MINUTES) - p.labelDays;
  const asOfEnd = dayStartMs(asOfDay + 1, SHANGHAI_OFFSET_MINUTES) - 1;
  if (createdAt > asOfEnd) return;
  let spend60 = 0;
  let bought = false;
  for (const e of events) {
    if (e.type !== 'purchase') continue;
    const day = dayNumber(e.at, SHANGHAI_OFFSET_MINUTES);
    if (day > asOfDay) bought = true;
    else if (day > asOfDay - p.spendDays) spend60 += e.amount ?? 0;
  }
  const r = new Rng(mixSeed(ctx.seed ^ 0x1f83d9ab, id));
  const buys = plantedRepurchase({ region, sourceChannel: channel, spend60 }) ? !r.chance(p.missRate) : r.chance(p.buyOtherwise);
  if (buys && !bought) {
    const at = asOfEnd + 1 + Math.floor(r.next() * (ctx.now - MINUTE - asOfEnd - 1));
    events.push({
      type: 'purchase',
      at,
      amount: priceFen(r, false),
      channel: r.pick(PURCHASE_CHANNELS),
      groupId: null,
      text: null,
      properties: JSON.stringify({ item: r.pick(PRODUCTS), order_no: `DD${id}-r` }),
    });
    events.sort((a, b) => a.at - b.at);
  } else if (!buys && bought) {
    for (let i = events.length - 1; i >= 0; i--) {
      const e = events[i] as RawEvent;
      if (e.type === 'purchase' && e.at > asOfEnd) events.splice(i, 1);
    }
  }
}

function regionShort(cat: Catalog, team: Team): string {
  const dept = cat.departments.find((d) => d.id === team.departmentId);
  const parent = dept?.parent_id ? cat.departments.find((d) => d.id === dept.parent_id) : undefined;
  return parent && parent.id !== 1 ? parent.name.replace('大区', '') : (team.home?.cities[0] ?? '全国');
}

/** Interests follow gender and occupation loosely, then descend the hierarchy at random. */
function pickInterest(r: Rng, ctx: Ctx, gender: Gender, occupation: string | null): number {
  const w: [string, number][] =
    gender === 'female'
      ? [
          ['美妆', 50],
          ['母婴', occupation === '全职妈妈' ? 60 : 18],
          ['食品', 20],
          ['数码', 12],
        ]
      : gender === 'male'
        ? [
            ['数码', 55],
            ['食品', 25],
            ['美妆', 8],
            ['母婴', 8],
          ]
        : [
            ['美妆', 25],
            ['数码', 25],
            ['母婴', 20],
            ['食品', 30],
          ];
  let node = ctx.interestTop.get(r.pickWeighted(weighted(w))) as InterestNode;
  while (node.children.length > 0 && r.chance(0.65)) node = r.pick(node.children);
  return node.tagId;
}

function buildCtx(opts: Required<Omit<DemoOptions, 'batchSize'>>, cat: Catalog): Ctx {
  const t = (g: string, n: string) => cat.tagId(g, n);
  const toNode = (spec: (typeof INTEREST_TREE)[number]): InterestNode => ({
    tagId: t('兴趣偏好', spec.name),
    children: (spec.children ?? []).map(toNode),
  });
  const chatCount = Math.max(8, Math.ceil(opts.contacts / 150));
  const chats: string[] = [];
  for (let i = 0; i < chatCount; i++) chats.push(chatId(opts.seed, i));
  return {
    seed: opts.seed,
    now: opts.now,
    windowStart: opts.now - opts.days * DAY_MS,
    avgEvents: opts.avgEvents,
    plantRepurchase: opts.plantRepurchase,
    cat,
    chats,
    interestTop: new Map(INTEREST_TREE.map((s) => [s.name, toNode(s)])),
    lifecycle: {
      新客: t('生命周期', '新客'),
      活跃客户: t('生命周期', '活跃客户'),
      沉睡客户: t('生命周期', '沉睡客户'),
      流失客户: t('生命周期', '流失客户'),
    },
    channelTag: new Map(SOURCE_CHANNELS.items.map((c) => [c, t('来源渠道', c)])),
    rating: {
      核心成员: t('群成员评级', '核心成员'),
      活跃成员: t('群成员评级', '活跃成员'),
      普通成员: t('群成员评级', '普通成员'),
      观察名单: t('群成员评级', '观察名单'),
    },
    risk: [t('风险', '违规警告'), t('风险', '禁言'), t('风险', '移出群聊')],
    followUp: t('运营标记', '待跟进'),
    agentLead: t('运营标记', '意向代理'),
  };
}

/**
 * Streams the demo dataset: one `static` part (organisation, catalog), then `batch` parts of
 * `batchSize` contacts with their events, daily rollups and tags, then one `final` part with
 * `tags.last_applied_at` and the event source's counters (only known at the end).
 * Deterministic: the same options give identical parts.
 */
// Long on purpose: the parts are yielded in one pass so the seeded draws stay in order (see makeContact).
export function* generateDemo(options: DemoOptions): Generator<DemoPart, void, undefined> {
  const opts = {
    contacts: options.contacts,
    seed: options.seed ?? 1,
    now: options.now,
    days: options.days ?? 180,
    avgEvents: options.avgEvents ?? 12,
    plantRepurchase: options.plantRepurchase ?? true,
  };
  const batchSize = options.batchSize ?? 1000;
  if (!Number.isInteger(opts.contacts) || opts.contacts < 0) throw new RangeError('contacts must be a whole number ≥ 0');
  if (!Number.isInteger(opts.now) || !Number.isInteger(opts.days) || opts.days < 1)
    throw new RangeError('now and days must be whole numbers');
  if (!(opts.avgEvents >= 0) || !Number.isInteger(batchSize) || batchSize < 1) throw new RangeError('bad avgEvents or batchSize');

  const cat = buildCatalog(opts.now, SOURCE_CHANNELS.items);
  const ctx = buildCtx(opts, cat);
  const salesTable = weighted(cat.salesTeams.map((tm) => [tm, tm.salesWeight] as const));
  const stat: DemoStatic = {
    departments: cat.departments,
    users: cat.users,
    eventSources: cat.eventSources,
    customFields: cat.customFields,
    tagGroups: cat.tagGroups,
    tags: cat.tags,
  };
  yield { kind: 'static', data: stat };

  let eventId = 1;
  let ledgerId = 1;
  let lastEventAt: number | null = null;
  const tagLast = new Map<number, number>();
  for (let start = 1; start <= opts.contacts; start += batchSize) {
    const batch: DemoBatch = { contacts: [], events: [], dailyStats: [], contactTags: [], tagLedger: [] };
    const end = Math.min(opts.contacts, start + batchSize - 1);
    for (let id = start; id <= end; id++) {
      const out = makeContact(ctx, id, salesTable);
      batch.contacts.push(out.contact);
      const r = new Rng(mixSeed(opts.seed ^ 0x2545f491, id));
      const daily = new Map<string, DailyStatRow>();
      out.events.forEach((e, i) => {
        const receivedAt = e.at + r.int(1000, 8999);
        if (lastEventAt === null || receivedAt > lastEventAt) lastEventAt = receivedAt;
        const row: EventRow = {
          id: eventId++,
          source_id: 'demo',
          sender_event_id: `evt_${id.toString(36)}_${i.toString(36)}`,
          contact_id: id,
          type: e.type,
          occurred_at: e.at,
          received_at: receivedAt,
          amount: e.amount,
          channel: e.channel,
          group_id: e.groupId,
          text: e.text,
          properties: e.properties,
        };
        batch.events.push(row);
        const day = dayNumber(e.at, SHANGHAI_OFFSET_MINUTES);
        const key = `${e.type}|${day}`;
        const s = daily.get(key);
        if (s) {
          s.count++;
          s.amount += e.amount ?? 0;
        } else daily.set(key, { contact_id: id, type: e.type, day, count: 1, amount: e.amount ?? 0 });
      });
      batch.dailyStats.push(...daily.values());
      batch.contactTags.push(...out.holdings);
      for (const op of out.ledger) {
        const row: TagLedgerRow = {
          id: ledgerId++,
          contact_id: id,
          tag_id: op.tagId,
          op: op.op,
          source: op.source,
          rule_id: null,
          rule_version: null,
          actor_user_id: op.actor,
          batch_id: op.batchId,
          at: op.at,
        };
        batch.tagLedger.push(row);
        if (op.op === 'add' && (tagLast.get(op.tagId) ?? -Infinity) < op.at) tagLast.set(op.tagId, op.at);
      }
    }
    yield { kind: 'batch', data: batch };
  }

  const final: DemoTagsApplied = {
    tags: [...tagLast.entries()].sort((a, b) => a[0] - b[0]).map(([id, at]) => ({ id, last_applied_at: at })),
    eventSource: { id: 'demo', last_event_at: lastEventAt, event_count: eventId - 1 },
  };
  yield { kind: 'final', data: final };
}

/** The whole dataset in memory, with the final updates applied: for tests and small demos. */
export interface DemoDataset extends DemoStatic, DemoBatch {}

/** Collects `generateDemo` into arrays (tags carry their `last_applied_at`). Small sizes only. */
export function collectDemo(options: DemoOptions): DemoDataset {
  const all: DemoDataset = {
    departments: [],
    users: [],
    eventSources: [],
    customFields: [],
    tagGroups: [],
    tags: [],
    contacts: [],
    events: [],
    dailyStats: [],
    contactTags: [],
    tagLedger: [],
  };
  for (const part of generateDemo(options)) {
    if (part.kind === 'static') {
      all.departments = part.data.departments.map((d) => ({ ...d }));
      all.users = part.data.users.map((u) => ({ ...u }));
      all.eventSources = part.data.eventSources.map((s) => ({ ...s }));
      all.customFields = part.data.customFields.map((f) => ({ ...f }));
      all.tagGroups = part.data.tagGroups.map((g) => ({ ...g }));
      all.tags = part.data.tags.map((t): TagRow => ({ ...t }));
    } else if (part.kind === 'batch') {
      for (const k of ['contacts', 'events', 'dailyStats', 'contactTags', 'tagLedger'] as const) {
        (all[k] as unknown[]).push(...part.data[k]);
      }
    } else {
      for (const t of part.data.tags) {
        const tag = all.tags.find((x) => x.id === t.id);
        if (tag) tag.last_applied_at = t.last_applied_at;
      }
      const src = all.eventSources.find((s) => s.id === part.data.eventSource.id);
      if (src) Object.assign(src, part.data.eventSource);
    }
  }
  return all;
}
