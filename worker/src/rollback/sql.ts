/**
 * The SQL of rollback plans, pure (no D1 types: bench/rollback.ts times these same statements).
 * A plan is one SELECT of `(contact_id, tag_id, op, conflict, ord)`; `planCte` adds the skip reason
 * per row. Order in the ledger is its `id` (rows are appended), time is its `at`.
 */
import type { RollbackKind } from '@shared/domain';

export interface Plan {
  kind: RollbackKind;
  /**
   * a SELECT of (contact_id, tag_id, op, conflict, ord) before skip reasons are added; `ord` ranks
   * a contact's adds into one exclusive group (the highest, the most recently held, is the one made)
   */
  sql: string;
  params: unknown[];
  /** a retired tag the rollback itself makes active first (tag_restore): its adds are not skipped */
  restoresTagId?: number;
}

/**
 * Tag state at `at` (ledger rows with `at <= at`), diffed against `contact_tags`. The per-holding
 * lookups name the (contact, at) index: left to itself the planner may take the (tag, at) index
 * and read every row of a popular tag for each holder (bench/rollback.ts).
 */
export function toTimePlan(at: number, contactId?: number): Plan {
  const one = contactId !== undefined;
  return {
    kind: 'to_time',
    sql: `SELECT h.contact_id, h.tag_id, 'add' AS op, 0 AS conflict, h.id AS ord
          FROM (SELECT max(id) AS id FROM tag_ledger WHERE at <= ?${one ? ' AND contact_id = ?' : ''} GROUP BY contact_id, tag_id) last
          JOIN tag_ledger h ON h.id = last.id
          WHERE h.op = 'add'
            AND NOT EXISTS (SELECT 1 FROM contact_tags ct WHERE ct.contact_id = h.contact_id AND ct.tag_id = h.tag_id)
          UNION ALL
          SELECT ct.contact_id, ct.tag_id, 'remove', 0, 0 FROM contact_tags ct
          WHERE ${one ? 'ct.contact_id = ? AND ' : ''}(SELECT l.op FROM tag_ledger l INDEXED BY tag_ledger_contact_idx
                 WHERE l.contact_id = ct.contact_id AND l.tag_id = ct.tag_id AND l.at <= ? ORDER BY l.id DESC LIMIT 1) IS NOT 'add'`,
    params: one ? [at, contactId, contactId, at] : [at, at],
  };
}

/**
 * The reverse of a set of ledger rows (`where` over `tag_ledger`): per contact × tag, the state
 * before the set's first row comes back when the set's last row still holds, i.e. no row was
 * written for that contact × tag after it; otherwise the pair is a conflict. Pairs the set left
 * as it found them (added then removed) need nothing.
 */
function undoRowsPlan(kind: RollbackKind, where: string, params: unknown[]): Plan {
  const held = 'EXISTS (SELECT 1 FROM contact_tags ct WHERE ct.contact_id = s.contact_id AND ct.tag_id = s.tag_id)';
  const later =
    'EXISTS (SELECT 1 FROM tag_ledger x INDEXED BY tag_ledger_contact_idx WHERE x.contact_id = s.contact_id AND x.tag_id = s.tag_id AND x.id > s.last_id)';
  return {
    kind,
    // ord: of two holdings given back in one exclusive group, the one taken away last wins
    sql: `SELECT s.contact_id, s.tag_id, CASE WHEN f.op = 'add' THEN 'remove' ELSE 'add' END AS op, ${later} AS conflict, s.first_id AS ord
          FROM (SELECT contact_id, tag_id, min(id) AS first_id, max(id) AS last_id FROM tag_ledger WHERE ${where} GROUP BY contact_id, tag_id) s
          JOIN tag_ledger f ON f.id = s.first_id
          JOIN tag_ledger l ON l.id = s.last_id
          WHERE f.op = l.op AND (${later} OR ${held} = (l.op = 'add'))`,
    params,
  };
}

/** Every change a rule version made (publish, scheduled runs, events), reversed. */
export const ruleVersionPlan = (ruleId: number, version: number): Plan =>
  undoRowsPlan('rule_version', 'rule_id = ? AND rule_version = ?', [ruleId, version]);

