import type { SessionUser } from '@shared/api/auth';

/**
 * Typed Hono context for every route: bindings from wrangler.toml (see worker-configuration.d.ts)
 * and, on every route behind sign-in, the signed-in user and their session (worker/src/auth).
 */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    user: SessionUser;
    sessionHash: string;
    /** On `/:id` routes of department-owned objects: the owner's department path (null: company-wide). */
    ownerPath: string | null;
    /** On sign-in: the email tried, so a refusal is logged against it (worker/src/security/). */
    attemptedEmail: string;
  };
}
