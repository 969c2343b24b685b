import { app } from './app';
import { scheduled } from './cron/scheduled';

// `fetch` serves requests; `scheduled` is the Cron Trigger (scheduled rules, segment snapshots).
export default { fetch: app.fetch, scheduled } satisfies ExportedHandler<Env>;
