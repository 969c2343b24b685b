declare namespace Cloudflare {
  interface Env {
    /**
     * "true" lets `POST /api/destinations/:id/test` enqueue more than one synthetic delivery
     * (`count`, for bench/outbound.ts on a dev server). Unset in wrangler.toml: production sends one.
     */
    ALLOW_BULK_TEST_DELIVERIES?: string;
  }
}
