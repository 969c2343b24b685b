/**
 * Rollback planning, in SQL over the tag ledger. A plan is one SELECT of
 * `(contact_id, tag_id, op, skip)` rows: the tag changes that restore the wanted state, and those
 * that will not be made (`skip`: 'conflict' changed since by someone else, 'retired' a tag that
 * cannot be added, 'gone' a contact that no longer exists).
 *
 * The same SELECT answers the preview (counted before anything is written) and feeds the write:
 * its rows are copied into `tag_apply_targets` by the first statement of the rollback's batch,
 * before any tag changes, so the plan is read on the state the batch starts from, and then
 * applied set-based per tag through the tag writer (removals first, then adds: an add of an
 * exclusive tag displaces its siblings, and those displacements are counted in the preview).
 *
 * Order in the ledger is its `id` (rows are appended), time is its `at`.
 */
import type { RollbackKind } from '../../../shared/src/domain';
import type { RollbackPreview, RollbackSampleContact, RollbackTagCount } from '../../../shared/src/api/rollbacks';
import { tagSetStatements, type TagWriteSource } from '../tagging/tag-writer';

export interface Plan {
  kind: RollbackKind;
  /** a SELECT of (contact_id, tag_id, op, conflict) before skip reasons are added */
  sql: string;
  params: unknown[];
  /** a retired tag the rollback itself makes active first (tag_restore): its adds are not skipped */
  restoresTagId?: number;
}

