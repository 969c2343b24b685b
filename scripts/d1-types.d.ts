// The D1 types the worker's pure SQL modules name as globals (worker/tsconfig.json has them from
// @cloudflare/workers-types): scripts/seed.ts runs the rules' apply step against Miniflare's D1.
type D1Database = import('@cloudflare/workers-types/experimental').D1Database;
type D1PreparedStatement = import('@cloudflare/workers-types/experimental').D1PreparedStatement;
type D1Result<T = unknown> = import('@cloudflare/workers-types/experimental').D1Result<T>;
