/**
 * The demo's published rules, made from the gallery's templates (shared/src/templates/) as a
 * marketer would, each run by the department that owns it, and when their scheduled runs happened
 * over the last days, so the seed can back-compute their tag ledger (the home's rule-activity
 * chart). Pure: the seed (scripts/seed.ts) resolves the tags, compiles, applies each run with the
 * worker's own apply step and writes.
 *
 * The departments keep the rules apart where two templates write one exclusive group: the
 * lifecycle stages run for 华东大区, "inactive 180 days → 待激活" for 华南大区, so no contact is
 * moved back and forth between 流失客户 and 待激活 by two rules.
 */
import { nextRuns } from '../schedule';
import { dayStartMs } from '../time';
import type { TemplateId } from '../templates/templates';
import { buildCatalog } from './catalog';
import { SOURCE_CHANNELS } from './names';

/** One demo rule: a template instantiated for a department, published by that department's admin. */
export interface DemoRule {
  name: string;
  description: string;
  template: TemplateId;
  /** Owning department (null: company-wide). */
  departmentId: number | null;
  /** Who published it (and drew it): the department's admin, or the super admin. */
  publishedBy: number;
  /** A schedule other than the template's (set on its trigger node). */
  cron?: string;
}

/** The demo's rules, in the order they are created. `now` only places the catalog's rows. */
export function demoRules(now: number): DemoRule[] {
  const cat = buildCatalog(now, SOURCE_CHANNELS.items);
  const user = (email: string) => {
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
  const south = dept('华南大区');
  const community = dept('社群运营部');
  return [
    {
      name: 'RFM 价值分层',
      description: '由模板「RFM 价值分层」创建，每周一重算：近 30 天互动、每周互动、近 90 天消费 ≥ ¥1,500 为高价值',
      template: 'rfm',
      // tiers move slowly: weekly (also keeps the seed's back-computed runs quick, each reads every contact's stats)
      cron: '0 3 * * 1',
      departmentId: null,
      publishedBy: user('admin@segflow.demo'),
    },
    {
      name: '华东 · 客户生命周期',
      description: '由模板「客户生命周期」创建：新客 → 活跃 → 沉睡 → 流失',
      template: 'lifecycle',
      departmentId: east,
      publishedBy: user(`dept${east}.admin@segflow.demo`),
    },
    {
      name: '华南 · 180 天未活跃 → 待激活',
      description: '由模板「180 天未活跃 → 待激活」创建',
      template: 'inactive_180',
      departmentId: south,
      publishedBy: user(`dept${south}.admin@segflow.demo`),
    },
    {
      name: '群成员评分',
      description: '由模板「群成员评分」创建：发言 30%、内容 25%、活动 20%、邀请 15%，违规扣 10 分',
      template: 'member_score',
      departmentId: community,
      publishedBy: user(`dept${community}.admin@segflow.demo`),
    },
  ];
}

/**
 * The scheduled runs of `cron` from the start of `fromDay` up to `now` (epoch ms, ascending), in
 * the configured time zone: when the cron would have applied a rule published on `fromDay`.
 */
export function scheduledRuns(cron: string, fromDay: number, now: number, tzOffsetMinutes: number): number[] {
  const out: number[] = [];
  let from = dayStartMs(fromDay, tzOffsetMinutes) - 1;
  for (;;) {
    const next = nextRuns(cron, from, tzOffsetMinutes, 50).filter((t) => t <= now);
    out.push(...next);
    if (next.length < 50) return out;
    from = next[next.length - 1]!;
  }
}
