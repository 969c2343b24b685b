/**
 * The only code that changes `contact_tags`. Every caller (webhook execution, publishing,
 * scheduled rules, manual edits, imports, rollbacks) gets statements back and runs them in ONE
 * `DB.batch` together with its own writes, so the change and its history commit atomically.
 *
 * Invariants kept here, in SQL so they hold without reading first:
 * - every real change writes a `tag_ledger` row with its source (rule id/version, actor, batch);
 * - adding a tag already held, or removing one not held, changes nothing and writes no row;
 * - adding a tag of an exclusive group removes the contact's other tags of that group, each
 *   with a 'remove' ledger row of the same source;
 * - retired tags are never added (their history stays; restoring is a taxonomy operation).
 */
import type { TagSource } from '@shared/domain';

/**
 * Tag writes prepared in this isolate whose source is not WeCom. The entry points (a request, a
 * queue batch, a publish step) compare it before and after, and when it moved they hint the
 * WeCom push after their commit (wecom/push/hint.ts): a hook, not a dependency of the writer.
 */
export const tagWrites = { count: 0 };

/** Who or what makes the change, recorded on every ledger row. */
export interface TagWriteSource {
  source: TagSource;
  ruleId?: number | null;
  ruleVersion?: number | null;
  actorUserId?: number | null;
  /** Groups the rows of one import, rollback, merge or publish. */
  batchId?: string | null;
  at: number;
}

/**
 * One change for one contact. `{ externalId }` names a contact inserted or updated earlier in
 * the same batch, whose id the caller does not know yet.
 */
export interface TagChange {
  contactId: number | { externalId: string };
  tagId: number;
  op: 'add' | 'remove';
  /** The rule version asking for this change, where one batch carries several (webhooks); else the source's. */
  ruleId?: number;
  ruleVersion?: number;
}

/** A SELECT whose single column is a contact id, with its `?` parameters. */
export interface TargetQuery {
  sql: string;
  params: unknown[];
}

const LEDGER_COLUMNS = 'contact_id, tag_id, op, source, rule_id, rule_version, actor_user_id, batch_id, at';

function sourceParams(src: TagWriteSource): unknown[] {
  return [src.source, src.ruleId ?? null, src.ruleVersion ?? null, src.actorUserId ?? null, src.batchId ?? null, src.at];
}

/** The group of tag `?` when that group is exclusive and the tag active; NULL otherwise. */
const EXCLUSIVE_GROUP_OF = `(SELECT t.group_id FROM tags t JOIN tag_groups g ON g.id = t.group_id
  WHERE t.id = ? AND g.exclusive = 1 AND t.status = 'active')`;
const TAG_IS_ACTIVE = `EXISTS (SELECT 1 FROM tags WHERE id = ? AND status = 'active')`;

/**
 * The changes as a table (`ch`): one row per change, `k` its position, the contact resolved
 * (by id, or by external id for a contact the same batch creates).
 */
const CHANGES_CTE = `ch AS MATERIALIZED (
  SELECT j.key AS k,
    COALESCE(json_extract(j.value, '$.c'), (SELECT id FROM contacts WHERE external_id = json_extract(j.value, '$.x'))) AS contact_id,
    json_extract(j.value, '$.t') AS tag_id, json_extract(j.value, '$.o') AS op,
    json_extract(j.value, '$.r') AS rule_id, json_extract(j.value, '$.v') AS rule_version
  FROM json_each(?) j)`;
/**
 * The additions that take effect (`eff`): active tags only, and of several additions into one
 * exclusive group for a contact, the last.
 */
const EFFECTIVE_ADDS_CTE = `eff AS MATERIALIZED (
  SELECT contact_id, tag_id, rule_id, rule_version, group_id, exclusive FROM (
    SELECT ch.contact_id, ch.tag_id, ch.rule_id, ch.rule_version, t.group_id, g.exclusive,
      row_number() OVER (PARTITION BY ch.contact_id, CASE WHEN g.exclusive = 1 THEN -t.group_id ELSE ch.tag_id END ORDER BY ch.k DESC) AS rn
    FROM ch JOIN tags t ON t.id = ch.tag_id JOIN tag_groups g ON g.id = t.group_id
    WHERE ch.op = 'add' AND t.status = 'active' AND ch.contact_id IS NOT NULL)
  WHERE rn = 1)`;
