/**
 * The deliveries a set-based rule run (publish, the cron) makes through its call-webhook and
 * notify nodes: one per contact a node reaches whose tags the run changes, never one for a
 * contact it leaves as it was.
 *
 * Exact and set-based, in the run's own D1 batch: before the tag writes, each outbound node's
 * reach is copied into `tag_apply_targets` (run id `out:<json>`), from the same state the tag
 * targets and the preview read; after them, the rows of contacts without a ledger row of the
 * run's batch are deleted. What is left, committed with the tag changes or not at all, is the
 * list of deliveries still to send: `sendPendingDeliveries` reads it (contact, the run's tag
 * changes from the ledger, the action from the version's graph), enqueues, and only then
 * deletes it. When enqueueing fails the rows stay and the cron sends them again (stable
 * delivery ids make a second send of the same delivery harmless for receivers).
 */
import type { CompiledRule } from '@shared/rules/compile';
import { ruleError, type RuleResult } from '@shared/rules/errors';
import type { SqlContext, SqlFrag } from '@shared/rules/operators';
import { outboundActions, fillNotifyText } from '@shared/rules/outbound';
import { buildTargetsQuery, D1_MAX_PARAMS } from '@shared/rules/sql';
import type { OutboundActionSpec } from '@shared/rules/types';
import { parseJsonOr } from '@shared/json';
import { batch, typed } from '../db/rows';
import { deliveryId, enqueueDeliveries, type DeliveryMessage, type DeliveryTagChange } from './enqueue';

/** A set-based run of one rule version, as its deliveries name it. */
export interface OutboundRun {
  ruleId: number;
  ruleVersion: number;
  /** The run's ledger batch id: who it changed. */
  batchId: string;
  /** `publish` / `schedule`, with the run's batch id as `ref` (the delivery id's run part). */
  cause: DeliveryMessage['cause'];
  at: number;
}

/** What a staging run id carries (JSON after `out:`). */
interface StagedRun {
  r: number;
  v: number;
  n: string;
  b: string;
  k: DeliveryMessage['cause']['kind'];
  ref: string;
  at: number;
}

const PREFIX = 'out:';
/** Staging ids sort between these (`;` follows `:`): the cron's sweep reads that range. */
const RANGE: [string, string] = ['out:', 'out;'];

const runIdOf = (run: OutboundRun, nodeId: string) =>
  PREFIX +
  JSON.stringify({ r: run.ruleId, v: run.ruleVersion, n: nodeId, b: run.batchId, k: run.cause.kind, ref: run.cause.ref, at: run.at });

/**
 * Statements around a run's tag writes: `before` (copy each outbound node's reach) goes ahead
 * of every tag statement of the batch, `after` (keep the re-tagged contacts only) after them.
 * `runIds` are what to hand `sendPendingDeliveries` once the batch has committed.
 */
export function outboundStatements(
  db: D1Database,
  rule: CompiledRule,
  ctx: SqlContext,
  scope: SqlFrag | undefined,
  run: OutboundRun,
): RuleResult<{ before: D1PreparedStatement[]; after: D1PreparedStatement[]; runIds: string[] }> {
  const before: D1PreparedStatement[] = [];
  const after: D1PreparedStatement[] = [];
  const runIds: string[] = [];
  for (const a of outboundActions(rule.actions)) {
    const reach = rule.reach[a.nodeId];
    if (!reach) continue; // unreachable nodes are refused by the compiler; nothing reaches it
    const q = buildTargetsQuery(rule, ctx, reach, scope ? { scope } : {});
    if (!q.ok) return q;
    if (q.value.params.length + 1 > D1_MAX_PARAMS) {
      const message = `this call needs ${q.value.params.length + 1} SQL parameters; D1 allows ${D1_MAX_PARAMS}: simplify the rule`;
      return { ok: false, errors: [ruleError(a.nodeId, 'too_many_parameters', message)] };
    }
    const runId = runIdOf(run, a.nodeId);
    runIds.push(runId);
    before.push(
      db
        .prepare(`INSERT OR IGNORE INTO tag_apply_targets (run_id, contact_id) SELECT ?, t.id FROM (${q.value.sql}) AS t`)
        .bind(runId, ...q.value.params),
    );
    after.push(
      db
        .prepare(
          'DELETE FROM tag_apply_targets WHERE run_id = ? AND contact_id NOT IN (SELECT contact_id FROM tag_ledger WHERE batch_id = ?)',
        )
        .bind(runId, run.batchId),
    );
  }
  return { ok: true, value: { before, after, runIds } };
}

