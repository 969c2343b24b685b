/** Typed Hono context for every route: bindings from wrangler.toml (see worker-configuration.d.ts). */
export interface AppEnv {
  Bindings: Env;
}