/** Tag state at `at` (ledger rows with `at <= at`), diffed against `contact_tags`. */
export function toTimePlan(at: number, contactId?: number): Plan {
  const one = contactId !== undefined;
  return {
    kind: 'to_time',
    sql: `SELECT h.contact_id, h.tag_id, 'add' AS op, 0 AS conflict
          FROM (SELECT max(id) AS id FROM tag_ledger WHERE at <= ?${one ? ' AND contact_id = ?' : ''} GROUP BY contact_id, tag_id) last
          JOIN tag_ledger h ON h.id = last.id
          WHERE h.op = 'add'
            AND NOT EXISTS (SELECT 1 FROM contact_tags ct WHERE ct.contact_id = h.contact_id AND ct.tag_id = h.tag_id)
          UNION ALL
          SELECT ct.contact_id, ct.tag_id, 'remove', 0 FROM contact_tags ct
          WHERE ${one ? 'ct.contact_id = ? AND ' : ''}(SELECT l.op FROM tag_ledger l
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
  const later = 'EXISTS (SELECT 1 FROM tag_ledger x WHERE x.contact_id = s.contact_id AND x.tag_id = s.tag_id AND x.id > s.last_id)';
  return {
    kind,
    sql: `SELECT s.contact_id, s.tag_id, CASE WHEN f.op = 'add' THEN 'remove' ELSE 'add' END AS op, ${later} AS conflict
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

/** One ledger batch reversed. */
export const batchPlan = (batchId: string): Plan => undoRowsPlan('batch', 'batch_id = ?', [batchId]);

/** A retired tag's holders at retirement (ledger rows before `retiredAt`) that hold it no longer. */
export function tagRestorePlan(tagId: number, retiredAt: number): Plan {
  return {
    kind: 'tag_restore',
    sql: `SELECT h.contact_id, h.tag_id, 'add' AS op, 0 AS conflict
          FROM (SELECT max(id) AS id FROM tag_ledger WHERE tag_id = ? AND at < ? GROUP BY contact_id) last
          JOIN tag_ledger h ON h.id = last.id
          WHERE h.op = 'add'
            AND NOT EXISTS (SELECT 1 FROM contact_tags ct WHERE ct.contact_id = h.contact_id AND ct.tag_id = h.tag_id)`,
    params: [tagId, retiredAt],
    restoresTagId: tagId,
  };
}

/** The plan with its skip reason per row, as a CTE body named `plan`. */
function planCte(plan: Plan): { sql: string; params: unknown[] } {
  return {
    sql: `plan AS (
      SELECT r.contact_id, r.tag_id, r.op,
        CASE WHEN r.conflict THEN 'conflict'
             WHEN r.op = 'add' AND NOT EXISTS (SELECT 1 FROM contacts c WHERE c.id = r.contact_id) THEN 'gone'
             WHEN r.op = 'add' AND r.tag_id IS NOT ? AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.id = r.tag_id AND t.status = 'active') THEN 'retired'
        END AS skip
      FROM (${plan.sql}) r)`,
    params: [plan.restoresTagId ?? null, ...plan.params],
  };
}

/**
 * Exclusive siblings the plan's adds displace: held now, in the same exclusive group as an added
 * tag, and not removed by the plan itself. `restoresTagId` counts as active (it will be).
 */
const DISPLACED_SQL = `
  SELECT DISTINCT ct.contact_id, ct.tag_id
  FROM plan p
  JOIN tags a ON a.id = p.tag_id AND (a.status = 'active' OR a.id IS ?)
  JOIN tag_groups g ON g.id = a.group_id AND g.exclusive = 1
  JOIN contact_tags ct ON ct.contact_id = p.contact_id AND ct.tag_id <> p.tag_id
  JOIN tags s ON s.id = ct.tag_id AND s.group_id = a.group_id
  WHERE p.op = 'add' AND p.skip IS NULL
    AND NOT EXISTS (SELECT 1 FROM plan q WHERE q.op = 'remove' AND q.skip IS NULL AND q.contact_id = ct.contact_id AND q.tag_id = ct.tag_id)`;

const SAMPLE_SIZE = 10;

/** Counts by tag, skip reasons and a sample of contacts: what the rollback would write. */
export async function previewPlan(db: D1Database, plan: Plan, object: string): Promise<RollbackPreview> {
  const cte = planCte(plan);
  const restores = plan.restoresTagId ?? null;
  const [byTagOp, displaced, sample] = await db.batch<Record<string, unknown>>([
    db
      .prepare(
        `WITH ${cte.sql}
         SELECT p.tag_id, t.name, p.op, coalesce(p.skip, '') AS skip, count(*) AS n
         FROM plan p LEFT JOIN tags t ON t.id = p.tag_id GROUP BY p.tag_id, p.op, p.skip`,
      )
      .bind(...cte.params),
    db
      .prepare(
        `WITH ${cte.sql}, d AS (${DISPLACED_SQL})
         SELECT d.tag_id, t.name, count(*) AS n FROM d JOIN tags t ON t.id = d.tag_id GROUP BY d.tag_id`,
      )
      .bind(...cte.params, restores),
    db
      .prepare(
        `WITH ${cte.sql}, picked AS (SELECT DISTINCT contact_id FROM plan WHERE skip IS NULL ORDER BY contact_id LIMIT ${SAMPLE_SIZE})
         SELECT p.contact_id, c.name AS contact_name, p.tag_id, t.name AS tag_name, p.op
         FROM plan p JOIN picked USING (contact_id) LEFT JOIN contacts c ON c.id = p.contact_id LEFT JOIN tags t ON t.id = p.tag_id
         WHERE p.skip IS NULL ORDER BY p.contact_id, p.op, p.tag_id`,
      )
      .bind(...cte.params),
  ]);

  const tags = new Map<number, RollbackTagCount>();
  const entry = (tagId: number, name: unknown) => {
    let e = tags.get(tagId);
    if (!e) tags.set(tagId, (e = { tagId, name: String(name ?? `#${tagId}`), add: 0, remove: 0, skipped: 0 }));
    return e;
  };
  const reasons = { conflict: 0, retired: 0, gone: 0 };
  let add = 0;
  let remove = 0;
  for (const r of byTagOp!.results) {
    const e = entry(Number(r.tag_id), r.name);
    const n = Number(r.n);
    const skip = String(r.skip);
    if (skip) {
      e.skipped += n;
      reasons[skip as keyof typeof reasons] += n;
    } else if (r.op === 'add') {
      e.add += n;
      add += n;
    } else {
      e.remove += n;
      remove += n;
    }
  }
  let displacedTotal = 0;
  for (const r of displaced!.results) {
    const n = Number(r.n);
    entry(Number(r.tag_id), r.name).remove += n;
    displacedTotal += n;
  }
  const contacts = new Map<number, RollbackSampleContact>();
  for (const r of sample!.results) {
    const id = Number(r.contact_id);
    let c = contacts.get(id);
    if (!c) contacts.set(id, (c = { id, name: (r.contact_name as string | null) ?? null, changes: [] }));
    c.changes.push({ tagId: Number(r.tag_id), name: String(r.tag_name ?? `#${String(r.tag_id)}`), op: r.op as 'add' | 'remove' });
  }
  const skipped = reasons.conflict + reasons.retired + reasons.gone;
  return {
    kind: plan.kind,
    object,
    add,
    remove: remove + displacedTotal,
    displaced: displacedTotal,
    count: add + remove + displacedTotal,
    skipped,
    skippedReasons: reasons,
    byTag: [...tags.values()].sort((a, b) => b.add + b.remove - (a.add + a.remove) || a.tagId - b.tagId),
    sampleContacts: [...contacts.values()],
  };
}

/**
 * The statements that apply a plan, for the caller's single batch: the plan's rows copied into
 * `tag_apply_targets` (keyed `run:tag:op`), then per tag removals and adds through the tag
 * writer, then the scratch rows deleted. `tagOps` are the (tag, op) pairs the preview found;
 * a pair that appeared since is not applied (the confirmation count would have caught it).
 */
export function applyPlanStatements(db: D1Database, plan: Plan, preview: RollbackPreview, src: TagWriteSource): D1PreparedStatement[] {
  const run = `rollback-${crypto.randomUUID()}`;
  const cte = planCte(plan);
  const key = (tagId: number, op: 'add' | 'remove') => `${run}:${tagId}:${op}`;
  const out: D1PreparedStatement[] = [
    db
      .prepare(
        `WITH ${cte.sql}
         INSERT OR IGNORE INTO tag_apply_targets (run_id, contact_id)
         SELECT ? || ':' || tag_id || ':' || op, contact_id FROM plan WHERE skip IS NULL`,
      )
      .bind(...cte.params, run),
  ];
  const targets = (tagId: number, op: 'add' | 'remove') => ({ sql: 'SELECT contact_id FROM tag_apply_targets WHERE run_id = ?', params: [key(tagId, op)] });
  // byTag.remove includes displaced siblings, which the writer removes by itself: a tag with only
  // displacements has no rows under its key, and its remove statements find nothing.
  for (const t of preview.byTag) if (t.remove > 0) out.push(...tagSetStatements(db, targets(t.tagId, 'remove'), t.tagId, 'remove', src));
  for (const t of preview.byTag) if (t.add > 0) out.push(...tagSetStatements(db, targets(t.tagId, 'add'), t.tagId, 'add', src));
  out.push(db.prepare(`DELETE FROM tag_apply_targets WHERE run_id >= ? AND run_id < ?`).bind(`${run}:`, `${run};`));
  return out;
}
