import { app } from './app';
import { scheduled } from './cron/scheduled';
import { queue } from './queues';

// `fetch` serves requests; `scheduled` is the Cron Trigger (scheduled rules, segment snapshots);
// `queue` consumes the queues of wrangler.toml (intake, outbound deliveries).
export default { fetch: app.fetch, scheduled, queue } satisfies ExportedHandler<Env>;
