import { Hono } from 'hono';
import type { AppEnv } from './app-env';
import { handleError, handleNotFound } from './errors';
import { health } from './routes/health';
import { contacts } from './routes/contacts';
import { tagGroups } from './routes/tag-groups';
import { departments } from './routes/departments';

/**
 * The Segflow worker. Requests under /api/* reach this app (wrangler.toml `run_worker_first`);
 * everything else is the SPA, served from the ASSETS binding.
 */
const app = new Hono<AppEnv>();

app.onError(handleError);
app.notFound(handleNotFound);

app.route('/api/health', health);
app.route('/api/contacts', contacts);
app.route('/api/tag-groups', tagGroups);
app.route('/api/departments', departments);

export default app;