/** Tags an effective addition displaces: the contact's other tags of the same exclusive group. */
const DISPLACED = `FROM eff e JOIN contact_tags ct ON ct.contact_id = e.contact_id JOIN tags s ON s.id = ct.tag_id
  WHERE e.exclusive = 1 AND s.group_id = e.group_id AND ct.tag_id <> e.tag_id`;

/**
 * Statements applying per-contact changes (webhooks, manual edits): a constant number of
 * statements however many changes, each over one JSON parameter.
 *
 * The changes apply as a set, not one by one: per contact and tag the last change counts;
 * removals go first, then additions; of several additions into one exclusive group for a
 * contact the last wins. (Callers pass net changes; this only decides the odd case.)
 */
export function tagChangeStatements(
  db: D1Database,
  changes: TagChange[],
  src: TagWriteSource,
  /** the caller knows no tag added is in an exclusive group: the displacement statements are left out */
  opts: { noExclusive?: boolean } = {},
): D1PreparedStatement[] {
  if (src.source !== 'wecom' && changes.length) tagWrites.count++;
  const last = new Map<string, TagChange>();
  for (const ch of changes) {
    const key = `${typeof ch.contactId === 'number' ? ch.contactId : `x:${ch.contactId.externalId}`}|${ch.tagId}`;
    last.delete(key);
    last.set(key, ch);
  }
  const rows = [...last.values()].map((ch) => ({
    ...(typeof ch.contactId === 'number' ? { c: ch.contactId } : { x: ch.contactId.externalId }),
    t: ch.tagId,
    o: ch.op,
    r: ch.ruleId ?? src.ruleId ?? null,
    v: ch.ruleVersion ?? src.ruleVersion ?? null,
  }));
  const removes = rows.some((r) => r.o === 'remove');
  const added = [...new Set(rows.filter((r) => r.o === 'add').map((r) => r.t))];
  const list = JSON.stringify(rows);
  // source, actor, batch, at: the ledger columns every row of this call shares
  const who = [src.source, src.actorUserId ?? null, src.batchId ?? null, src.at];
  const ledger = (select: string) => `INSERT INTO tag_ledger (${LEDGER_COLUMNS}) SELECT ${select}`;
  const out: D1PreparedStatement[] = [];
  if (removes) {
    out.push(
      db
        .prepare(
          `WITH ${CHANGES_CTE} ${ledger(`ct.contact_id, ct.tag_id, 'remove', ?2, ch.rule_id, ch.rule_version, ?3, ?4, ?5
           FROM ch JOIN contact_tags ct ON ct.contact_id = ch.contact_id AND ct.tag_id = ch.tag_id WHERE ch.op = 'remove'`)}`,
        )
        .bind(list, ...who),
      db
        .prepare(
          `WITH ${CHANGES_CTE} DELETE FROM contact_tags WHERE (contact_id, tag_id) IN (SELECT contact_id, tag_id FROM ch WHERE op = 'remove')`,
        )
        .bind(list),
    );
  }
  if (added.length) {
    const adds = `WITH ${CHANGES_CTE}, ${EFFECTIVE_ADDS_CTE}`;
    if (!opts.noExclusive)
      out.push(
        // exclusive siblings go first, each with its ledger row
        db
          .prepare(`${adds} ${ledger(`ct.contact_id, ct.tag_id, 'remove', ?2, e.rule_id, e.rule_version, ?3, ?4, ?5 ${DISPLACED}`)}`)
          .bind(list, ...who),
        db
          .prepare(`${adds} DELETE FROM contact_tags WHERE (contact_id, tag_id) IN (SELECT ct.contact_id, ct.tag_id ${DISPLACED})`)
          .bind(list),
      );
    out.push(
      db
        .prepare(
          `${adds} ${ledger(`e.contact_id, e.tag_id, 'add', ?2, e.rule_id, e.rule_version, ?3, ?4, ?5 FROM eff e
           WHERE NOT EXISTS (SELECT 1 FROM contact_tags ct WHERE ct.contact_id = e.contact_id AND ct.tag_id = e.tag_id)`)}`,
        )
        .bind(list, ...who),
      db
        .prepare(
          `${adds} INSERT INTO contact_tags (contact_id, tag_id, source, rule_id, rule_version, added_at)
           SELECT e.contact_id, e.tag_id, ?2, e.rule_id, e.rule_version, ?3 FROM eff e WHERE true ON CONFLICT DO NOTHING`,
        )
        .bind(list, src.source, src.at),
      lastAppliedStatement(db, added, src.at),
    );
  }
  return out;
}

