import { reactive } from 'vue';
import type { SegmentListItem } from '@shared/api/segments';
import type { SegmentResolver } from '@shared/rules/compile';
import { listSegments } from '../../app/api/segments';

/**
 * The segments the viewer may refer to in a condition "in segment X" (the list is scoped by the
 * server), with their size now: loaded once per page view, reloaded on demand. The rule builder's
 * in-browser compiler checks references against it; the server expands the real definitions.
 */
export const segmentOptions = reactive({
  items: [] as SegmentListItem[],
  loaded: false,
  loading: false,
});

let pending: Promise<void> | null = null;

/** Loads the first 100 segments (most recently edited first); again only when `force`. */
export function loadSegmentOptions(force = false): Promise<void> {
  if (pending && !force) return pending;
  if (segmentOptions.loaded && !force) return Promise.resolve();
  segmentOptions.loading = true;
  pending = listSegments({ pageSize: 100 })
    .then((r) => {
      segmentOptions.items = r.items;
      segmentOptions.loaded = true;
    })
    .finally(() => {
      segmentOptions.loading = false;
      pending = null;
    });
  return pending;
}

/** A segment's name, or undefined while unknown. */
export function segmentName(id: number): string | undefined {
  return segmentOptions.items.find((s) => s.id === id)?.name;
}

/**
 * The browser compiler's resolver: a known segment stands in as a placeholder audience (the
 * browser has no graphs; the server's preview expands the definition and names any loop), an
 * unknown one is an `unknown_segment` error on the node. Until the list has loaded every id is
 * taken as known, so a saved rule does not flash errors while it opens.
 */
export function browserSegmentResolver(selfId?: number): SegmentResolver {
  return {
    get: (id) => {
      const s = segmentOptions.items.find((x) => x.id === id);
      if (!s && segmentOptions.loaded) return undefined;
      return { id, name: s?.name ?? `#${id}`, graph: null, audience: { var: `segments.${id}` } };
    },
    ...(selfId ? { stack: [selfId] } : {}),
  };
}
