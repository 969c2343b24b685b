/**
 * Learned rule suggestions (issue 19): `POST /` queues a training job and answers 202 at once;
 * `GET /:id` its status, progress and result; `GET /` the recent ones; `POST /:id/draft` makes an
 * ordinary draft rule from a finished one; `GET /by-rule/:ruleId` what a rule was learned from
 * (its fit and any newer refit), `POST /:id/refit` learns a rule's suggestion again on fresh data,
 * `GET /:id/diff` compares a finished refit with the rule's published version, `POST /:id/apply`
 * makes it the rule's draft (never published). Department admins and up; a suggestion belongs to its
 * requester's department and learns only from that subtree's contacts. The contract is
 * `shared/src/api/suggestions.ts`; the work is in `worker/src/learn/`.
 */
import { Hono, type MiddlewareHandler } from 'hono';
import type { AppEnv } from '../app-env';
import { ApiError } from '../errors';
import { validate } from '../validate';
import { actorOf, GROUP_ACCESS_COLUMNS, inScope, outOfScope, requireRole, type GroupAccess } from '../auth/access';
import { auditStatementForNewRow } from '../audit';
import { batch } from '../db/rows';
import {
  createSuggestionBody,
  suggestionApplyBody,
  suggestionDraftBody,
  suggestionPath,
  suggestionRefitBody,
  suggestionRulePath,
  type SuggestionApplyResponse,
  type SuggestionDraftResponse,
  type SuggestionListResponse,
  type SuggestionParams,
} from '@shared/api/suggestions';
import { segmentPredicate, visibleSegment } from '../segments/visible';
import { draftFromSuggestion } from '../learn/draft';
import { queueOrFail, readSuggestion, recentSuggestions, toDetail, visibleSuggestion } from '../learn/store';
import { applyRefit, refitDiff, refitForUser, suggestionsForRule } from '../learn/refit';

/**
 * On `/:id…`: a suggestion outside the caller's department subtree does not exist for them (404,
 * before the role check, as for rules and segments); the route answers its own 404 for a missing one.
 */
const suggestionOwned: MiddlewareHandler<AppEnv> = async (c, next) => {
  const id = c.req.param('id');
  if (!id || !/^\d{1,15}$/.test(id)) return next();
  const row = await readSuggestion(c.env.DB, Number(id));
  if (row && !inScope(c.get('user'), row.department_path)) throw outOfScope('suggestion', id);
  return next();
};

/** On `/by-rule/:ruleId`: a rule of another department does not exist for the caller (404 before the role check, as for rules). */
const ruleOwned: MiddlewareHandler<AppEnv> = async (c, next) => {
  const id = c.req.param('ruleId');
  if (!id || !/^\d{1,15}$/.test(id)) return next();
  const row = await c.env.DB.prepare('SELECT d.path FROM rules r LEFT JOIN departments d ON d.id = r.department_id WHERE r.id = ?')
    .bind(Number(id))
    .first<{ path: string | null }>();
  if (row && !inScope(c.get('user'), row.path)) throw outOfScope('rule', id);
  return next();
};

export const suggestions = new Hono<AppEnv>()
  .use('/by-rule/:ruleId', ruleOwned)
  .use('/:id', suggestionOwned)
  .use('/:id/*', suggestionOwned)
  .use('*', requireRole('dept_admin'))
  .get('/', async (c) => {
    const rows = await recentSuggestions(c.env.DB, c.get('user'));
    return c.json({ items: rows.map((r) => toDetail(r, false)) } satisfies SuggestionListResponse);
  })

  .post('/', validate('json', createSuggestionBody), async (c) => {
    const b = c.req.valid('json');
    const db = c.env.DB;
    const user = c.get('user');
    const now = Date.now();
    let outcomeName: string | null = null;
    if (b.outcome.kind === 'tag') {
      const tag = await db
        .prepare(`SELECT t.name, ${GROUP_ACCESS_COLUMNS} FROM tags t JOIN tag_groups g ON g.id = t.group_id WHERE t.id = ?`)
        .bind(b.outcome.tagId)
        .first<GroupAccess & { name: string }>();
      if (!tag) throw new ApiError(404, 'not_found', `No tag with id ${b.outcome.tagId}`);
      // a department's tags exist only within that department
      if (tag.department_path !== null && !inScope(user, tag.department_path)) throw outOfScope('tag', b.outcome.tagId);
      outcomeName = tag.name;
    } else if (b.outcome.kind === 'segment') {
      const seg = await visibleSegment(db, user, b.outcome.segmentId);
      segmentPredicate(seg, c.env, now); // 409 now rather than a failed job later
      outcomeName = seg.name;
    }
    const params: SuggestionParams = { ...b, seed: b.seed ?? 1 };
    const o = b.outcome;
    const [insert] = await batch(db, [
      db
        .prepare(
          `INSERT INTO rule_suggestions (department_id, status, params, outcome_name, created_by, created_at, updated_at)
           VALUES (?, 'queued', ?, ?, ?, ?, ?)`,
        )
        .bind(user.role === 'super_admin' ? null : user.departmentId, JSON.stringify(params), outcomeName, user.id, now, now),
      auditStatementForNewRow(db, {
        actor: actorOf(c),
        action: 'suggestion.create',
        objectType: 'suggestion',
        summary: `asked to learn a rule (${o.kind === 'future_event' ? `${o.eventType} within ${o.days} days` : `${o.kind} "${outcomeName}"`})`,
        params:
          o.kind === 'future_event'
            ? { variant: 'future_event', eventType: o.eventType, days: o.days }
            : { variant: o.kind, name: outcomeName ?? '' },
        after: { params, outcomeName },
        at: now,
      }),
    ]);
    const id = insert.meta.last_row_id;
    await queueOrFail(c.env, id);
    return c.json(toDetail((await readSuggestion(db, id))!, true), 202);
  })

  .get('/:id', validate('param', suggestionPath), async (c) =>
    c.json(toDetail(await visibleSuggestion(c.env.DB, c.get('user'), c.req.valid('param').id), true)),
  )

  .post('/:id/draft', validate('param', suggestionPath), validate('json', suggestionDraftBody), async (c) => {
    const row = await visibleSuggestion(c.env.DB, c.get('user'), c.req.valid('param').id);
    const ruleId = await draftFromSuggestion(c.env.DB, c.get('user'), actorOf(c), row, c.req.valid('json'));
    return c.json({ ruleId } satisfies SuggestionDraftResponse, 201);
  })

  .get('/by-rule/:ruleId', validate('param', suggestionRulePath), async (c) =>
    c.json(await suggestionsForRule(c.env.DB, c.get('user'), c.req.valid('param').ruleId)),
  )

  .post('/:id/refit', validate('param', suggestionPath), validate('json', suggestionRefitBody), async (c) => {
    const row = await visibleSuggestion(c.env.DB, c.get('user'), c.req.valid('param').id);
    return c.json(await refitForUser(c.env, c.get('user'), actorOf(c), row, c.req.valid('json').ruleId), 202);
  })

  .get('/:id/diff', validate('param', suggestionPath), async (c) => {
    const row = await visibleSuggestion(c.env.DB, c.get('user'), c.req.valid('param').id);
    return c.json(await refitDiff(c.env, c.get('user'), row));
  })

  .post('/:id/apply', validate('param', suggestionPath), validate('json', suggestionApplyBody), async (c) => {
    const row = await visibleSuggestion(c.env.DB, c.get('user'), c.req.valid('param').id);
    return c.json({ ruleId: await applyRefit(c.env.DB, c.get('user'), actorOf(c), row) } satisfies SuggestionApplyResponse);
  });
