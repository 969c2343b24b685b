/**
 * A deterministic demo corp: the same seed gives the same members, customers, remarks, tags,
 * channels and group chats, byte for byte, so tests and benches can name what they expect.
 *
 * Field values follow 「获取客户详情」 (add_way codes, `state`, type 1 微信 / 2 企业微信) and
 * 「获取客户群详情」 (member type, join_scene), on developer.work.weixin.qq.com.
 */
import { addRelation, emptyCorp, type Corp, type CorpTag, type GroupChat, type GroupChatMember, type TagGroup } from './state';

export interface SeedOptions {
  corpid?: string;
  name?: string;
  /** anything: the same value gives the same corp */
  seed?: string | number;
  followUsers?: number;
  contacts?: number;
  chats?: number;
  /** share of contacts added by a second follow user too (0..1) */
  sharedShare?: number;
  contactSecret?: string;
  agentid?: number;
  agentSecret?: string;
  /** the self-built app is listed in 客户联系 → 可调用接口的应用 (default true) */
  agentContactApi?: boolean;
  /** time the corp's history ends at (seconds); create times fall in the 180 days before */
  nowSeconds?: number;
}

export const DEMO_CORP_ID = 'wwsegflowdemo0001';

/** mulberry32 over a 32-bit FNV-1a hash of the seed: small, fast and the same everywhere. */
export function rng(seed: string | number): () => number {
  let h = 0x811c9dc5;
  for (const ch of String(seed)) {
    h ^= ch.codePointAt(0) as number;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  let a = h;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SURNAMES: [string, string][] = [
  ['王', 'Wang'],
  ['李', 'Li'],
  ['张', 'Zhang'],
  ['刘', 'Liu'],
  ['陈', 'Chen'],
  ['杨', 'Yang'],
  ['黄', 'Huang'],
  ['赵', 'Zhao'],
  ['吴', 'Wu'],
  ['周', 'Zhou'],
  ['徐', 'Xu'],
  ['孙', 'Sun'],
  ['马', 'Ma'],
  ['朱', 'Zhu'],
  ['胡', 'Hu'],
  ['郭', 'Guo'],
  ['何', 'He'],
  ['林', 'Lin'],
  ['罗', 'Luo'],
  ['高', 'Gao'],
  ['郑', 'Zheng'],
  ['梁', 'Liang'],
  ['谢', 'Xie'],
  ['宋', 'Song'],
  ['唐', 'Tang'],
  ['许', 'Xu'],
  ['韩', 'Han'],
  ['冯', 'Feng'],
  ['邓', 'Deng'],
  ['曹', 'Cao'],
  ['彭', 'Peng'],
  ['曾', 'Zeng'],
  ['萧', 'Xiao'],
  ['田', 'Tian'],
  ['董', 'Dong'],
  ['潘', 'Pan'],
  ['袁', 'Yuan'],
  ['蔡', 'Cai'],
  ['蒋', 'Jiang'],
  ['余', 'Yu'],
  ['于', 'Yu'],
  ['杜', 'Du'],
  ['叶', 'Ye'],
  ['程', 'Cheng'],
  ['魏', 'Wei'],
  ['苏', 'Su'],
  ['吕', 'Lv'],
  ['丁', 'Ding'],
  ['任', 'Ren'],
  ['沈', 'Shen'],
  ['姚', 'Yao'],
  ['卢', 'Lu'],
  ['欧阳', 'OuYang'],
  ['司马', 'SiMa'],
];
const GIVEN: [string, string][] = [
  ['伟', 'Wei'],
  ['芳', 'Fang'],
  ['娜', 'Na'],
  ['秀英', 'XiuYing'],
  ['敏', 'Min'],
  ['静', 'Jing'],
  ['丽', 'Li'],
  ['强', 'Qiang'],
  ['磊', 'Lei'],
  ['军', 'Jun'],
  ['洋', 'Yang'],
  ['勇', 'Yong'],
  ['艳', 'Yan'],
  ['杰', 'Jie'],
  ['娟', 'Juan'],
  ['涛', 'Tao'],
  ['明', 'Ming'],
  ['超', 'Chao'],
  ['秀兰', 'XiuLan'],
  ['霞', 'Xia'],
  ['平', 'Ping'],
  ['刚', 'Gang'],
  ['桂英', 'GuiYing'],
  ['婷', 'Ting'],
  ['浩然', 'HaoRan'],
  ['子涵', 'ZiHan'],
  ['欣怡', 'XinYi'],
  ['梓轩', 'ZiXuan'],
  ['雨桐', 'YuTong'],
  ['思远', 'SiYuan'],
  ['嘉怡', 'JiaYi'],
  ['俊杰', 'JunJie'],
  ['晓燕', 'XiaoYan'],
  ['建国', 'JianGuo'],
  ['海燕', 'HaiYan'],
  ['志强', 'ZhiQiang'],
  ['玉兰', 'YuLan'],
  ['文博', 'WenBo'],
  ['凯', 'Kai'],
  ['一鸣', 'YiMing'],
  ['佳琪', 'JiaQi'],
  ['宇航', 'YuHang'],
  ['诗涵', 'ShiHan'],
  ['明轩', 'MingXuan'],
  ['若曦', 'RuoXi'],
];
const NICKNAMES = ['小鱼儿', '向日葵', 'Lily', '阳光', '追梦人', 'Kevin', '晴天', '木木', '安静的猫', 'Grace', '老陈', '大橙子'];
const CITIES = ['北京', '上海', '广州', '深圳', '杭州', '成都', '南京', '武汉', '西安', '苏州'];
const COMPANIES = ['腾云科技', '星河教育', '华瑞零售', '远航物流', '汇金财富', '康宁医疗', '锦程制造', '青禾餐饮'];
const REMARK_NOTES = ['老客户', '意向强', '已报价', '待回访', '门店到访', '转介绍', '价格敏感', '决策人'];

/** The tag library of the demo corp: 企业客户标签 groups, as a marketer would set them up. */
export const DEMO_TAG_LIBRARY: { group: string; tags: string[] }[] = [
  { group: '客户等级', tags: ['重要客户', '普通客户', '潜在客户'] },
  { group: '客户来源', tags: ['线下门店', '官网咨询', '抖音直播', '朋友推荐', '展会'] },
  { group: '意向产品', tags: ['基础版', '专业版', '企业版'] },
  { group: '生命周期', tags: ['新客', '活跃', '沉睡', '流失'] },
  { group: '行业', tags: ['教育', '零售', '金融', '医疗', '制造'] },
  { group: '地区', tags: ['华北', '华东', '华南', '西南', '华中'] },
];

/** `state` values of 「联系我」 QR codes (channels), with the add_way they come with. */
const CHANNELS: { state?: string; add_way: number }[] = [
  { state: 'store_sh_qr', add_way: 1 },
  { state: 'store_bj_qr', add_way: 1 },
  { state: 'web_chat', add_way: 1 },
  { state: 'douyin_live_1206', add_way: 1 },
  { state: 'poster_2026q4', add_way: 1 },
  { state: 'acq_link_ads', add_way: 16 },
  { add_way: 2 }, // 搜索手机号
  { add_way: 3 }, // 名片分享
  { add_way: 4 }, // 群聊
  { add_way: 5 }, // 手机通讯录
  { add_way: 6 }, // 微信联系人
  { add_way: 202 }, // 管理员/负责人分配
  { add_way: 0 }, // 未知来源
];

const ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A WeCom-looking opaque id: a prefix (wm external contact, wr group chat, et corp tag) and 30 characters. */
export function opaqueId(prefix: string, next: () => number, length = 32): string {
  let s = prefix;
  while (s.length < length) s += ID_CHARS[Math.floor(next() * ID_CHARS.length)];
  return s;
}

/** Builds a corp from a seed. Nothing else is random: the same options give the same corp. */
export function seedCorp(opts: SeedOptions = {}): Corp {
  // Long on purpose: the seeded draws in one pass, so the same seed gives the same corp (tests pin it).
  const next = rng(opts.seed ?? 1);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
  const corpid = opts.corpid ?? DEMO_CORP_ID;
  const agentid = opts.agentid ?? 1000002;
  const corp = emptyCorp(corpid, {
    name: opts.name ?? '示例科技有限公司',
    contactSecret: opts.contactSecret ?? `${corpid}-contact-secret`,
    agents: [{ agentid, secret: opts.agentSecret ?? `${corpid}-agent-secret`, contactApi: opts.agentContactApi ?? true }],
  });
  const now = opts.nowSeconds ?? 1_796_000_000; // 2026-11-30, fixed so the seed alone decides
  const day = 86_400;
  const start = now - 180 * day;

  // Members with 客户联系 enabled.
  const userCount = opts.followUsers ?? 5;
  const taken = new Set<string>();
  for (let i = 0; i < userCount; i++) {
    const [sz, sp] = pick(SURNAMES);
    const [gz, gp] = pick(GIVEN);
    let userid = `${sp}${gp}`;
    for (let n = 2; taken.has(userid); n++) userid = `${sp}${gp}${n}`;
    taken.add(userid);
    corp.followUsers.set(userid, { userid, name: `${sz}${gz}` });
  }
  const userids = [...corp.followUsers.keys()];

  // The corp tag library, created by an admin in WeCom's console (so no app may edit it).
  let groupOrder = DEMO_TAG_LIBRARY.length;
  const tagsByGroup: CorpTag[][] = [];
  for (const { group, tags } of DEMO_TAG_LIBRARY) {
    const g: TagGroup = {
      group_id: opaqueId('et', next),
      group_name: group,
      create_time: start - 30 * day,
      order: groupOrder--,
      deleted: false,
      createdBy: 'admin',
    };
    corp.tagGroups.set(g.group_id, g);
    const list: CorpTag[] = [];
    tags.forEach((name, i) => {
      const t: CorpTag = {
        id: opaqueId('et', next),
        group_id: g.group_id,
        name,
        create_time: g.create_time,
        order: tags.length - i,
        deleted: false,
        createdBy: 'admin',
      };
      corp.tags.set(t.id, t);
      list.push(t);
    });
    tagsByGroup.push(list);
  }

  // External contacts with one follow user each, some with a second one.
  const contactCount = opts.contacts ?? 200;
  const shared = opts.sharedShare ?? 0.15;
  const extIds: string[] = [];
  for (let i = 0; i < contactCount; i++) {
    const [sz] = pick(SURNAMES);
    const [gz] = pick(GIVEN);
    const realName = `${sz}${gz}`;
    const isWecomUser = next() < 0.08;
    const gender = (next() < 0.5 ? 1 : 2) as 1 | 2;
    const external_userid = opaqueId('wm', next);
    extIds.push(external_userid);
    const company = pick(COMPANIES);
    corp.contacts.set(external_userid, {
      external_userid,
      name: next() < 0.3 ? pick(NICKNAMES) : realName,
      type: isWecomUser ? 2 : 1,
      avatar: `https://wework.qpic.cn/wwhead/sim-${external_userid.slice(2, 10)}/0`,
      gender: next() < 0.05 ? 0 : gender,
      unionid: next() < 0.7 ? opaqueId('o', next, 28) : undefined,
      ...(isWecomUser
        ? { corp_name: company, corp_full_name: `${pick(CITIES)}${company}有限公司`, position: pick(['经理', '采购', '总监']) }
        : {}),
    });
    const owners = [pick(userids)];
    if (userids.length > 1 && next() < shared) {
      const second = pick(userids.filter((u) => u !== owners[0]));
      owners.push(second);
    }
    for (const userid of owners) {
      const channel = pick(CHANNELS);
      const tagIds: string[] = [];
      for (const list of tagsByGroup) if (next() < 0.35) tagIds.push(pick(list).id);
      const title = gender === 1 ? '先生' : '女士';
      addRelation(corp, {
        userid,
        external_userid,
        remark: next() < 0.6 ? `${sz}${title}-${pick(CITIES)}${next() < 0.5 ? `（${pick(REMARK_NOTES)}）` : ''}` : '',
        description: next() < 0.3 ? `${pick(CITIES)}${pick(COMPANIES)}，${pick(REMARK_NOTES)}` : '',
        createtime: start + Math.floor(next() * 180 * day),
        tagIds,
        remark_corp_name: next() < 0.25 ? company : undefined,
        remark_mobiles:
          next() < 0.2
            ? [
                `13${Math.floor(next() * 1e9)
                  .toString()
                  .padStart(9, '0')}`,
              ]
            : [],
        add_way: channel.add_way,
        oper_userid: channel.add_way === 202 ? userid : next() < 0.5 ? userid : external_userid,
        ...(channel.state ? { state: channel.state } : {}),
      });
    }
  }

  // Customer group chats (客户群) owned by follow users, with members and external contacts.
  const chatCount = opts.chats ?? 10;
  for (let i = 0; i < chatCount; i++) {
    const owner = pick(userids);
    const create_time = start + Math.floor(next() * 150 * day);
    const members: GroupChatMember[] = [
      { userid: owner, type: 1, join_time: create_time, join_scene: 1, group_nickname: '', name: corp.followUsers.get(owner)!.name },
    ];
    const seen = new Set([owner]);
    const size = 3 + Math.floor(next() * 20);
    for (let m = 0; m < size; m++) {
      const internal = next() < 0.15 && userids.length > 1;
      const userid = internal ? pick(userids) : extIds.length ? pick(extIds) : pick(userids);
      if (seen.has(userid)) continue;
      seen.add(userid);
      const isMember = corp.followUsers.has(userid);
      members.push({
        userid,
        type: isMember ? 1 : 2,
        join_time: create_time + Math.floor(next() * 20 * day),
        join_scene: (1 + Math.floor(next() * 3)) as 1 | 2 | 3,
        invitor: { userid: owner },
        group_nickname: next() < 0.2 ? pick(NICKNAMES) : '',
        name: isMember ? corp.followUsers.get(userid)!.name : corp.contacts.get(userid)!.name,
        ...(!isMember && corp.contacts.get(userid)!.unionid ? { unionid: corp.contacts.get(userid)!.unionid } : {}),
      });
    }
    const chat: GroupChat = {
      seq: ++corp.chatSeq,
      memberVersion: 1,
      chat_id: opaqueId('wr', next),
      name: `${pick(CITIES)}${pick(['VIP客户群', '新品体验群', '会员福利群', '售后服务群', '家长交流群'])}${i + 1}`,
      owner,
      create_time,
      notice: next() < 0.5 ? '欢迎加入！群内请勿发广告，有问题请@群主。' : '',
      member_list: members,
      admin_list: [],
      status: 0,
    };
    corp.chats.set(chat.chat_id, chat);
  }
  corp.seq = 0;
  return corp;
}
