/**
 * Publishing a rule's draft: the user must see what they publish, so the per-tag net change is
 * counted again now (within the share and the rule's departments) and must equal what was
 * confirmed; then the version, the status, the net change (apply.ts) and the audit row carrying
 * the ledger's own counts commit in one batch. A draft changed in between rolls it all back.
 */
import { ApiError } from '../errors';
import { requireNotWecomOwned } from '../wecom/push/policy';
import { archivedThroughDay, archivedWindowErrors } from '../archive/horizon';
import { expectedCallsOf, type PreviewCountsBody, type PublishBody, type TagCounts, type PublishResponse } from '@shared/api/rules';
import type { FieldProblem } from '@shared/api/errors';
import { auditInsert, AuditSql } from '../audit';
import type { Actor } from '../auth/access';
import type { SessionUser } from '@shared/api/auth';
import { graphHash, loadWorkspace, previewContext, type Workspace } from './context';
import { segmentReferences } from '@shared/rules/segment';
import { requireVisibleSegments } from '../segments/references';
import type { SqlContext, SqlFrag } from '@shared/rules/operators';
import { applyStatements } from './apply';
import { outboundStatements, sendPendingDeliveries } from '../outbound/rule-deliveries';
import { appliesNow, countRule, ruleScope, type CountedRule } from './rule-preview';
import { requireRuleRights } from './rights';
import { conflict, getRule, parse, ruleDetail, appliedOf, type PublishRecord } from './detail';
import { requireNoApproval } from '../publishing/approval';

/**
 * A publish made by a plan's step (worker/src/publishing/): the cron, or an approval, publishing on
 * behalf of the requester. Its counts are what publishing writes at its time (the requester
 * confirmed the counts of request time, kept with the plan); `statements` join the publish's batch
 * (the step's run row, whose key makes the step publish once) and receive the new version.
 */
export interface PlanStepPublish {
  statements: (version: number) => D1PreparedStatement[];
}

/**
 * Where the confirmed per-tag counts differ from what publishing would write now. Every tag of
 * the preview's `tags` must be confirmed (a tag the rule only displaces is there once someone
 * would lose it). A rule that does not apply now (it reads its triggering event) writes nothing
 * at publish, so only the tags named are checked.
 */
function confirmationProblems(now: TagCounts[], expected: PublishBody['expected'], percent: number, applies: boolean): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const t of applies ? now : []) {
    const exp = expected[String(t.tagId)];
    if (!exp) {
      problems.push({
        path: `expected.${t.tagId}`,
        message: `missing: publishing would now add it to ${t.gain} and remove it from ${t.lose}`,
      });
      continue;
    }
    for (const key of ['gain', 'lose'] as const) {
      if (exp[key] !== t[key]) {
        problems.push({
          path: `expected.${t.tagId}.${key}`,
          message: `is ${exp[key]}, but publishing at ${percent}% would now ${key === 'gain' ? 'add it to' : 'remove it from'} ${t[key]}`,
        });
      }
    }
  }
  for (const tagId of Object.keys(expected)) {
    if (!now.some((t) => String(t.tagId) === tagId))
      problems.push({ path: `expected.${tagId}`, message: 'is not a tag this publish changes' });
  }
  return problems;
}

/** Where the confirmed calls per call-webhook / notify node differ from what publishing would make now (when confirmed). */
function callProblems(now: PreviewCountsBody, expected: PublishBody['expectedCalls']): FieldProblem[] {
  if (!expected) return [];
  const calls = expectedCallsOf(now);
  const problems: FieldProblem[] = [];
  for (const [nodeId, n] of Object.entries(calls)) {
    if (expected[nodeId] !== n)
      problems.push({
        path: `expectedCalls.${nodeId}`,
        message: `is ${expected[nodeId] ?? 'missing'}, but publishing would now call ${n} times`,
      });
  }
  for (const nodeId of Object.keys(expected)) {
    if (!(nodeId in calls))
      problems.push({ path: `expectedCalls.${nodeId}`, message: 'is not a call-webhook or notify node of this rule' });
  }
  return problems;
}

