/**
 * The rule template gallery: `GET /api/templates` lists the templates with the tags each needs
 * (and which exist); `POST /api/templates/:id/instantiate` makes a draft rule from one, creating
 * its missing tags. The contract is `shared/src/api/templates.ts`; the work is in
 * `worker/src/templates/`.
 */
import { Hono } from 'hono';
import type { AppEnv } from '../app-env';
import { ApiError } from '../errors';
import { validate } from '../validate';
import { actorOf, requireRole } from '../auth/access';
import { instantiateBody, templatePath } from '@shared/api/templates';
import { templateById } from '@shared/templates/templates';
import { instantiateTemplate, templateInfos } from '../templates/instantiate';

export const templates = new Hono<AppEnv>()
  .get('/', async (c) => c.json(await templateInfos(c.env.DB)))
  .post('/:id/instantiate', requireRole('dept_admin'), validate('param', templatePath), validate('json', instantiateBody), async (c) => {
    const { id } = c.req.valid('param');
    const template = templateById(id);
    if (!template) throw new ApiError(404, 'not_found', `No rule template with id ${id}`);
    const body = await instantiateTemplate(c.env.DB, c.env, c.get('user'), actorOf(c), template, c.req.valid('json'));
    return c.json(body, 201);
  });