/**
 * Set-based: add or remove `tagId` for every contact the target query returns (publishing,
 * scheduled rules, bulk edits). The targets are computed once into `tag_apply_targets` and
 * removed at the end of the same batch, so the query runs once however many statements use it.
 */
export function tagSetStatements(
  db: D1Database,
  targets: TargetQuery,
  tagId: number,
  op: 'add' | 'remove',
  src: TagWriteSource,
): D1PreparedStatement[] {
  if (src.source !== 'wecom') tagWrites.count++;
  const run = crypto.randomUUID();
  const s = sourceParams(src);
  const t = tagId;
  const inRun = 'SELECT contact_id FROM tag_apply_targets WHERE run_id = ?';
  const out: D1PreparedStatement[] = [
    db
      .prepare(`INSERT OR IGNORE INTO tag_apply_targets (run_id, contact_id) SELECT ?, q.* FROM (${targets.sql}) AS q`)
      .bind(run, ...targets.params),
  ];
  if (op === 'add') {
    out.push(
      db
        .prepare(
          `INSERT INTO tag_ledger (${LEDGER_COLUMNS})
           SELECT ct.contact_id, ct.tag_id, 'remove', ?, ?, ?, ?, ?, ?
           FROM contact_tags ct JOIN tags s ON s.id = ct.tag_id
           WHERE ct.contact_id IN (${inRun}) AND ct.tag_id <> ? AND s.group_id = ${EXCLUSIVE_GROUP_OF}`,
        )
        .bind(...s, run, t, t),
      db
        .prepare(
          `DELETE FROM contact_tags WHERE contact_id IN (${inRun}) AND tag_id <> ?
           AND tag_id IN (SELECT id FROM tags WHERE group_id = ${EXCLUSIVE_GROUP_OF})`,
        )
        .bind(run, t, t),
      db
        .prepare(
          `INSERT INTO tag_ledger (${LEDGER_COLUMNS})
           SELECT x.contact_id, ?, 'add', ?, ?, ?, ?, ?, ? FROM tag_apply_targets x
           WHERE x.run_id = ? AND ${TAG_IS_ACTIVE}
             AND NOT EXISTS (SELECT 1 FROM contact_tags ct WHERE ct.contact_id = x.contact_id AND ct.tag_id = ?)`,
        )
        .bind(t, ...s, run, t, t),
      db
        .prepare(
          `INSERT INTO contact_tags (contact_id, tag_id, source, rule_id, rule_version, added_at)
           SELECT x.contact_id, ?, ?, ?, ?, ? FROM tag_apply_targets x
           WHERE x.run_id = ? AND ${TAG_IS_ACTIVE}
           ON CONFLICT DO NOTHING`,
        )
        .bind(t, src.source, src.ruleId ?? null, src.ruleVersion ?? null, src.at, run, t),
      lastAppliedStatement(db, [t], src.at),
    );
  } else {
    out.push(
      db
        .prepare(
          `INSERT INTO tag_ledger (${LEDGER_COLUMNS})
           SELECT contact_id, tag_id, 'remove', ?, ?, ?, ?, ?, ?
           FROM contact_tags WHERE tag_id = ? AND contact_id IN (${inRun})`,
        )
        .bind(...s, t, run),
      db.prepare(`DELETE FROM contact_tags WHERE tag_id = ? AND contact_id IN (${inRun})`).bind(t, run),
    );
  }
  out.push(db.prepare('DELETE FROM tag_apply_targets WHERE run_id = ?').bind(run));
  return out;
}

/** Marks tags as applied at `at` (retirement proposals read it); one JSON parameter for any number of tags. */
function lastAppliedStatement(db: D1Database, tagIds: number[], at: number): D1PreparedStatement {
  const ids = JSON.stringify(tagIds);
  return db
    .prepare(
      `UPDATE tags SET last_applied_at = max(coalesce(last_applied_at, 0), ?)
       WHERE status = 'active' AND id IN (SELECT value FROM json_each(?))`,
    )
    .bind(at, ids);
}