/**
 * One ledger batch reversed. `restoresTagId`: a retired tag the same write makes active again
 * (undoing the undo of a tag restore), whose adds are then not skipped as retired.
 */
export const batchPlan = (batchId: string, restoresTagId?: number): Plan => ({
  ...undoRowsPlan('batch', 'batch_id = ?', [batchId]),
  ...(restoresTagId === undefined ? {} : { restoresTagId }),
});

/** A retired tag's holders at retirement (ledger rows before `retiredAt`) that hold it no longer. */
export function tagRestorePlan(tagId: number, retiredAt: number): Plan {
  return {
    kind: 'tag_restore',
    sql: `SELECT h.contact_id, h.tag_id, 'add' AS op, 0 AS conflict, h.id AS ord
          FROM (SELECT max(id) AS id FROM tag_ledger WHERE tag_id = ? AND at < ? GROUP BY contact_id) last
          JOIN tag_ledger h ON h.id = last.id
          WHERE h.op = 'add'
            AND NOT EXISTS (SELECT 1 FROM contact_tags ct WHERE ct.contact_id = h.contact_id AND ct.tag_id = h.tag_id)`,
    params: [tagId, retiredAt],
    restoresTagId: tagId,
  };
}

/**
 * The plan with its skip reason per row, as CTE bodies ending in one named `plan`.
 *
 * 'exclusive': a contact may hold one tag of an exclusive group, as the tag writer enforces on
 * every add. A plan can ask for two (rolling back to before a group was made exclusive, or undoing
 * a rule version that took two of its tags away at different times); of those only the highest
 * `ord` is made and the others are skipped here, so the preview counts what the writer will do
 * instead of an add that the next add would displace again.
 */
export function planCte(plan: Plan): { sql: string; params: unknown[] } {
  return {
    sql: `plan_rows AS (
      SELECT r.contact_id, r.tag_id, r.op, r.ord,
        CASE WHEN r.conflict THEN 'conflict'
             WHEN r.op = 'add' AND NOT EXISTS (SELECT 1 FROM contacts c WHERE c.id = r.contact_id) THEN 'gone'
             WHEN r.op = 'add' AND r.tag_id IS NOT ? AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.id = r.tag_id AND t.status = 'active') THEN 'retired'
        END AS skip,
        CASE WHEN r.op = 'add' THEN (SELECT t.group_id FROM tags t JOIN tag_groups g ON g.id = t.group_id WHERE t.id = r.tag_id AND g.exclusive = 1) END AS xg
      FROM (${plan.sql}) r),
    plan AS (
      SELECT contact_id, tag_id, op,
        CASE WHEN skip IS NULL AND xg IS NOT NULL
              AND row_number() OVER (PARTITION BY contact_id, xg, skip IS NULL ORDER BY ord DESC, tag_id DESC) > 1 THEN 'exclusive'
             ELSE skip END AS skip
      FROM plan_rows)`,
    params: [plan.restoresTagId ?? null, ...plan.params],
  };
}

/**
 * Exclusive siblings the plan's adds displace: held now, in the same exclusive group as an added
 * tag, and not removed by the plan itself. `restoresTagId` counts as active (it will be).
 */
export const DISPLACED_SQL = `
  SELECT DISTINCT ct.contact_id, ct.tag_id
  FROM plan p
  JOIN tags a ON a.id = p.tag_id AND (a.status = 'active' OR a.id IS ?)
  JOIN tag_groups g ON g.id = a.group_id AND g.exclusive = 1
  JOIN contact_tags ct ON ct.contact_id = p.contact_id AND ct.tag_id <> p.tag_id
  JOIN tags s ON s.id = ct.tag_id AND s.group_id = a.group_id
  WHERE p.op = 'add' AND p.skip IS NULL
    AND NOT EXISTS (SELECT 1 FROM plan q WHERE q.op = 'remove' AND q.skip IS NULL AND q.contact_id = ct.contact_id AND q.tag_id = ct.tag_id)`;
