import { defineConfig } from 'drizzle-kit';

// Migrations are generated from worker/src/db/schema.ts and applied by wrangler
// (`wrangler d1 migrations apply DB`). Never edit a migration that has been applied.
export default defineConfig({
  dialect: 'sqlite',
  schema: './worker/src/db/schema.ts',
  out: './migrations',
});
