/**
 * Alert rules and alerts for people: list (scoped), create and edit (department admins within
 * their scope, super admins anything), mute / unmute, acknowledge. Every write carries its audit
 * entry in the same D1 batch, written only if the write changed a row.
 *
 * Scope: an alert rule belongs to the department of what it watches (a segment's or a rule's; null
 * for company-wide objects and for intake, which only super admins see), and so do its alerts.
 */
import {
  ALERT_KIND_SPEC,
  SUPER_ADMIN_ALERT_KINDS,
  type AlertItem,
  type AlertList,
  type AlertListQuery,
  type AlertMeasured,
  type AlertRuleBody,
  type AlertRuleItem,
  type MuteBody,
} from '@shared/api/alerts';
import type { SessionUser } from '@shared/api/auth';
import { parseJsonOr } from '@shared/json';
import { auditStatementForNewRow, auditStatementIfChanged } from '../audit';
import { forbidden, hasRole, inScope, outOfScope, userScope, type Actor } from '../auth/access';
import { batch, typed, type AlertRow, type AlertRuleRow, type CountRow } from '../db/rows';
import { ApiError } from '../errors';
import { TARGET_COLUMNS, targetOf, type TargetColumns } from './target';

type RuleListRow = AlertRuleRow &
  TargetColumns & {
    destination_name: string | null;
    current_id: number | null;
    current_state: 'open' | 'acknowledged' | null;
    current_raised_at: number | null;
    last_raised_at: number | null;
  };

const RULE_SELECT = `SELECT ar.*, ${TARGET_COLUMNS},
  (SELECT name FROM destinations WHERE id = ar.destination_id) AS destination_name,
  e.id AS current_id, e.state AS current_state, e.raised_at AS current_raised_at,
  (SELECT MAX(raised_at) FROM alerts WHERE alert_rule_id = ar.id) AS last_raised_at
  FROM alert_rules ar LEFT JOIN alerts e ON e.alert_rule_id = ar.id AND e.cleared_at IS NULL`;

const isMuted = (r: Pick<AlertRuleRow, 'muted_at' | 'muted_until'>, now: number) =>
  r.muted_at !== null && (r.muted_until === null || r.muted_until > now);

