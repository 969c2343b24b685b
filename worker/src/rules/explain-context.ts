/** What the explain route needs beside the compiler: event-scoped tests taken as held, and a contact in scope. */
import { ApiError } from '../errors';
import { formulaToLogic, type CompiledRule } from '@shared/rules/compile';
import type { JsonLogic } from '@shared/rules/types';
import { findVisibleContact } from '../auth/access';
import type { SessionUser } from '@shared/api/auth';
import { netChange } from '@shared/rules/net-effect';
import { netPlanOf } from './rule-preview';
import type { Workspace } from './context';

/** The rule with event-scoped tests assumed to hold (as the preview does), for explanations. */
export function assumeEvent(rule: CompiledRule): { rule: CompiledRule; assumed: string[] } {
  const assumed = new Set<string>();
  const tests = rule.tests.map((t) => {
    if (!t.eventScoped || t.kind !== 'bool') return t;
    assumed.add(t.nodeId);
    return { ...t, logic: true as JsonLogic, conditions: [] };
  });
  if (assumed.size === 0) return { rule, assumed: [] };
  const byId = new Map(tests.map((t) => [t.id, t]));
  const nodeLogic: Record<string, JsonLogic> = {};
  for (const [id, f] of Object.entries(rule.reach)) nodeLogic[id] = formulaToLogic(f, byId);
  const logic: JsonLogic = { merge: rule.actions.map((a) => ({ if: [nodeLogic[a.nodeId] ?? false, [a.nodeId], []] })) };
  return { rule: { ...rule, tests, nodeLogic, logic }, assumed: [...assumed] };
}

/** A contact the explanation may show: it exists and is in the user's scope. */
export async function requireVisibleContact(db: D1Database, user: SessionUser, id: number) {
  if (!(await findVisibleContact(db, user, id)))
    throw new ApiError(400, 'unknown_reference', `contactId: no contact with id ${id}`, [
      { path: 'contactId', message: 'no such contact' },
    ]);
}

/**
 * What the rule would write for one contact, as the tag writer applies the net change: tags it
 * gains (an add of a tag not held), tags it loses (a remove of a held tag, or a held tag of an
 * exclusive group it gains another tag of). Empty lists: the rule changes nothing for them (and
 * its call-webhook / notify actions do not fire, as they fire only with a change).
 */
export function contactChange(rule: CompiledRule, ws: Workspace, held: readonly number[], fired: readonly string[]) {
  const net = netChange(netPlanOf(rule, ws), fired);
  const has = new Set(held);
  const groupOf = new Map(ws.tags.map((t) => [t.id, t.groupExclusive ? t.groupId : null]));
  const gain = net.add.filter((id) => !has.has(id));
  const lose = new Set(net.remove.filter((id) => has.has(id)));
  for (const g of gain) {
    const group = groupOf.get(g);
    if (group == null) continue;
    for (const h of has) if (h !== g && groupOf.get(h) === group) lose.add(h);
  }
  return { gain, lose: [...lose] };
}
