/** What the explain route needs beside the compiler: event-scoped tests taken as held, and a contact in scope. */
import { ApiError } from '../errors';
import { formulaToLogic, type CompiledRule } from '@shared/rules/compile';
import type { JsonLogic } from '@shared/rules/types';
import { findVisibleContact } from '../auth/access';
import type { SessionUser } from '@shared/api/auth';

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
