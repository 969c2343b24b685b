import { describe, expect, it } from 'vitest';
import { compileRule } from '../rules/compile';
import { parseRuleGraph } from '../rules/schema';
import { compileRulePlan } from '../rules/evaluate';
import { RULE_TEMPLATES, TEMPLATE_IDS, templateById, type RuleTemplate } from './templates';

const ctxFor = (t: RuleTemplate, notify: number | null = null) => {
  const ids = new Map(t.tags.map((tag, i) => [tag.key, 100 + i]));
  return {
    tagId: (key: string) => {
      const id = ids.get(key);
      if (id === undefined) throw new Error(`${t.id} asks for an undeclared tag ${key}`);
      return id;
    },
    notifyDestinationId: notify,
  };
};
const NOW = Date.UTC(2026, 11, 7, 6);
const DAY = 86_400_000;

describe('rule templates', () => {
  it('lists every id once, in gallery order', () => {
    expect(RULE_TEMPLATES.map((t) => t.id)).toEqual([...TEMPLATE_IDS]);
  });

  for (const t of RULE_TEMPLATES) {
    for (const notify of t.usesOutbound ? [null, 7] : [null]) {
      it(`${t.id}${notify ? ' (with a notify destination)' : ''}: the graph validates and compiles with the shared compiler`, () => {
        const g = t.build(ctxFor(t, notify));
        expect(parseRuleGraph(g).ok).toBe(true);
        const compiled = compileRule(g, { tagExists: (id) => id >= 100, destinationExists: (id) => id === 7 });
        if (!compiled.ok) throw new Error(JSON.stringify(compiled.errors));
        // every declared tag is used, and every group a tag names is declared
        const used = new Set(
          g.nodes.flatMap((n) =>
            n.kind === 'action' && n.action.type === 'add_tag' ? [n.action.tagId] : n.kind === 'band' ? n.bands.map((b) => b.tagId) : [],
          ),
        );
        expect(used.size).toBe(t.tags.length);
        for (const tag of t.tags) expect(t.groups.map((gr) => gr.name)).toContain(tag.group);
        // positions laid out, none on top of another
        const at = new Set(g.nodes.map((n) => `${n.position?.x},${n.position?.y}`));
        expect(at.size).toBe(g.nodes.length);
        expect(g.nodes.filter((n) => n.kind === 'action' && n.action.type === 'notify')).toHaveLength(notify ? 2 : 0);
      });
    }
  }

  it('templateById knows the ids and nothing else', () => {
    expect(templateById('rfm')?.id).toBe('rfm');
    expect(templateById('nope')).toBeUndefined();
  });

  // the evaluators agree on what the graphs mean; a few contacts checked by hand
  const fire = (id: string, contact: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
    const t = templateById(id)!;
    const compiled = compileRule(t.build(ctxFor(t)));
    if (!compiled.ok) throw new Error('does not compile');
    return [...compileRulePlan(compiled.value)({ contact, now: NOW, ...extra })].sort();
  };

  it('member score: violations take points away (seed 003: a clean record is worth its 10)', () => {
    const full = { kind: 'group_member', messageCount: 60, inviteCount: 5, violationCount: 0 };
    const today = Math.floor((NOW + 8 * 3600_000) / DAY);
    const stats = [
      { type: 'article_open', day: today, count: 5, amount: 0 },
      { type: 'group_join', day: today, count: 2, amount: 0 },
    ];
    // 30 + 25 + 20 + 15 = 90 (seed: 100) → core
    expect(fire('member_score', full, { stats })).toEqual(['s:core']);
    // three violations: 80 (seed: 90) → still core; without articles 55 (seed: 65) → active
    expect(fire('member_score', { ...full, violationCount: 3 }, { stats })).toEqual(['s:core']);
    expect(fire('member_score', { ...full, violationCount: 3 }, { stats: stats.slice(1) })).toEqual(['s:active']);
    // only violations: −10 (seed: 0) → watch list; not a group member → nothing
    expect(fire('member_score', { kind: 'group_member', violationCount: 5 })).toEqual(['s:watch']);
    expect(fire('member_score', { ...full, kind: 'friend' }, { stats })).toEqual([]);
  });

  it('member score is one band node onto one exclusive group, tagged in one step', () => {
    const t = templateById('member_score')!;
    const g = t.build(ctxFor(t));
    expect(g.nodes.map((n) => n.kind)).toEqual(['trigger', 'condition', 'band']);
    const groups = new Map(
      t.tags.map((tag, i) => [100 + i, { groupId: 1, exclusive: t.groups.find((x) => x.name === tag.group)!.exclusive }]),
    );
    const compiled = compileRule(g, { tagGroup: (id) => groups.get(id) });
    expect(compiled.ok).toBe(true);
  });

  it('lifecycle: exactly one stage per contact', () => {
    expect(fire('lifecycle', { createdAt: NOW - 3 * DAY, lastActiveAt: NOW - DAY })).toEqual(['a_new']);
    expect(fire('lifecycle', { createdAt: NOW - 300 * DAY, lastActiveAt: NOW - DAY })).toEqual(['a_active']);
    expect(fire('lifecycle', { createdAt: NOW - 300 * DAY, lastActiveAt: NOW - 90 * DAY })).toEqual(['a_silent']);
    expect(fire('lifecycle', { createdAt: NOW - 300 * DAY, lastActiveAt: NOW - 200 * DAY })).toEqual(['a_lost']);
    expect(fire('lifecycle', { createdAt: NOW - 300 * DAY })).toEqual(['a_lost']);
  });

  it('inactivity: 180 days without interaction, or never active and added over 180 days ago', () => {
    expect(fire('inactive_180', { createdAt: NOW - 400 * DAY, lastActiveAt: NOW - 181 * DAY })).toEqual(['a_dormant']);
    expect(fire('inactive_180', { createdAt: NOW - 400 * DAY, lastActiveAt: NOW - 10 * DAY })).toEqual([]);
    expect(fire('inactive_180', { createdAt: NOW - 400 * DAY })).toEqual(['a_dormant']);
    expect(fire('inactive_180', { createdAt: NOW - 20 * DAY })).toEqual([]);
  });

  it('violation ladder: warn, warn, mute, remove', () => {
    const ev = { event: { type: 'violation' } };
    expect(fire('violation_ladder', { violationCount: 1 }, ev)).toEqual(['a_warn']);
    expect(fire('violation_ladder', { violationCount: 2 }, ev)).toEqual(['a_warn']);
    expect(fire('violation_ladder', { violationCount: 3 }, ev)).toEqual(['a_mute']);
    expect(fire('violation_ladder', { violationCount: 6 }, ev)).toEqual(['a_remove']);
  });

  it('RFM: active, frequent and spending → high value; active otherwise → potential; the rest → normal', () => {
    const today = Math.floor((NOW + 8 * 3600_000) / DAY);
    const stats = [
      { type: 'message', day: today, count: 6, amount: 0 },
      { type: 'purchase', day: today - 10, count: 2, amount: 200_000 },
    ];
    expect(fire('rfm', { lastActiveAt: NOW - DAY }, { stats })).toEqual(['a_high']);
    expect(fire('rfm', { lastActiveAt: NOW - DAY }, { stats: stats.slice(0, 1) })).toEqual(['a_potential']);
    expect(fire('rfm', { lastActiveAt: NOW - 60 * DAY })).toEqual(['a_potential']);
    expect(fire('rfm', { lastActiveAt: NOW - 200 * DAY })).toEqual(['a_normal']);
  });
});
