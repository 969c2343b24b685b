declare namespace Cloudflare {
  interface Env {
    /**
     * Secret for sensitive contact fields (phone, ID number): AES-256-GCM at rest, HMAC-SHA256
     * hashes for exact search. Production: `wrangler secret put FIELD_KEY`; local dev and tests
     * pass a fixed dev-only value (package.json `dev`, e2e, vitest config).
     */
    FIELD_KEY?: string;
  }
}
