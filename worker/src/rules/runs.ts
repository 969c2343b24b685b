/**
 * A rule's run history, read from the ledger: every tag change a rule writes is a `tag_ledger`
 * row (source `rule`) with its batch id — `publish:<rule>:<version>` for a publish,
 * `schedule:<rule>:<version>:<at>` for a cron run (`demo-run:…` for the seed's back-computed
 * ones), a random id per event on the webhook path.
 * A publish or a scheduled run is one batch; event batches are one event each, so they are
 * grouped per hour (UTC hour start) rather than listed one by one.
 *
 * The cron's per-run errors are not stored; what is kept is a `rule_errors` alert's episodes
 * (when such an alert watches the rule) and the system's pause, so those are the errors shown.
 */
import type { RuleRun, RuleRunError, RuleRunKind, RuleRunsResponse } from '@shared/api/rules';
import type { AlertMeasured } from '@shared/api/alerts';
import type { RulePausedReason } from '@shared/api/rules';
import { parseJsonOr } from '@shared/json';

const HOUR = 3_600_000;
/** Alert episodes shown beside the runs (the newest). */
const MAX_ERRORS = 20;

/**
 * The run a ledger row belongs to, and its kind, as SQL over `tag_ledger` columns. The demo seed
 * back-computes the cron's past runs as `demo-run:<rule>:<at>` batches (scripts/seed.ts): they
 * stand for scheduled runs and are shown as such.
 */
const SCHEDULED = `(batch_id LIKE 'schedule:%' OR batch_id LIKE 'demo-run:%')`;
const RUN_KEY = `CASE WHEN batch_id LIKE 'publish:%' OR ${SCHEDULED} THEN batch_id ELSE 'event:' || ((at / ${HOUR}) * ${HOUR}) END`;
const RUN_KIND = `CASE WHEN batch_id LIKE 'publish:%' THEN 'publish' WHEN ${SCHEDULED} THEN 'schedule' ELSE 'event' END`;

interface RunRow {
  run_key: string;
  kind: RuleRunKind;
  from_at: number;
  to_at: number;
  versions: string;
  events: number;
  contacts: number;
  added: number;
  removed: number;
}

/** One page of the rule's runs, newest first, with the errors recorded for it. */
export async function ruleRuns(db: D1Database, ruleId: number, page: number, pageSize: number): Promise<RuleRunsResponse> {
  // the rows of this rule only (index tag_ledger_rule_at_idx), keyed once; both reads group them
  const keyed = `SELECT ${RUN_KEY} AS run_key, ${RUN_KIND} AS kind, batch_id, rule_version, contact_id, tag_id, op, at
    FROM tag_ledger WHERE rule_id = ?1 AND source = 'rule'`;
  const [runs, total, tags, errors] = await db.batch<Record<string, unknown>>([
    db
      .prepare(
        `SELECT run_key, kind, min(at) AS from_at, max(at) AS to_at, json_group_array(DISTINCT rule_version) AS versions,
           count(DISTINCT batch_id) AS events, count(DISTINCT contact_id) AS contacts,
           sum(op = 'add') AS added, sum(op = 'remove') AS removed
         FROM (${keyed}) GROUP BY run_key ORDER BY to_at DESC, run_key DESC LIMIT ?2 OFFSET ?3`,
      )
      .bind(ruleId, pageSize, (page - 1) * pageSize),
    db.prepare(`SELECT count(DISTINCT run_key) AS n FROM (${keyed})`).bind(ruleId),
    // the per-tag split of the same page: the page's runs are the newest `pageSize` after the offset
    db
      .prepare(
        `WITH k AS (${keyed}),
              p AS (SELECT run_key FROM k GROUP BY run_key ORDER BY max(at) DESC, run_key DESC LIMIT ?2 OFFSET ?3)
         SELECT run_key, tag_id, sum(op = 'add') AS added, sum(op = 'remove') AS removed
         FROM k WHERE run_key IN (SELECT run_key FROM p) GROUP BY run_key, tag_id ORDER BY run_key, tag_id`,
      )
      .bind(ruleId, pageSize, (page - 1) * pageSize),
    db
      .prepare(
        `SELECT 'alert' AS kind, a.raised_at AS at, a.cleared_at AS cleared_at, a.measured AS detail
           FROM alerts a JOIN alert_rules ar ON ar.id = a.alert_rule_id
          WHERE ar.kind = 'rule_errors' AND ar.rule_id = ?1
         UNION ALL
         SELECT 'paused', json_extract(paused_reason, '$.at'), NULL, paused_reason FROM rules WHERE id = ?1 AND status = 'paused' AND paused_reason IS NOT NULL
         ORDER BY at DESC LIMIT ${MAX_ERRORS}`,
      )
      .bind(ruleId),
  ]);
  const tagsByRun = new Map<string, RuleRun['tags']>();
  for (const t of tags!.results as { run_key: string; tag_id: number; added: number; removed: number }[]) {
    const list = tagsByRun.get(t.run_key) ?? [];
    list.push({ tagId: t.tag_id, added: t.added, removed: t.removed });
    tagsByRun.set(t.run_key, list);
  }
  const items: RuleRun[] = (runs!.results as unknown as RunRow[]).map((r) => ({
    key: r.run_key,
    kind: r.kind,
    from: r.from_at,
    to: r.to_at,
    versions: parseJsonOr<(number | null)[]>(r.versions, [])
      .filter((v): v is number => typeof v === 'number')
      .sort((a, b) => a - b),
    events: r.kind === 'event' ? r.events : 1,
    contacts: r.contacts,
    added: r.added,
    removed: r.removed,
    tags: tagsByRun.get(r.run_key) ?? [],
  }));
  return {
    items,
    total: (total!.results[0] as { n: number } | undefined)?.n ?? 0,
    page,
    pageSize,
    errors: (
      errors!.results as { kind: 'alert' | 'paused'; at: number | null; cleared_at: number | null; detail: string | null }[]
    ).flatMap((e): RuleRunError[] => {
      if (e.kind === 'paused') {
        const p = parseJsonOr<RulePausedReason | null>(e.detail, null);
        if (!p) return [];
        const why = p.problems.map((x) => x.why).join(', ');
        return [{ kind: 'paused', at: p.at, clearedAt: null, reason: `${p.kind}${why ? `: ${why}` : ''}` }];
      }
      const m = parseJsonOr<AlertMeasured | null>(e.detail, null);
      const reason = m && m.kind === 'rule_errors' ? m.reason : 'rule_errors';
      return [{ kind: 'alert', at: e.at ?? 0, clearedAt: e.cleared_at, reason }];
    }),
  };
}
