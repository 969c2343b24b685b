import { onMounted, ref, type Ref } from 'vue';

/**
 * A screen's data from the API: `loading` until the first answer, `error` (for LoadErrorAlert)
 * when a load fails, `reload()` after a change. Loads once mounted.
 */
export function useLoad<T>(load: () => Promise<T>, initial: T) {
  const data = ref(initial) as Ref<T>;
  const loading = ref(true);
  const error = ref<unknown>(null);
  async function reload() {
    error.value = null;
    try {
      data.value = await load();
    } catch (e) {
      error.value = e;
    } finally {
      loading.value = false;
    }
  }
  onMounted(reload);
  return { data, loading, error, reload };
}