type PendingRow = { contact_id: number; external_id: string; name: string | null; owner_user_id: number | null };
type ChangeRow = { contact_id: number; tag_id: number; tag_name: string; op: 'add' | 'remove' };

/** The deliveries of one staged run, read from D1 (contacts, the ledger, the version's graph). */
export async function pendingDeliveries(db: D1Database, runId: string): Promise<DeliveryMessage[]> {
  const run = parseJsonOr<StagedRun | null>(runId.slice(PREFIX.length), null);
  if (!run) return [];
  const [contacts, changes, version] = await batch(db, [
    typed<PendingRow>(
      db
        .prepare(
          `SELECT c.id AS contact_id, c.external_id, c.name, c.owner_user_id FROM tag_apply_targets t JOIN contacts c ON c.id = t.contact_id
           WHERE t.run_id = ? ORDER BY c.id`,
        )
        .bind(runId),
    ),
    typed<ChangeRow>(
      db
        .prepare(
          `SELECT l.contact_id, l.tag_id, tg.name AS tag_name, l.op FROM tag_ledger l JOIN tags tg ON tg.id = l.tag_id
           WHERE l.batch_id = ? AND l.contact_id IN (SELECT contact_id FROM tag_apply_targets WHERE run_id = ?) ORDER BY l.id`,
        )
        .bind(run.b, runId),
    ),
    typed<{ rule_name: string; node: string | null }>(
      db
        .prepare(
          `SELECT r.name AS rule_name, (SELECT n.value FROM json_each(v.graph, '$.nodes') n WHERE json_extract(n.value, '$.id') = ?) AS node
           FROM rules r JOIN rule_versions v ON v.rule_id = r.id AND v.version = ? WHERE r.id = ?`,
        )
        .bind(run.n, run.v, run.r),
    ),
  ]);
  const head = version.results[0] ?? null;
  const action = parseJsonOr<{ action?: OutboundActionSpec } | null>(head?.node ?? null, null)?.action;
  if (!head || !action || (action.type !== 'call_webhook' && action.type !== 'notify')) return [];
  const byContact = new Map<number, DeliveryTagChange[]>();
  for (const c of changes.results) {
    const list = byContact.get(c.contact_id) ?? [];
    list.push({ tagId: c.tag_id, tagName: c.tag_name, change: c.op === 'add' ? 'added' : 'removed' });
    byContact.set(c.contact_id, list);
  }
  const out: DeliveryMessage[] = [];
  for (const c of contacts.results) {
    const tagChanges = byContact.get(c.contact_id) ?? [];
    out.push({
      id: await deliveryId({ ruleId: run.r, ruleVersion: run.v, nodeId: run.n, contactId: c.contact_id, runRef: run.ref }),
      destinationId: action.destinationId,
      kind: action.type,
      rule: { id: run.r, version: run.v, name: head.rule_name, nodeId: run.n },
      contact: { id: c.contact_id, externalId: c.external_id, name: c.name, ownerUserId: c.owner_user_id },
      tagChanges,
      ...(action.type === 'notify' ? { text: fillNotifyText(action.text, { name: c.name, rule: head.rule_name, tags: tagChanges }) } : {}),
      cause: { kind: run.k, ref: run.ref },
      at: run.at,
    });
  }
  return out;
}

/**
 * Sends the staged deliveries of `runIds` (all staged runs when omitted: the cron's sweep) and
 * deletes each run's rows once the queue has its messages. Answers how many were sent; a run
 * whose enqueue fails is left staged for the next sweep and reported in `failed`.
 */
export async function sendPendingDeliveries(
  env: Pick<Env, 'DB' | 'DELIVERIES'>,
  runIds?: readonly string[],
): Promise<{ sent: number; failed: string[] }> {
  const db = env.DB;
  const ids =
    runIds ??
    (
      await db
        .prepare('SELECT DISTINCT run_id FROM tag_apply_targets WHERE run_id >= ? AND run_id < ?')
        .bind(...RANGE)
        .all<{ run_id: string }>()
    ).results.map((r) => r.run_id);
  let sent = 0;
  const failed: string[] = [];
  for (const runId of ids) {
    try {
      const list = await pendingDeliveries(db, runId);
      await enqueueDeliveries(env, list);
      await db.prepare('DELETE FROM tag_apply_targets WHERE run_id = ?').bind(runId).run();
      sent += list.length;
    } catch (e) {
      console.error(`outbound: run ${runId} left staged for the next cron sweep`, e);
      failed.push(runId);
    }
  }
  return { sent, failed };
}
