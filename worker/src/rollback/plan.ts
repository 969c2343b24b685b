/**
 * Rollback planning, in SQL over the tag ledger. A plan is one SELECT of
 * `(contact_id, tag_id, op, skip)` rows: the tag changes that restore the wanted state, and those
 * that will not be made (`skip`: 'conflict' changed since by someone else, 'retired' a tag that
 * cannot be added, 'gone' a contact that no longer exists, 'exclusive' a second tag of an
 * exclusive group for one contact).
 *
 * The same SELECT answers the preview (counted before anything is written) and feeds the write:
 * its rows are copied into `tag_apply_targets` by the first statement of the rollback's batch,
 * before any tag changes, so the plan is read on the state the batch starts from, and then
 * applied set-based per tag through the tag writer (removals first, then adds: an add of an
 * exclusive tag displaces its siblings, and those displacements are counted in the preview).
 *
 * The SQL itself is in ./sql.ts.
 */
import type { RollbackPreview, RollbackSampleContact, RollbackTagCount } from '@shared/api/rollbacks';
import { tagSetStatements, type TagWriteSource } from '../tagging/tag-writer';
import { DISPLACED_SQL, planCte, type Plan } from './sql';
import { batch, typed, type ContactRow, type TagLedgerRow, type TagRow } from '../db/rows';

export { batchPlan, ruleVersionPlan, tagRestorePlan, toTimePlan, type Plan } from './sql';

const SAMPLE_SIZE = 10;

type SkipReason = 'conflict' | 'retired' | 'gone' | 'exclusive';
type Op = TagLedgerRow['op'];
/** Plan rows counted by tag, op and skip reason ('' when made); `name` null for a tag deleted since. */
type PlanCount = { tag_id: number; name: TagRow['name'] | null; op: Op; skip: SkipReason | ''; n: number };
type DisplacedCount = { tag_id: number; name: TagRow['name']; n: number };
type SampleRow = { contact_id: number; contact_name: ContactRow['name'] | null; tag_id: number; tag_name: TagRow['name'] | null; op: Op };

/** Counts by tag, skip reasons and a sample of contacts: what the rollback would write. */
export async function previewPlan(db: D1Database, plan: Plan, object: string): Promise<RollbackPreview> {
  const cte = planCte(plan);
  const restores = plan.restoresTagId ?? null;
  const [byTagOp, displaced, sample] = await batch(db, [
    typed<PlanCount>(
      db
        .prepare(
          `WITH ${cte.sql}
         SELECT p.tag_id, t.name, p.op, coalesce(p.skip, '') AS skip, count(*) AS n
         FROM plan p LEFT JOIN tags t ON t.id = p.tag_id GROUP BY p.tag_id, p.op, p.skip`,
        )
        .bind(...cte.params),
    ),
    typed<DisplacedCount>(
      db
        .prepare(
          `WITH ${cte.sql}, d AS (${DISPLACED_SQL})
         SELECT d.tag_id, t.name, count(*) AS n FROM d JOIN tags t ON t.id = d.tag_id GROUP BY d.tag_id`,
        )
        .bind(...cte.params, restores),
    ),
    typed<SampleRow>(
      db
        .prepare(
          `WITH ${cte.sql}, picked AS (SELECT DISTINCT contact_id FROM plan WHERE skip IS NULL ORDER BY contact_id LIMIT ${SAMPLE_SIZE})
         SELECT p.contact_id, c.name AS contact_name, p.tag_id, t.name AS tag_name, p.op
         FROM plan p JOIN picked USING (contact_id) LEFT JOIN contacts c ON c.id = p.contact_id LEFT JOIN tags t ON t.id = p.tag_id
         WHERE p.skip IS NULL ORDER BY p.contact_id, p.op, p.tag_id`,
        )
        .bind(...cte.params),
    ),
  ]);

  const tags = new Map<number, RollbackTagCount>();
  const entry = (tagId: number, name: string | null) => {
    let e = tags.get(tagId);
    if (!e) tags.set(tagId, (e = { tagId, name: name ?? `#${tagId}`, add: 0, remove: 0, skipped: 0 }));
    return e;
  };
  const reasons: Record<SkipReason, number> = { conflict: 0, retired: 0, gone: 0, exclusive: 0 };
  let add = 0;
  let remove = 0;
  for (const r of byTagOp.results) {
    const e = entry(r.tag_id, r.name);
    const n = r.n;
    const skip = r.skip;
    if (skip) {
      e.skipped += n;
      reasons[skip] += n;
    } else if (r.op === 'add') {
      e.add += n;
      add += n;
    } else {
      e.remove += n;
      remove += n;
    }
  }
  let displacedTotal = 0;
  for (const r of displaced.results) {
    const n = r.n;
    entry(r.tag_id, r.name).remove += n;
    displacedTotal += n;
  }
  const skipped = reasons.conflict + reasons.retired + reasons.gone + reasons.exclusive;
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
    sampleContacts: sampleContacts(sample.results),
    reverses: null,
  };
}

/** The sample's rows grouped by contact. */
function sampleContacts(rows: SampleRow[]): RollbackSampleContact[] {
  const contacts = new Map<number, RollbackSampleContact>();
  for (const r of rows) {
    const id = r.contact_id;
    let c = contacts.get(id);
    if (!c) contacts.set(id, (c = { id, name: r.contact_name, changes: [] }));
    c.changes.push({ tagId: r.tag_id, name: r.tag_name ?? `#${r.tag_id}`, op: r.op });
  }
  return [...contacts.values()];
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
  const targets = (tagId: number, op: 'add' | 'remove') => ({
    sql: 'SELECT contact_id FROM tag_apply_targets WHERE run_id = ?',
    params: [key(tagId, op)],
  });
  // byTag.remove includes displaced siblings, which the writer removes by itself: a tag with only
  // displacements has no rows under its key, and its remove statements find nothing.
  for (const t of preview.byTag) if (t.remove > 0) out.push(...tagSetStatements(db, targets(t.tagId, 'remove'), t.tagId, 'remove', src));
  for (const t of preview.byTag) if (t.add > 0) out.push(...tagSetStatements(db, targets(t.tagId, 'add'), t.tagId, 'add', src));
  out.push(db.prepare(`DELETE FROM tag_apply_targets WHERE run_id >= ? AND run_id < ?`).bind(`${run}:`, `${run};`));
  return out;
}
