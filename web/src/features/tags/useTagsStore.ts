import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { TagGroupWithTags, TagWithCount } from '@shared/api/tags';
import type { Department } from '@shared/api/departments';
import { listTagGroups } from '../../app/api/tags';
import { listDepartments } from '../../app/api/departments';

/**
 * Tag groups and departments: reference data used by several screens (filters, chips, the
 * Tags page). Loaded once, reloaded on demand.
 */
export const useTagsStore = defineStore('tags', () => {
  const groups = ref<TagGroupWithTags[]>([]);
  const departments = ref<Department[]>([]);
  const loading = ref(false);
  const error = ref<unknown>(null);
  let loaded: Promise<void> | null = null;

  const tagsById = computed(() => {
    const byId = new Map<number, TagWithCount & { groupId: number }>();
    for (const g of groups.value) for (const t of g.tags) byId.set(t.id, { ...t, groupId: g.id });
    return byId;
  });

  async function load(force = false) {
    if (loaded && !force) return loaded;
    loading.value = true;
    error.value = null;
    loaded = Promise.all([listTagGroups(), listDepartments()])
      .then(([g, d]) => {
        groups.value = g;
        departments.value = d;
      })
      .catch((e: unknown) => {
        error.value = e;
        loaded = null;
      })
      .finally(() => {
        loading.value = false;
      });
    return loaded;
  }

  return { groups, departments, loading, error, tagsById, load };
});
