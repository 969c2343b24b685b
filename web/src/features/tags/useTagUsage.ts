import { computed, ref, watch, type Ref } from 'vue';
import type { TagUsage } from '@shared/api/taxonomy';
import { getTagUsage } from '../../app/api/taxonomy';
import { errorMessage } from '../../app/errors';

/**
 * What uses a tag, read afresh each time a dialog about retiring or merging it opens, and what
 * follows for that dialog: the published rules that block it and the holders its confirmation
 * counts (every holder, in every department: the action moves them all).
 */
export function useTagUsage(open: Ref<boolean>, tagId: () => number | null, onOpen: () => void = () => {}) {
  const usage = ref<TagUsage | null>(null);
  const loading = ref(false);
  const loadError = ref<string | null>(null);

  watch(open, async (isOpen) => {
    const id = tagId();
    if (!isOpen || id == null) return;
    onOpen();
    usage.value = null;
    loadError.value = null;
    loading.value = true;
    try {
      usage.value = await getTagUsage(id);
    } catch (e) {
      loadError.value = errorMessage(e);
    } finally {
      loading.value = false;
    }
  });

  const published = computed(() => usage.value?.rules.filter((r) => r.inPublished) ?? []);
  const allHolders = computed(() => (usage.value ? usage.value.holders + usage.value.holdersElsewhere : 0));
  /** A published rule here or elsewhere, or a child tag, blocks the action (or nothing is known yet). */
  const blocked = computed(
    () => !usage.value || published.value.length > 0 || usage.value.rulesElsewhere.published > 0 || usage.value.children.length > 0,
  );
  return { usage, loading, loadError, published, allHolders, blocked };
}
