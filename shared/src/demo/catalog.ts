/**
 * The fixed part of the demo: organisation (departments, users), tag groups and tags, custom
 * fields and the event source. Ids are fixed so tests and docs can refer to them.
 */
import { DAY_MS } from '../time';
import { STAFF_NAMES } from './names';
import type { CustomFieldRow, DepartmentRow, EventSourceRow, TagGroupRow, TagRow, UserRow } from './types';

interface DeptSpec {
  id: number;
  name: string;
  parent: number | null;
  /** Where this team's contacts mostly live; null = nationwide. */
  home?: { province: string; cities: string[] };
  /** Staff count; 0 = managed by an admin only. */
  staff: number;
  /** Weight among sales teams for friends / WeCom customers. */
  salesWeight?: number;
}

const DEPTS: DeptSpec[] = [
  { id: 1, name: '总部', parent: null, staff: 0 },
  { id: 2, name: '华东大区', parent: 1, staff: 0 },
  { id: 3, name: '上海销售一组', parent: 2, home: { province: '上海', cities: ['上海'] }, staff: 2, salesWeight: 14 },
  { id: 4, name: '上海销售二组', parent: 2, home: { province: '上海', cities: ['上海'] }, staff: 2, salesWeight: 10 },
  { id: 5, name: '杭州销售组', parent: 2, home: { province: '浙江', cities: ['杭州', '绍兴', '宁波'] }, staff: 2, salesWeight: 9 },
  { id: 6, name: '南京销售组', parent: 2, home: { province: '江苏', cities: ['南京', '苏州', '无锡'] }, staff: 2, salesWeight: 8 },
  { id: 7, name: '华南大区', parent: 1, staff: 0 },
  { id: 8, name: '广州销售组', parent: 7, home: { province: '广东', cities: ['广州', '佛山'] }, staff: 2, salesWeight: 10 },
  { id: 9, name: '深圳销售组', parent: 7, home: { province: '广东', cities: ['深圳', '东莞'] }, staff: 2, salesWeight: 10 },
  { id: 10, name: '华北大区', parent: 1, staff: 0 },
  { id: 11, name: '北京销售一组', parent: 10, home: { province: '北京', cities: ['北京'] }, staff: 2, salesWeight: 9 },
  { id: 12, name: '西南大区', parent: 1, staff: 0 },
  { id: 13, name: '成都销售组', parent: 12, home: { province: '四川', cities: ['成都', '绵阳'] }, staff: 2, salesWeight: 6 },
  { id: 14, name: '社群运营部', parent: 1, staff: 3 },
  { id: 15, name: '新媒体部', parent: 1, staff: 2 },
];

/** Department that owns most group members (community operations). */
export const COMMUNITY_DEPT = 14;

/** Every demo user signs in with this password locally (admin@segflow.demo is the super admin). */
export const DEMO_PASSWORD = 'segflow-demo';
/** Department that owns most official-account followers. */
export const MEDIA_DEPT = 15;

/** A team that owns contacts, with its staff (contact owners) and home region. */
export interface Team {
  departmentId: number;
  staffIds: number[];
  home: { province: string; cities: string[] } | null;
  salesWeight: number;
}

/** Everything fixed in the demo, plus lookups the contact generator needs. */
export interface Catalog {
  departments: DepartmentRow[];
  users: UserRow[];
  teams: Map<number, Team>;
  salesTeams: Team[];
  eventSources: EventSourceRow[];
  customFields: CustomFieldRow[];
  tagGroups: TagGroupRow[];
  tags: TagRow[];
  /** Tag id by `${group name}/${tag name}`. */
  tagId: (group: string, name: string) => number;
  /** The retired campaign tag and when it was retired (for add-then-remove histories). */
  retiredCampaign: { tagId: number; retiredAt: number; startedAt: number };
}

interface GroupSpec {
  name: string;
  description: string;
  color: string;
  exclusive: boolean;
  /** Least role that may apply the group's tags by hand (see tag_groups.apply_role). */
  applyRole: 'staff' | 'dept_admin' | 'super_admin';
  editRole?: 'dept_admin' | 'super_admin';
  departmentId?: number;
  /** Tags; a nested array gives children (levels 2 and 3). */
  tags: TagSpec[];
}
interface TagSpec {
  name: string;
  description?: string;
  children?: TagSpec[];
  retired?: boolean;
}

