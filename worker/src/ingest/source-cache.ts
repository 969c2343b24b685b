/**
 * The webhook routes' per-isolate copy of source rows, so a signature is verified without a D1
 * read per request. An isolate trusts a copy for {@link SOURCE_CACHE_MS}; rotating or revoking a
 * source (worker/src/routes/event-sources.ts) forgets it in the isolate that did it at once, and
 * every other isolate reads it again within that time. Whatever a revoked source's requests
 * were answered meanwhile, the intake consumer stores none of the events received after the
 * revocation (worker/src/ingest/consumer.ts).
 */
import type { SourceRow } from './pipeline';

export const SOURCE_CACHE_MS = 5_000;

const rows = new Map<string, { row: SourceRow; at: number }>();

/** The cached row of `id`, if read less than SOURCE_CACHE_MS ago. */
export function cachedSource(id: string, now: number): SourceRow | undefined {
  const hit = rows.get(id);
  return hit && now - hit.at < SOURCE_CACHE_MS ? hit.row : undefined;
}

export function rememberSource(row: SourceRow, now: number): void {
  rows.set(row.id, { row, at: now });
}

export function forgetSource(id: string): void {
  rows.delete(id);
}
