import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { DestinationKind, DestinationSummary } from '@shared/api/destinations';
import { listDestinations } from '../../app/api/destinations';

/**
 * Outbound destinations for the rule editor's call-webhook and notify actions: loaded once per
 * session of the editor. A failed load leaves the list empty (the picker then says how to add
 * one) and is tried again on the next `load`.
 */
export const useDestinationsStore = defineStore('destinations', () => {
  const items = ref<DestinationSummary[]>([]);
  let loaded: Promise<void> | null = null;

  const byId = computed(() => new Map(items.value.map((d) => [d.id, d])));

  function load(force = false): Promise<void> {
    if (loaded && !force) return loaded;
    loaded = listDestinations()
      .then((list) => {
        items.value = list;
      })
      .catch(() => {
        items.value = [];
        loaded = null;
      });
    return loaded;
  }

  /** Usable destinations of one kind (not revoked), for a picker. */
  const usable = (kind: DestinationKind) => items.value.filter((d) => d.kind === kind && d.revokedAt === null);

  return { items, byId, load, usable };
});