function toRuleItem(r: RuleListRow, now: number): AlertRuleItem {
  const muted = isMuted(r, now);
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    target: ALERT_KIND_SPEC[r.kind].target === null ? null : targetOf(r.kind, r),
    threshold: r.threshold,
    destination: r.destination_id === null ? null : { id: r.destination_id, name: r.destination_name ?? `#${r.destination_id}` },
    departmentId: r.department_id,
    muted,
    mutedUntil: muted ? r.muted_until : null,
    current: r.current_id === null ? null : { id: r.current_id, state: r.current_state ?? 'open', raisedAt: r.current_raised_at ?? 0 },
    lastRaisedAt: r.last_raised_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** Alert rules the user may see, newest first. */
export async function listAlertRules(db: D1Database, user: SessionUser, now: number): Promise<AlertRuleItem[]> {
  const scope = userScope(user, 'ar.department_id');
  const { results } = await db
    .prepare(`${RULE_SELECT}${scope ? ` WHERE ${scope.sql}` : ''} ORDER BY ar.id DESC LIMIT 500`)
    .bind(...(scope?.params ?? []))
    .all<RuleListRow>();
  return results.map((r) => toRuleItem(r, now));
}

async function ruleItem(db: D1Database, id: number, now: number): Promise<AlertRuleItem> {
  const row = await db.prepare(`${RULE_SELECT} WHERE ar.id = ?`).bind(id).first<RuleListRow>();
  if (!row) throw new ApiError(404, 'not_found', `No alert rule with id ${id}`);
  return toRuleItem(row, now);
}

/** The alert rule if the user may see it (else 404, out of scope recorded as such); staff may not change it (403). */
async function visibleRule(db: D1Database, user: SessionUser, id: number, write: boolean): Promise<AlertRuleRow> {
  const row = await db
    .prepare(
      'SELECT ar.*, d.path AS department_path FROM alert_rules ar LEFT JOIN departments d ON d.id = ar.department_id WHERE ar.id = ?',
    )
    .bind(id)
    .first<AlertRuleRow & { department_path: string | null }>();
  if (!row) throw new ApiError(404, 'not_found', `No alert rule with id ${id}`);
  if (!inScope(user, row.department_path)) throw outOfScope('alert rule', id);
  if (write && !hasRole(user, 'dept_admin')) throw forbidden(user, 'staff may read alert rules but not change them');
  return row;
}

const badRef = (path: string, message: string) => new ApiError(400, 'unknown_reference', `${path}: ${message}`, [{ path, message }]);

/**
 * The department an alert rule about `b`'s target belongs to, once the user may watch it: a
 * segment or rule in their scope (403 outside it), intake kinds for super admins only (403).
 */
async function targetDepartment(
  db: D1Database,
  user: SessionUser,
  b: AlertRuleBody,
): Promise<{ departmentId: number | null; name: string }> {
  const spec = ALERT_KIND_SPEC[b.kind];
  if (SUPER_ADMIN_ALERT_KINDS.includes(b.kind) && !hasRole(user, 'super_admin'))
    throw forbidden(user, `${b.kind} alerts watch intake, which only super admins see`);
  if (b.destinationId != null) {
    const d = await db
      .prepare('SELECT revoked_at FROM destinations WHERE id = ?')
      .bind(b.destinationId)
      .first<{ revoked_at: number | null }>();
    if (!d) throw badRef('destinationId', `no destination with id ${b.destinationId}`);
    if (d.revoked_at !== null) throw badRef('destinationId', `destination ${b.destinationId} is revoked`);
  }
  if (spec.target === 'source') {
    const s = await db.prepare('SELECT name FROM event_sources WHERE id = ?').bind(b.sourceId).first<{ name: string }>();
    if (!s) throw badRef('sourceId', `no event source with id ${b.sourceId}`);
    return { departmentId: null, name: s.name };
  }
  if (spec.target === null) return { departmentId: null, name: '' };
  const table = spec.target === 'segment' ? 'segments' : 'rules';
  const id = spec.target === 'segment' ? b.segmentId : b.ruleId;
  const path = spec.target === 'segment' ? 'segmentId' : 'ruleId';
  const row = await db
    .prepare(`SELECT t.name, t.department_id, d.path FROM ${table} t LEFT JOIN departments d ON d.id = t.department_id WHERE t.id = ?`)
    .bind(id)
    .first<{ name: string; department_id: number | null; path: string | null }>();
  if (!row) throw badRef(path, `no ${spec.target} with id ${id}`);
  if (!inScope(user, row.path)) throw forbidden(user, `${spec.target} ${id} is outside your department`);
  return { departmentId: row.department_id, name: row.name };
}

/** The values of the create / update sentence: the target's name, when the kind watches one. */
const sentenceOf = (b: AlertRuleBody, target: string) =>
  ALERT_KIND_SPEC[b.kind].target === null
    ? { variant: 'any' as const, name: b.name, alertKind: b.kind }
    : { variant: 'target' as const, name: b.name, alertKind: b.kind, target };

/** Only the target field its kind reads is kept; the others are stored as null. */
function columnsOf(b: AlertRuleBody) {
  const spec = ALERT_KIND_SPEC[b.kind];
  return {
    segmentId: spec.target === 'segment' ? (b.segmentId ?? null) : null,
    ruleId: spec.target === 'rule' ? (b.ruleId ?? null) : null,
    sourceId: spec.target === 'source' ? (b.sourceId ?? null) : null,
    threshold: spec.threshold === null ? null : (b.threshold ?? null),
    destinationId: b.destinationId ?? null,
  };
}

export async function createAlertRule(
  db: D1Database,
  user: SessionUser,
  b: AlertRuleBody,
  actor: Actor,
  now: number,
): Promise<AlertRuleItem> {
  const t = await targetDepartment(db, user, b);
  const c = columnsOf(b);
  const [, , created] = await batch(db, [
    db
      .prepare(
        `INSERT INTO alert_rules (name, kind, segment_id, rule_id, source_id, threshold, destination_id, department_id, checked_at,
           created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .bind(b.name, b.kind, c.segmentId, c.ruleId, c.sourceId, c.threshold, c.destinationId, t.departmentId, now, user.id, now, now),
    auditStatementForNewRow(db, {
      actor,
      action: 'alert_rule.create',
      objectType: 'alert_rule',
      summary: `Created alert rule ${b.name} (${b.kind}${t.name ? `, ${t.name}` : ''})`,
      params: sentenceOf(b, t.name),
      after: { ...b, ...c, departmentId: t.departmentId },
      at: now,
    }),
    // the new rule's id, as the audit entry just written recorded it
    typed<{ id: number }>(db.prepare('SELECT CAST(object_id AS INTEGER) AS id FROM audit_log WHERE id = last_insert_rowid()')),
  ]);
  return ruleItem(db, created.results[0]!.id, now);
}

export async function updateAlertRule(
  db: D1Database,
  user: SessionUser,
  id: number,
  b: AlertRuleBody,
  actor: Actor,
  now: number,
): Promise<AlertRuleItem> {
  const before = await visibleRule(db, user, id, true);
  const t = await targetDepartment(db, user, b);
  const c = columnsOf(b);
  // a changed kind or target is a different watch: its open episode ends, the next tick measures afresh
  const rewatch =
    before.kind !== b.kind || before.segment_id !== c.segmentId || before.rule_id !== c.ruleId || before.source_id !== c.sourceId;
  await db.batch([
    db
      .prepare(
        `UPDATE alert_rules SET name = ?, kind = ?, segment_id = ?, rule_id = ?, source_id = ?, threshold = ?, destination_id = ?,
           department_id = ?, updated_at = ? WHERE id = ? AND updated_at = ?`,
      )
      .bind(b.name, b.kind, c.segmentId, c.ruleId, c.sourceId, c.threshold, c.destinationId, t.departmentId, now, id, before.updated_at),
    auditStatementIfChanged(db, {
      actor,
      action: 'alert_rule.update',
      objectType: 'alert_rule',
      objectId: id,
      summary: `Changed alert rule ${b.name} (${b.kind}${t.name ? `, ${t.name}` : ''})`,
      params: sentenceOf(b, t.name),
      before: ruleState(before),
      after: { name: b.name, kind: b.kind, ...c, departmentId: t.departmentId },
      at: now,
    }),
    ...(rewatch ? [db.prepare('UPDATE alerts SET cleared_at = ? WHERE alert_rule_id = ? AND cleared_at IS NULL').bind(now, id)] : []),
  ]);
  return ruleItem(db, id, now);
}

const ruleState = (r: AlertRuleRow) => ({
  name: r.name,
  kind: r.kind,
  segmentId: r.segment_id,
  ruleId: r.rule_id,
  sourceId: r.source_id,
  threshold: r.threshold,
  destinationId: r.destination_id,
  departmentId: r.department_id,
  mutedAt: r.muted_at,
  mutedUntil: r.muted_until,
});

/** Mutes until `until` (in the future) or indefinitely. */
export async function muteAlertRule(
  db: D1Database,
  user: SessionUser,
  id: number,
  b: MuteBody,
  actor: Actor,
  now: number,
): Promise<AlertRuleItem> {
  const before = await visibleRule(db, user, id, true);
  const until = b.until ?? null;
  if (until !== null && until <= now)
    throw new ApiError(400, 'invalid_request', 'until: must be in the future', [{ path: 'until', message: 'must be in the future' }]);
  await db.batch([
    db.prepare('UPDATE alert_rules SET muted_at = ?, muted_until = ?, updated_at = ? WHERE id = ?').bind(now, until, now, id),
    auditStatementIfChanged(db, {
      actor,
      action: 'alert_rule.mute',
      objectType: 'alert_rule',
      objectId: id,
      summary:
        until === null
          ? `Muted alert rule ${before.name} until unmuted`
          : `Muted alert rule ${before.name} until ${new Date(until).toISOString()}`,
      params: until === null ? { variant: 'forever', name: before.name } : { variant: 'until', name: before.name, untilAt: until },
      before: { mutedAt: before.muted_at, mutedUntil: before.muted_until },
      after: { mutedAt: now, mutedUntil: until },
      at: now,
    }),
  ]);
  return ruleItem(db, id, now);
}

/** Ends a mute (409 when the rule is not muted): while its condition holds, the next tick raises. */
export async function unmuteAlertRule(db: D1Database, user: SessionUser, id: number, actor: Actor, now: number): Promise<AlertRuleItem> {
  const before = await visibleRule(db, user, id, true);
  if (!isMuted(before, now)) throw new ApiError(409, 'conflict', `Alert rule ${id} is not muted`, [{ path: 'id', message: 'not muted' }]);
  await db.batch([
    db
      .prepare('UPDATE alert_rules SET muted_at = NULL, muted_until = NULL, updated_at = ? WHERE id = ? AND muted_at IS NOT NULL')
      .bind(now, id),
    auditStatementIfChanged(db, {
      actor,
      action: 'alert_rule.unmute',
      objectType: 'alert_rule',
      objectId: id,
      summary: `Unmuted alert rule ${before.name}`,
      params: { name: before.name },
      before: { mutedAt: before.muted_at, mutedUntil: before.muted_until },
      after: { mutedAt: null, mutedUntil: null },
      at: now,
    }),
  ]);
  return ruleItem(db, id, now);
}

type AlertListRow = AlertRow & TargetColumns & { rule_name: string; acknowledged_name: string | null };

const ALERT_SELECT = `SELECT a.*, ar.name AS rule_name, ${TARGET_COLUMNS},
  (SELECT name FROM users WHERE id = a.acknowledged_by) AS acknowledged_name
  FROM alerts a JOIN alert_rules ar ON ar.id = a.alert_rule_id`;

function toAlertItem(r: AlertListRow): AlertItem {
  return {
    id: r.id,
    alertRuleId: r.alert_rule_id,
    ruleName: r.rule_name,
    kind: r.kind,
    state: r.state,
    target: targetOf(r.kind, r),
    measured: parseJsonOr<AlertMeasured>(r.measured, { kind: 'dead_letters', intake: 0, deliveries: 0, since: 0 }),
    raisedAt: r.raised_at,
    clearedAt: r.cleared_at,
    acknowledgedAt: r.acknowledged_at,
    acknowledgedBy: r.acknowledged_by === null ? null : { id: r.acknowledged_by, name: r.acknowledged_name ?? `#${r.acknowledged_by}` },
    deliveryId: r.delivery_id,
  };
}

/** Alerts the user may see, newest first, with the count of open ones (the bell). */
export async function listAlerts(db: D1Database, user: SessionUser, q: AlertListQuery): Promise<AlertList> {
  const scope = userScope(user, 'ar.department_id');
  const conds: string[] = scope ? [scope.sql] : [];
  const params: unknown[] = [...(scope?.params ?? [])];
  const openConds = [...conds, "a.state = 'open'"];
  if (q.state !== 'all') {
    conds.push('a.state = ?');
    params.push(q.state);
  }
  if (q.alertRuleId !== undefined) {
    conds.push('a.alert_rule_id = ?');
    params.push(q.alertRuleId);
  }
  const where = conds.length ? `WHERE ${conds.join(' AND ')}` : '';
  const [rows, total, open] = await batch(db, [
    typed<AlertListRow>(
      db
        .prepare(`${ALERT_SELECT} ${where} ORDER BY a.raised_at DESC, a.id DESC LIMIT ? OFFSET ?`)
        .bind(...params, q.pageSize, (q.page - 1) * q.pageSize),
    ),
    typed<CountRow>(
      db.prepare(`SELECT COUNT(*) AS n FROM alerts a JOIN alert_rules ar ON ar.id = a.alert_rule_id ${where}`).bind(...params),
    ),
    typed<CountRow>(
      db
        .prepare(`SELECT COUNT(*) AS n FROM alerts a JOIN alert_rules ar ON ar.id = a.alert_rule_id WHERE ${openConds.join(' AND ')}`)
        .bind(...(scope?.params ?? [])),
    ),
  ]);
  return {
    items: rows.results.map(toAlertItem),
    total: total.results[0]?.n ?? 0,
    page: q.page,
    pageSize: q.pageSize,
    open: open.results[0]?.n ?? 0,
  };
}

/** Acknowledges an open alert (409 when it is not open). Its episode goes on: it is not raised again until the condition clears. */
export async function acknowledgeAlert(db: D1Database, user: SessionUser, id: number, actor: Actor, now: number): Promise<AlertItem> {
  const row = await db
    .prepare(
      `SELECT a.state, ar.name AS rule_name, d.path AS department_path
       FROM alerts a JOIN alert_rules ar ON ar.id = a.alert_rule_id LEFT JOIN departments d ON d.id = ar.department_id WHERE a.id = ?`,
    )
    .bind(id)
    .first<Pick<AlertListRow, 'state' | 'rule_name'> & { department_path: string | null }>();
  if (!row) throw new ApiError(404, 'not_found', `No alert with id ${id}`);
  if (!inScope(user, row.department_path)) throw outOfScope('alert', id);
  if (!hasRole(user, 'dept_admin')) throw forbidden(user, 'staff may read alerts but not acknowledge them');
  if (row.state !== 'open')
    throw new ApiError(409, 'conflict', `Alert ${id} is already acknowledged`, [{ path: 'id', message: 'already acknowledged' }]);
  const [updated] = await batch(db, [
    db
      .prepare("UPDATE alerts SET state = 'acknowledged', acknowledged_at = ?, acknowledged_by = ? WHERE id = ? AND state = 'open'")
      .bind(now, user.id, id),
    auditStatementIfChanged(db, {
      actor,
      action: 'alert.acknowledge',
      objectType: 'alert',
      objectId: id,
      summary: `Acknowledged alert #${id} of rule ${row.rule_name}`,
      params: { name: row.rule_name, alert: id },
      before: { state: 'open' },
      after: { state: 'acknowledged' },
      at: now,
    }),
  ]);
  if (!updated.meta.changes)
    throw new ApiError(409, 'conflict', `Alert ${id} is already acknowledged`, [{ path: 'id', message: 'already acknowledged' }]);
  const after = await db.prepare(`${ALERT_SELECT} WHERE a.id = ?`).bind(id).first<AlertListRow>();
  return toAlertItem(after!);
}
