/**
 * The FIELD_KEY used by local development, worker tests, browser tests and benchmarks. Not a
 * secret: data sealed with it is demo data. Production sets its own (`wrangler secret put FIELD_KEY`).
 */
export const DEV_FIELD_KEY = 'segflow-local-dev-field-key-not-secret';
