import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-pool-workers';
import { outbound } from './worker/test/fake-receiver';

/**
 * One `vitest run` runs three projects:
 * - unit:   pure code in shared/, scripts/, tools/ and web/test/ under Node;
 * - worker: the Hono app inside workerd against a real local D1 with the real migrations;
 * - e2e:    the built app served by `wrangler dev`, driven in Debian's Chromium by Playwright.
 */
// the `@shared` import alias of tsconfig.base.json, for every project
const resolve = { alias: { '@shared': fileURLToPath(new URL('./shared/src', import.meta.url)) } };

export default defineConfig(async () => {
  const migrations = await readD1Migrations('migrations');
  return {
    test: {
      projects: [
        {
          resolve,
          test: {
            name: 'unit',
            environment: 'node',
            include: ['shared/**/*.test.ts', 'scripts/**/*.test.ts', 'tools/**/*.test.ts', 'web/test/**/*.test.ts'],
          },
        },
        {
          resolve,
          plugins: [
            cloudflareTest({
              main: './worker/src/index.ts',
              wrangler: { configPath: './wrangler.toml' },
              // FIELD_KEY: the dev-only value of scripts/dev-field-key.ts (production: `wrangler secret put FIELD_KEY`)
              miniflare: {
                bindings: {
                  TEST_MIGRATIONS: migrations,
                  FIELD_KEY: 'segflow-local-dev-field-key-not-secret',
                  // WeCom's server API is the simulator (tools/wecom-sim), reached through the outbound service
                  WECOM_API_BASE: 'http://wecom.test',
                },
                // outbound deliveries reach a fake remote receiver (worker/test/fake-receiver.ts), the one outside system
                // faked, and http://wecom.test reaches the local WeCom simulator (tools/wecom-sim)
                outboundService: outbound,
              },
            }),
          ],
          test: {
            name: 'worker',
            include: ['worker/**/*.test.ts'],
            setupFiles: ['./worker/test/setup.ts'],
            // generous: a loaded 2-core CI box must not turn a slow D1 batch into a failure
            testTimeout: 30_000,
            hookTimeout: 60_000,
          },
        },
        {
          resolve,
          test: {
            name: 'e2e',
            environment: 'node',
            include: ['e2e/**/*.test.ts'],
            globalSetup: ['./e2e/global-setup.ts'],
            fileParallelism: false,
            testTimeout: 60_000,
            hookTimeout: 120_000,
          },
        },
      ],
    },
  };
});
