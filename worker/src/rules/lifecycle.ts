/** Pausing, resuming and archiving a rule: a status change allowed from some statuses only, with its audit row. */
import type { RuleDetail } from '@shared/api/rules';
import type { RuleStatus } from '@shared/domain';
import { auditStatementIfChanged } from '../audit';
import type { Actor } from '../auth/access';
import { conflict, getRule, ruleDetail } from './detail';

/** A status change: allowed only from `from`; the audit row says what happened. */
function transition(to: RuleStatus, from: readonly RuleStatus[], action: 'rule.pause' | 'rule.resume' | 'rule.archive', verb: string) {
  return async (db: D1Database, id: number, actor: Actor): Promise<RuleDetail> => {
    const rule = await getRule(db, id);
    if (!from.includes(rule.status)) {
      throw conflict(`Cannot ${verb} rule ${id}: it is ${rule.status} (only ${from.join(' or ')} rules can be ${verb}d)`);
    }
    const now = Date.now();
    const [update] = await db.batch([
      db
        .prepare('UPDATE rules SET status = ?, paused_reason = NULL, updated_at = max(?, updated_at + 1) WHERE id = ? AND status = ?')
        .bind(to, now, id, rule.status),
      // the 409 below must not leave a "paused" entry behind
      auditStatementIfChanged(db, {
        actor,
        action,
        objectType: 'rule',
        objectId: id,
        summary: `${verb} rule "${rule.name}" (${rule.status} → ${to})`,
        params: { name: rule.name, fromStatus: rule.status, toStatus: to },
        before: { status: rule.status },
        after: { status: to },
        at: now,
      }),
    ]);
    if (!update?.meta.changes) throw conflict(`Rule ${id} changed while being ${verb}d: try again`);
    return ruleDetail(db, id);
  };
}

export const pause = transition('paused', ['published'], 'rule.pause', 'pause');
export const resume = transition('published', ['paused'], 'rule.resume', 'resume');
export const archive = transition('archived', ['draft', 'published', 'paused'], 'rule.archive', 'archive');