/** Interest hierarchy: industry › sub-field › behaviour, as PRODUCT.md describes. */
export const INTEREST_TREE: TagSpec[] = [
  {
    name: '美妆',
    children: [
      { name: '护肤', children: [{ name: '抗老' }, { name: '美白' }, { name: '敏感肌' }] },
      { name: '彩妆', children: [{ name: '口红' }, { name: '底妆' }] },
    ],
  },
  {
    name: '数码',
    children: [
      { name: '手机', children: [{ name: '旗舰机' }, { name: '性价比机' }] },
      { name: '电脑', children: [{ name: '游戏本' }, { name: '轻薄本' }] },
    ],
  },
  { name: '母婴', children: [{ name: '奶粉', children: [{ name: '进口奶粉' }] }, { name: '童装' }] },
  { name: '食品', children: [{ name: '零食' }, { name: '茶饮' }] },
];

function groupSpecs(channels: readonly string[]): GroupSpec[] {
  return [
    {
      name: '生命周期',
      description: '按最近互动时间划分的客户阶段，每人只属于一个阶段',
      color: '#409eff',
      exclusive: true,
      applyRole: 'dept_admin',
      tags: [{ name: '新客' }, { name: '活跃客户' }, { name: '沉睡客户' }, { name: '流失客户' }, { name: '待激活' }],
    },
    // Held by nobody on purpose: the RFM rules fill these, and a UI test publishes
    // "近30天消费 ≥ ¥1000 → 高价值客户" and checks exactly who gains it. Protected: only department
    // admins (regional managers) and above apply it by hand; only super admins edit it.
    {
      name: '价值分层',
      description: '按消费金额与频次划分（RFM），由规则维护',
      color: '#e6a23c',
      exclusive: true,
      applyRole: 'dept_admin',
      editRole: 'super_admin',
      tags: [{ name: '高价值客户' }, { name: '潜力客户' }, { name: '普通客户' }],
    },
    {
      name: '来源渠道',
      description: '客户首次添加的渠道',
      color: '#67c23a',
      exclusive: true,
      applyRole: 'dept_admin',
      tags: channels.map((c) => ({ name: c })),
    },
    {
      name: '兴趣偏好',
      description: '行业 › 细分领域 › 行为，三级标签',
      color: '#b37feb',
      exclusive: false,
      applyRole: 'staff',
      tags: INTEREST_TREE,
    },
    {
      name: '群成员评级',
      description: '群成员综合评分：发言30% 内容25% 活动20% 邀请15% 违规10%',
      color: '#13c2c2',
      exclusive: true,
      applyRole: 'dept_admin',
      departmentId: COMMUNITY_DEPT,
      tags: [{ name: '核心成员' }, { name: '活跃成员' }, { name: '普通成员' }, { name: '观察名单' }],
    },
    {
      name: '风险',
      description: '违规阶梯：警告 → 禁言 → 移出',
      color: '#f56c6c',
      exclusive: true,
      applyRole: 'staff',
      tags: [{ name: '违规警告' }, { name: '禁言' }, { name: '移出群聊' }],
    },
    {
      name: '运营标记',
      description: '运营人员手动标记',
      color: '#909399',
      exclusive: false,
      applyRole: 'staff',
      tags: [
        { name: 'VIP' },
        { name: '待跟进' },
        { name: '意向代理' },
        { name: '双11预热', description: '2023 双11 活动，已退役', retired: true },
      ],
    },
  ];
}

