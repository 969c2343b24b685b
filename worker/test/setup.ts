import { applyD1Migrations } from 'cloudflare:test';
import { env } from 'cloudflare:workers';

// The real migrations, applied to this test run's local D1 before any test.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
