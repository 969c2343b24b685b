/**
 * Reading JSON stored in text columns (graphs, audit params, paused reasons): a value written by
 * hand or by an older version must not take a request down, so a bad value reads as a fallback.
 */

/** `text` parsed as JSON, or `fallback` when it is null, empty or not JSON. */
export function parseJsonOr<T>(text: string | null | undefined, fallback: T): T {
  if (text == null || text === '') return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

/** A JSON object read from `text`, or `{}` when it is anything else. */
export function parseJsonObject(text: unknown): Record<string, unknown> {
  const v = parseJsonOr<unknown>(typeof text === 'string' ? text : null, null);
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
