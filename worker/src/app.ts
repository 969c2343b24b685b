import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { secureHeaders } from 'hono/secure-headers';
import type { AppEnv } from './app-env';
import { ApiError, handleError, handleNotFound } from './errors';
import { health } from './routes/health';
import { contacts } from './routes/contacts';
import { tagGroups } from './routes/tag-groups';
import { departments } from './routes/departments';
import { webhooks } from './routes/webhooks';
import { taxonomy } from './routes/taxonomy';
import { contactDetail } from './routes/contact-detail';
import { fieldCatalog } from './routes/field-catalog';
import { rules } from './routes/rules';
import { segments } from './routes/segments';
import { imports } from './routes/imports';
import { contactExports } from './routes/exports';
import { auth } from './routes/auth';
import { users } from './routes/users';
import { audit } from './routes/audit';
import { securityLog } from './routes/security-log';
import { eventSources } from './routes/event-sources';
import { destinations } from './routes/destinations';
import { rollbacks } from './routes/rollbacks';
import { intake } from './routes/intake';
import { wecom } from './routes/wecom';
import { home } from './routes/home';
import { alerts } from './routes/alerts';
import { publishing } from './routes/publishing';
import { templates } from './routes/templates';
import { fieldValues } from './routes/field-values';
import { suggestions } from './routes/suggestions';
import { scoreCalibration } from './routes/score-calibration';
import { authenticate } from './auth/access';
import { hintPushesAfterWrites } from './wecom/push/hint';

/**
 * The Segflow API app (the worker entry, worker/src/index.ts, adds the Cron Trigger). Requests under /api/* reach this app (wrangler.toml `run_worker_first`);
 * everything else is the SPA, served from the ASSETS binding.
 */
export const app = new Hono<AppEnv>();
const MAX_BODY_BYTES = 1024 * 1024;

app.onError(handleError);
app.notFound(handleNotFound);
app.use('/api/*', secureHeaders());
// Bodies are bounded before anything reads them; routes that take more (imports) set their own limit.
app.use(
  '/api/*',
  bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: () => {
      throw new ApiError(413, 'payload_too_large', `Request body is larger than ${MAX_BODY_BYTES} bytes`);
    },
  }),
);

// Every route but health, sign-in and webhooks needs a session (and a CSRF token on writes).
app.use('/api/*', authenticate);
// A write that changed synced tags hints the WeCom push after it answered (wecom/push/hint.ts).
app.use('/api/*', hintPushesAfterWrites);

app.route('/api/health', health);
app.route('/api/auth', auth);
app.route('/api/users', users);
app.route('/api/audit', audit);
app.route('/api/security-log', securityLog);
app.route('/api/event-sources', eventSources);
app.route('/api/destinations', destinations);
app.route('/api/contacts', contacts);
app.route('/api/tag-groups', tagGroups);
app.route('/api/departments', departments);
app.route('/api/webhooks', webhooks);
app.route('/api/taxonomy', taxonomy);
// detail, timelines and manual tag edits: /api/contacts/:id/… routes the list app does not have
app.route('/api/contacts', contactDetail);
app.route('/api/field-catalog', fieldCatalog);
app.route('/api/rules', rules);
app.route('/api/segments', segments);
app.route('/api/imports', imports);
app.route('/api/exports', contactExports);
app.route('/api/rollbacks', rollbacks);
app.route('/api/intake', intake);
app.route('/api/wecom', wecom);
app.route('/api/home', home);
app.route('/api/alerts', alerts);
app.route('/api/publishing', publishing);
app.route('/api/templates', templates);
app.route('/api/field-values', fieldValues);
app.route('/api/suggestions', suggestions);
app.route('/api/score-calibration', scoreCalibration);