/** Builds the fixed rows relative to `now` (so a demo made today looks like today). */
// Long on purpose: a table of the demo's fixed rows (departments, users, tag groups) written as code,
// read top to bottom; splitting it would scatter one table.
export function buildCatalog(now: number, channels: readonly string[]): Catalog {
  const deptCreated = now - 900 * DAY_MS;
  const departments: DepartmentRow[] = [];
  const pathOf = new Map<number, string>();
  for (const d of DEPTS) {
    const path = `${d.parent === null ? '/' : (pathOf.get(d.parent) as string)}${d.id}/`;
    pathOf.set(d.id, path);
    departments.push({ id: d.id, name: d.name, parent_id: d.parent, path, created_at: deptCreated });
  }

  const users: UserRow[] = [];
  let nameIdx = 0;
  const addUser = (email: string, role: UserRow['role'], departmentId: number): number => {
    const id = users.length + 1;
    users.push({
      id,
      email,
      name: STAFF_NAMES[nameIdx++ % STAFF_NAMES.length] as string,
      role,
      department_id: departmentId,
      password_hash: null,
      password_salt: null,
      disabled: 0,
      created_at: deptCreated + id * DAY_MS,
      last_login_at: null,
    });
    return id;
  };
  addUser('admin@segflow.demo', 'super_admin', 1);
  const teams = new Map<number, Team>();
  for (const d of DEPTS) {
    // Regions and the two central departments get an admin; sales teams are run by their region's admin.
    if (d.id !== 1 && d.parent === 1) addUser(`dept${d.id}.admin@segflow.demo`, 'dept_admin', d.id);
  }
  for (const d of DEPTS) {
    if (d.staff === 0) continue;
    const staffIds: number[] = [];
    for (let i = 1; i <= d.staff; i++) staffIds.push(addUser(`staff${d.id}.${i}@segflow.demo`, 'staff', d.id));
    teams.set(d.id, { departmentId: d.id, staffIds, home: d.home ?? null, salesWeight: d.salesWeight ?? 0 });
  }
  const salesTeams = [...teams.values()].filter((t) => t.salesWeight > 0);

  const catalogCreated = now - 400 * DAY_MS;
  const tagGroups: TagGroupRow[] = [];
  const tags: TagRow[] = [];
  const ids = new Map<string, number>();
  let retiredId = 0;
  const retiredAt = now - 150 * DAY_MS;
  groupSpecs(channels).forEach((g, gi) => {
    const groupId = gi + 1;
    tagGroups.push({
      id: groupId,
      name: g.name,
      description: g.description,
      color: g.color,
      exclusive: g.exclusive ? 1 : 0,
      max_tags: null,
      department_id: g.departmentId ?? null,
      apply_role: g.applyRole,
      edit_role: g.editRole ?? 'dept_admin',
      sort_order: gi,
      created_at: catalogCreated,
    });
    const addTags = (specs: TagSpec[], parentId: number | null, level: number) => {
      for (const t of specs) {
        const id = tags.length + 1;
        tags.push({
          id,
          group_id: groupId,
          parent_id: parentId,
          level,
          name: t.name,
          description: t.description ?? null,
          color: null,
          status: t.retired ? 'retired' : 'active',
          retired_at: t.retired ? retiredAt : null,
          created_at: catalogCreated,
          last_applied_at: null,
        });
        ids.set(`${g.name}/${t.name}`, id);
        if (t.retired) retiredId = id;
        if (t.children) addTags(t.children, id, level + 1);
      }
    };
    addTags(g.tags, null, 1);
  });

  const customFields: CustomFieldRow[] = [
    { id: 1, key: 'member_level', label_zh: '会员等级', label_en: 'Member level', type: 'text', created_at: catalogCreated },
    { id: 2, key: 'points', label_zh: '积分', label_en: 'Points', type: 'number', created_at: catalogCreated },
    { id: 3, key: 'birthday_month', label_zh: '生日月份', label_en: 'Birthday month', type: 'number', created_at: catalogCreated },
  ];

  const eventSources: EventSourceRow[] = [
    {
      id: 'demo',
      name: '演示数据',
      kind: 'generic',
      secret: 'demo-secret',
      created_at: now - 200 * DAY_MS,
      last_event_at: null,
      event_count: 0,
    },
  ];

  return {
    departments,
    users,
    teams,
    salesTeams,
    eventSources,
    customFields,
    tagGroups,
    tags,
    tagId: (group, name) => {
      const id = ids.get(`${group}/${name}`);
      if (id === undefined) throw new Error(`unknown demo tag ${group}/${name}`);
      return id;
    },
    retiredCampaign: { tagId: retiredId, retiredAt, startedAt: retiredAt - 25 * DAY_MS },
  };
}