/** The draft counted as publishing at `percent` would write it at `now`: 422 when it cannot be published. */
export async function countForPublish(
  db: D1Database,
  env: Env,
  id: number,
  ownerPath: string | null,
  percent: number,
  draft: unknown,
  now: number,
): Promise<{ ws: Workspace; ctx: SqlContext; scope: SqlFrag | undefined; counted: CountedRule; applyNow: boolean }> {
  const ws = await loadWorkspace(db);
  const ctx = previewContext(env, now);
  const scope = ruleScope(id, percent, ownerPath);
  const counted = await countRule(db, ws, draft, ctx, scope);
  if (!counted.ok) {
    throw new ApiError(
      422,
      'invalid_rule',
      `The draft cannot be published: ${counted.errors.map((e) => e.message).join('; ')}`,
      counted.errors.map((e) => ({ path: e.nodeId ?? 'graph', message: e.message })),
    );
  }
  // Raw events older than the archive horizon are in R2, where rule SQL cannot read them.
  const archived = archivedWindowErrors(counted.value.rule, await archivedThroughDay(db), now, ctx.tzOffsetMinutes);
  if (archived.length) {
    throw new ApiError(
      422,
      'invalid_rule',
      `The draft cannot be published: ${archived[0]!.message}`,
      archived.map((e) => ({ path: e.nodeId ?? 'graph', message: e.message })),
    );
  }
  return { ws, ctx, scope, counted: counted.value, applyNow: appliesNow(counted.value.rule) };
}

/** 409 unless the confirmed counts (`expected`, `expectedCalls`) are what publishing writes now. */
export function requireConfirmed(
  counts: PreviewCountsBody,
  b: Pick<PublishBody, 'expected' | 'expectedCalls' | 'rolloutPercent'>,
  applyNow: boolean,
): void {
  const problems = [...confirmationProblems(counts.tags, b.expected, b.rolloutPercent, applyNow), ...callProblems(counts, b.expectedCalls)];
  if (problems.length) {
    throw conflict(
      `What publishing would change is not what was confirmed (${problems.map((p) => `${p.path} ${p.message}`).join('; ')}): preview again`,
      problems,
    );
  }
}

/**
 * Publishes rule `id` as `user` (`actor` for the audit row, null for the system); `ownerPath` is the
 * rule's department path. Without `step` (a person publishing now) a department admin of a
 * department whose approval policy is on is refused: their publish goes through a plan.
 */
