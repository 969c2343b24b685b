/**
 * The one read rule code makes of outbound destinations: whether the ones a rule's actions name
 * exist with the right kind and are not revoked. The `destinations` table (id, kind, revoked_at,
 * …) and its API belong to the destinations module; rules only need these three columns.
 */
import type { DestinationKind } from '@shared/api/destinations';

/** Whether destination `id` exists, is of `kind` and is not revoked. */
export async function destinationExists(db: D1Database, id: number, kind: DestinationKind): Promise<boolean> {
  const row = await db
    .prepare('SELECT 1 AS ok FROM destinations WHERE id = ? AND kind = ? AND revoked_at IS NULL')
    .bind(id, kind)
    .first<{ ok: number }>();
  return row !== null;
}

/**
 * The usable destinations among `ids` (one statement), as `"<kind>:<id>"` keys: what the
 * compiler's `destinationExists` option checks against. No ids, no query.
 */
export async function usableDestinations(db: D1Database, ids: readonly number[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db
    .prepare('SELECT id, kind FROM destinations WHERE id IN (SELECT value FROM json_each(?)) AND revoked_at IS NULL')
    .bind(JSON.stringify([...new Set(ids)]))
    .all<{ id: number; kind: string }>();
  return new Set(rows.results.map((r) => `${r.kind}:${r.id}`));
}

/** The destination ids the outbound actions of a (not yet validated) graph name. */
export function graphDestinationIds(graph: unknown): number[] {
  const nodes = (graph as { nodes?: unknown } | null)?.nodes;
  if (!Array.isArray(nodes)) return [];
  const out: number[] = [];
  for (const n of nodes as { kind?: unknown; action?: { destinationId?: unknown } }[]) {
    const id = n?.kind === 'action' ? n.action?.destinationId : undefined;
    if (typeof id === 'number' && Number.isSafeInteger(id)) out.push(id);
  }
  return out;
}
