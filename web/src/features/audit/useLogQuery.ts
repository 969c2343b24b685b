import { ref, shallowRef, type Ref } from 'vue';

/**
 * A log read a page at a time: `search()` goes back to page 1 (new filters), `load()` reads the
 * current page. The error is kept as thrown; the screen words it.
 */
export function useLogQuery<R>(fetch: (paging: { page: number; pageSize: number }) => Promise<R>) {
  const page = ref(1);
  const pageSize = ref(20);
  const data = shallowRef<R | null>(null) as Ref<R | null>;
  const loading = ref(false);
  const error = ref<unknown>(null);

  async function load() {
    loading.value = true;
    error.value = null;
    try {
      data.value = await fetch({ page: page.value, pageSize: pageSize.value });
    } catch (e) {
      error.value = e;
    } finally {
      loading.value = false;
    }
  }
  function search() {
    page.value = 1;
    void load();
  }
  return { page, pageSize, data, loading, error, load, search };
}
