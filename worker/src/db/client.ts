import { drizzle } from 'drizzle-orm/d1';
import * as schema from './schema';

/** A drizzle handle on the request's D1 binding. Cheap: create one per request. */
export function db(env: Env) {
  return drizzle(env.DB, { schema });
}
export type Db = ReturnType<typeof db>;
