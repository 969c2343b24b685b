/**
 * Runs the published rules listening to one event against one contact, in JS, and keeps the
 * contact's in-memory tag set as the tag writer will leave it (exclusive groups, retired tags),
 * so the next event of the same request sees the tags the previous one gave.
 */
import { inRollout } from '@shared/rollout';
import { isTagAction, type EvalData } from '@shared/rules/types';
import { netChange } from '@shared/rules/net-effect';
import type { PublishedRule, RuleSet, TagInfo } from './published';

/** One tag change a rule asks for. */
export interface RuleChange {
  tagId: number;
  op: 'add' | 'remove';
  ruleId: number;
  ruleVersion: number;
}

/**
 * The changes the rules listening to `data.event.type` ask for, in rule order: each rule's NET
 * change (net-effect.ts: removals first, then the additions that win), never its actions one by
 * one. Every rule sees the same state: the contact after this event's aggregates, before any of
 * this event's tag changes — the state a preview counts against.
 */
export function changesForEvent(
  set: RuleSet,
  data: EvalData,
  bucket: number,
  /** Told the call-webhook / notify nodes each rule reached: they fire once per triggering event. */
  outbound?: (rule: PublishedRule, nodeIds: string[]) => void,
): RuleChange[] {
  const rules = data.event ? set.byTrigger.get(data.event.type) : undefined;
  if (!rules) return [];
  const out: RuleChange[] = [];
  for (const r of rules) {
    if (!inRollout(bucket, r.id, r.rolloutPercent)) continue;
    // a department's rule acts on that department's contacts only (as its preview counts them)
    if (r.departmentIds && !r.departmentIds.has(data.contact.departmentId as number)) continue;
    const fired = r.evaluate(data);
    if (fired.length === 0) continue;
    if (outbound) {
      const calls = fired.filter((id) => {
        const a = r.actionsById.get(id);
        return a !== undefined && !isTagAction(a);
      });
      if (calls.length) outbound(r, calls);
    }
    const net = netChange(r.net, fired);
    for (const tagId of net.remove) out.push({ tagId, op: 'remove', ruleId: r.id, ruleVersion: r.version });
    for (const tagId of net.add) out.push({ tagId, op: 'add', ruleId: r.id, ruleVersion: r.version });
  }
  return out;
}

/**
 * Applies changes to a contact's tag set as the tag writer does: adding a held tag or removing
 * an unheld one is a no-op, retired or unknown tags are never added, and adding a tag of an
 * exclusive group drops the group's other tags. `cause` records, per tag, the change that
 * last touched it (for attributing the net change). Returns the changes that took effect.
 */
export function applyChanges(
  tags: Set<number>,
  changes: RuleChange[],
  info: Map<number, TagInfo>,
  cause: Map<number, RuleChange>,
): RuleChange[] {
  const effective: RuleChange[] = [];
  for (const ch of changes) {
    if (ch.op === 'remove') {
      if (tags.delete(ch.tagId)) {
        cause.set(ch.tagId, ch);
        effective.push(ch);
      }
      continue;
    }
    const t = info.get(ch.tagId);
    if (!t || !t.active || tags.has(ch.tagId)) continue;
    if (t.exclusive) {
      for (const held of [...tags]) {
        const h = info.get(held);
        if (h && h.groupId === t.groupId) {
          tags.delete(held);
          cause.set(held, ch);
          effective.push({ ...ch, tagId: held, op: 'remove' });
        }
      }
    }
    tags.add(ch.tagId);
    cause.set(ch.tagId, ch);
    effective.push(ch);
  }
  return effective;
}
