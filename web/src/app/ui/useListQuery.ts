import { onMounted, ref, shallowRef, watch, type Ref, type WatchSource } from 'vue';
import { errorMessage } from '../errors';

/**
 * A searchable, paged list: loads on mount, again 300 ms after the search text stops changing
 * (back to page 1), and whenever the page or one of the screen's own filters changes. An answer
 * to an older request is dropped, so a slow page never overwrites a newer one.
 */
export function useListQuery<R>(fetch: (query: { page: number; q: string | undefined }) => Promise<R>, filters: WatchSource[] = []) {
  const result = shallowRef<R | null>(null) as Ref<R | null>;
  const loading = ref(false);
  const error = ref<string | null>(null);
  const q = ref('');
  const page = ref(1);
  let seq = 0;

  async function load() {
    const mine = ++seq;
    loading.value = true;
    error.value = null;
    try {
      const r = await fetch({ page: page.value, q: q.value.trim() || undefined });
      if (mine === seq) result.value = r;
    } catch (e) {
      if (mine === seq) error.value = errorMessage(e);
    } finally {
      if (mine === seq) loading.value = false;
    }
  }
  onMounted(load);
  let timer: ReturnType<typeof setTimeout> | undefined;
  watch(q, () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      page.value = 1;
      load();
    }, 300);
  });
  watch([...filters, page], load);
  return { result, loading, error, q, page, load };
}
