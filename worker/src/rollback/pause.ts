/**
 * Rolling back a rule's tagging run and leaving the rule published would let its next scheduled
 * or event run tag the same people again. `pauseRuleStatements` pauses it in the rollback's own
 * batch, with the same `rule.pause` entry as pausing by hand, written only if the rule was still
 * published (a rule paused or archived meanwhile is left as it is, and no entry claims otherwise).
 */
import type { Actor } from '../auth/access';
import { auditStatementIfChanged } from '../audit';

export function pauseRuleStatements(db: D1Database, rule: { id: number; name: string }, actor: Actor, at: number): D1PreparedStatement[] {
  return [
    db
      .prepare(`UPDATE rules SET status = 'paused', updated_at = max(?, updated_at + 1) WHERE id = ? AND status = 'published'`)
      .bind(at, rule.id),
    auditStatementIfChanged(db, {
      actor,
      action: 'rule.pause',
      objectType: 'rule',
      objectId: rule.id,
      summary: `pause rule "${rule.name}" (published → paused) with the rollback of its tagging`,
      params: { name: rule.name, fromStatus: 'published', toStatus: 'paused' },
      before: { status: 'published' },
      after: { status: 'paused' },
      at,
    }),
  ];
}
