/**
 * Outbound actions (call-webhook, notify) as the rule language sees them: which actions of a
 * rule are outbound, and the notify text with its placeholders filled. When they fire is in
 * docs/rules.md ("Outbound actions") and README's "Outbound actions": for contacts the same run
 * re-tags, or once per triggering event in an event-triggered rule.
 */
import type { CompiledAction } from './compile';
import { isTagAction, type OutboundActionSpec } from './types';

/** The placeholders a notify text may use. */
export const NOTIFY_PLACEHOLDERS = ['name', 'rule', 'tags'] as const;

/** A rule's outbound actions, in node order. */
export function outboundActions(actions: readonly CompiledAction[]): { nodeId: string; action: OutboundActionSpec }[] {
  return actions.flatMap((a) => (isTagAction(a.action) ? [] : [{ nodeId: a.nodeId, action: a.action }]));
}

/** One tag change as a notify text words it: `+高价值客户` / `-潜在客户`. */
export interface TagChangeWord {
  tagName: string;
  change: 'added' | 'removed';
}

/**
 * Fills `{name}` (the contact's name), `{rule}` (the rule's name) and `{tags}` (this run's tag
 * changes, `+added -removed`); any other braces are left as written.
 */
export function fillNotifyText(text: string, p: { name: string | null; rule: string; tags: readonly TagChangeWord[] }): string {
  const tags = p.tags.map((t) => `${t.change === 'added' ? '+' : '-'}${t.tagName}`).join(' ');
  const values: Record<string, string> = { name: p.name ?? '', rule: p.rule, tags };
  return text.replace(/\{(name|rule|tags)\}/g, (_m, k: string) => values[k] ?? '');
}