export async function publishRule(
  db: D1Database,
  env: Env,
  user: SessionUser,
  actor: Actor | null,
  ownerPath: string | null,
  id: number,
  b: PublishBody,
  step?: PlanStepPublish,
): Promise<PublishResponse> {
  // Long on purpose: the checks, then the one batch that publishes atomically; the statements' order is the logic.
  const rule = await getRule(db, id);
  if (rule.status === 'archived') throw conflict(`Rule ${id} is archived and cannot be published`);
  const draft = parse<unknown>(rule.draft_graph, null);
  await requireRuleRights(db, user, draft);
  // a condition "in segment X" may name only a segment the publisher can see
  if (segmentReferences(draft).length) requireVisibleSegments(await loadWorkspace(db), user, draft);
  await requireNotWecomOwned(db, draft);
  if (!step) await requireNoApproval(db, user, ownerPath);
  if ((await graphHash(draft)) !== b.graphHash) {
    throw conflict('The draft changed since the preview you confirmed: preview it again and confirm what it will change', [
      { path: 'graphHash', message: 'does not match the saved draft' },
    ]);
  }
  const now = Date.now();
  const { ws, ctx, scope, counted, applyNow } = await countForPublish(db, env, id, ownerPath, b.rolloutPercent, draft, now);
  const { rule: compiled, counts } = counted;
  // The user must see what they publish: the confirmed per-tag net change must be what publishing writes now.
  if (!step) requireConfirmed(counts, b, applyNow);

  const latest = await db.prepare('SELECT max(version) AS v FROM rule_versions WHERE rule_id = ?').bind(id).first<{ v: number | null }>();
  const version = (latest?.v ?? 0) + 1;
  const batchId = `publish:${id}:${version}`;
  const apply = applyNow
    ? applyStatements(db, compiled, counted.net, ctx, scope, { source: 'rule', ruleId: id, ruleVersion: version, batchId, at: now })
    : { ok: true as const, value: [] };
  if (!apply.ok) {
    throw new ApiError(
      422,
      'invalid_rule',
      `The draft cannot be applied: ${apply.errors.map((e) => e.message).join('; ')}`,
      apply.errors.map((e) => ({ path: e.nodeId ?? 'graph', message: e.message })),
    );
  }
  // Call-webhook / notify nodes: staged in the same batch for the contacts publishing re-tags (outbound/rule-deliveries.ts).
  const outbound = applyNow
    ? outboundStatements(db, compiled, ctx, scope, {
        ruleId: id,
        ruleVersion: version,
        batchId,
        cause: { kind: 'publish', ref: batchId },
        at: now,
      })
    : { ok: true as const, value: { before: [], after: [], runIds: [] } };
  if (!outbound.ok) {
    throw new ApiError(
      422,
      'invalid_rule',
      `The draft cannot be applied: ${outbound.errors.map((e) => e.message).join('; ')}`,
      outbound.errors.map((e) => ({ path: e.nodeId ?? 'graph', message: e.message })),
    );
  }
  const trigger = compiled.trigger.type === 'schedule' ? 'schedule' : compiled.trigger.eventType;
  try {
    await db.batch([
      // first: a plan step's run row, whose key makes a step publish once (a second tick fails here, before anything else)
      ...(step ? step.statements(version) : []),
      // The graph is NULL (a constraint error that rolls the whole batch back) if the draft
      // changed since it was read above: what is published is what was counted.
      db
        .prepare(
          `INSERT INTO rule_versions (rule_id, version, graph, logic, trigger, rollout_percent, note, created_by, created_at, published_at)
           VALUES (?, ?, CASE WHEN EXISTS (SELECT 1 FROM rules WHERE id = ? AND updated_at = ? AND status <> 'archived') THEN ? END,
                   ?, ?, ?, ?, ?, ?, ?)`,
        )
        .bind(
          id,
          version,
          id,
          rule.updated_at,
          rule.draft_graph,
          JSON.stringify(compiled.logic),
          trigger,
          b.rolloutPercent,
          b.note ?? null,
          user.id,
          now,
          now,
        ),
      db
        .prepare("UPDATE rules SET status = 'published', published_version = ?, updated_at = max(?, updated_at + 1) WHERE id = ?")
        .bind(version, now, id),
      ...outbound.value.before,
      ...apply.value,
      ...outbound.value.after,
      // The audit row records what the ledger says was written, computed inside the batch.
      auditInsert(db, {
        at: now,
        actor,
        action: 'rule.publish',
        objectType: 'rule',
        objectId: id,
        summary: `published version ${version} of rule "${rule.name}" at ${b.rolloutPercent}%`,
        params: { name: rule.name, version, share: b.rolloutPercent },
        before: { status: rule.status, publishedVersion: rule.published_version },
        after: new AuditSql(
          `json_object('version', ?, 'rolloutPercent', ?, 'graphHash', ?, 'preview', json(?), 'ledger',
             (SELECT json_group_array(json_object('tagId', tag_id, 'op', op, 'n', n))
              FROM (SELECT tag_id, op, COUNT(*) AS n FROM tag_ledger WHERE rule_id = ? AND rule_version = ? AND batch_id = ? GROUP BY tag_id, op)))`,
          version,
          b.rolloutPercent,
          b.graphHash,
          JSON.stringify({ total: counts.total, matched: counts.matched, tags: counts.tags }),
          id,
          version,
          batchId,
        ),
      }),
    ]);
  } catch (e) {
    const msg = String((e as Error)?.message ?? e);
    if (msg.includes('NOT NULL constraint failed: rule_versions.graph') || msg.includes('UNIQUE constraint failed: rule_versions')) {
      throw conflict(`Rule ${id} changed while it was being published: nothing was written; preview it again`);
    }
    throw e;
  }
  // After the commit: a failed enqueue leaves the deliveries staged for the cron to send (never lost, never for unchanged contacts).
  if (outbound.value.runIds.length) await sendPendingDeliveries(env, outbound.value.runIds);
  const record = await db
    .prepare(
      `SELECT after FROM audit_log WHERE object_type = 'rule' AND object_id = ? AND action = 'rule.publish' ORDER BY id DESC LIMIT 1`,
    )
    .bind(String(id))
    .first<{ after: string }>();
  const applied = appliedOf(
    parse<PublishRecord>(record?.after, {
      version,
      rolloutPercent: b.rolloutPercent,
      graphHash: b.graphHash,
      preview: { total: counts.total, matched: counts.matched, tags: counts.tags },
      ledger: [],
    }),
  );
  return { rule: await ruleDetail(db, id, ws), version, applied };
}
