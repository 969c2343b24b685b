/**
 * `POST /api/score-calibration`: each score factor's spread over the contacts the caller may see
 * and the cap it suggests (shape: shared/src/api/score-calibration.ts). A read: anyone signed in
 * may ask, as for field value suggestions, and only about the contacts they may see.
 */
import { Hono } from 'hono';
import type { AppEnv } from '../app-env';
import { validate } from '../validate';
import { contactScope } from '../auth/access';
import { scoreCalibrationBody } from '@shared/api/score-calibration';
import { customFieldsStatement, previewContext, toCustomFieldDecl } from '../rules/context';
import { batch } from '../db/rows';
import { calibrateScore } from '../rules/score-calibration';

export const scoreCalibration = new Hono<AppEnv>().post('/', validate('json', scoreCalibrationBody), async (c) => {
  const db = c.env.DB;
  const [fields] = await batch(db, [customFieldsStatement(db)]);
  const body = await calibrateScore(
    db,
    c.req.valid('json'),
    fields.results.map(toCustomFieldDecl),
    previewContext(c.env, Date.now()),
    contactScope(c.get('user')),
  );
  return c.json(body);
});
