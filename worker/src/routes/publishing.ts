/**
 * Safe publishing: publish plans (at a time, a ramp, or waiting for approval) and the approval
 * policy per department. The contract is `shared/src/api/publishing.ts`; the work lives in
 * `worker/src/publishing/` (schedule, ramp, approval, plans).
 */
import { Hono } from 'hono';
import type { AppEnv } from '../app-env';
import { validate } from '../validate';
import { createPlanBody, planListQuery, planPath, policyBody, policyPath, rejectPlanBody, type PlanList } from '@shared/api/publishing';
import { emptyBody } from '@shared/api/rules';
import { actorOf, requireRole } from '../auth/access';
import { tzOffsetMinutes, zoneName } from '../rules/context';
import { listPlans, loadPlan, planDetail, planItem } from '../publishing/plans';
import { cancelPlan, createPlan, runDuePlans } from '../publishing/schedule';
import { resumePlan } from '../publishing/ramp';
import { approvePlan, listPolicies, needsApproval, rejectPlan, setPolicy } from '../publishing/approval';

/** The plan as the viewer sees it now (after a step that may have run). */
const fresh = async (db: D1Database, user: Parameters<typeof loadPlan>[1], id: number) => planItem(db, user, await loadPlan(db, user, id));

export const publishing = new Hono<AppEnv>()
  .get('/plans', validate('query', planListQuery), async (c) => {
    const q = c.req.valid('query');
    const body: PlanList = {
      items: await listPlans(c.env.DB, c.get('user'), q),
      zone: { name: zoneName(c.env), offsetMinutes: tzOffsetMinutes(c.env) },
    };
    if (q.ruleId !== undefined) {
      const rule = await c.env.DB.prepare('SELECT d.path FROM rules r LEFT JOIN departments d ON d.id = r.department_id WHERE r.id = ?')
        .bind(q.ruleId)
        .first<{ path: string | null }>();
      body.approvalRequired = !!rule && (await needsApproval(c.env.DB, c.get('user'), rule.path));
    }
    return c.json(body);
  })
  .post('/plans', validate('json', createPlanBody), async (c) => {
    const { plan, runNow } = await createPlan(c.env.DB, c.env, c.get('user'), actorOf(c), c.req.valid('json'));
    // a first step due now (no time, nothing to wait for) publishes within the request, as publishing now does
    if (runNow) await runDuePlans(c.env, Date.now(), plan.id);
    return c.json(await fresh(c.env.DB, c.get('user'), plan.id), 201);
  })
  .get('/plans/:id', validate('param', planPath), async (c) => c.json(await planDetail(c.env.DB, c.get('user'), c.req.valid('param').id)))
  .post('/plans/:id/approve', requireRole('super_admin'), validate('param', planPath), validate('json', emptyBody), async (c) => {
    const { id } = c.req.valid('param');
    await approvePlan(c.env.DB, c.get('user'), actorOf(c), id);
    // approving publishes: a step due now (or overdue while it waited) runs at once
    await runDuePlans(c.env, Date.now(), id);
    return c.json(await fresh(c.env.DB, c.get('user'), id));
  })
  .post('/plans/:id/reject', requireRole('super_admin'), validate('param', planPath), validate('json', rejectPlanBody), async (c) => {
    const { id } = c.req.valid('param');
    await rejectPlan(c.env.DB, c.get('user'), actorOf(c), id, c.req.valid('json').reason);
    return c.json(await fresh(c.env.DB, c.get('user'), id));
  })
  .post('/plans/:id/cancel', validate('param', planPath), validate('json', emptyBody), async (c) => {
    const { id } = c.req.valid('param');
    await cancelPlan(c.env.DB, c.get('user'), actorOf(c), id);
    return c.json(await fresh(c.env.DB, c.get('user'), id));
  })
  .post('/plans/:id/resume', validate('param', planPath), validate('json', emptyBody), async (c) => {
    const { id } = c.req.valid('param');
    await resumePlan(c.env.DB, c.get('user'), actorOf(c), id);
    return c.json(await fresh(c.env.DB, c.get('user'), id));
  })
  .get('/policies', async (c) => c.json(await listPolicies(c.env.DB)))
  .put('/policies/:departmentId', requireRole('super_admin'), validate('param', policyPath), validate('json', policyBody), async (c) =>
    c.json(await setPolicy(c.env.DB, actorOf(c), c.req.valid('param').departmentId, c.req.valid('json').requireApproval)),
  );
