import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { AlertItem } from '@shared/api/alerts';
import { listAlerts } from '../../app/api/alerts';

/** How often the bell asks again: the cron raises at most once a minute. */
const POLL_MS = 60_000;

/**
 * The bell's state: the count of open alerts the viewer may see and the latest few. The alerts
 * page refreshes it after acknowledging, so the number drops at once.
 */
export const useAlertsStore = defineStore('alerts', () => {
  const open = ref(0);
  const latest = ref<AlertItem[]>([]);
  let timer: ReturnType<typeof setInterval> | null = null;

  async function refresh() {
    try {
      const list = await listAlerts({ state: 'open', pageSize: 6 });
      open.value = list.open;
      latest.value = list.items;
    } catch {
      // the bell stays as it was; the next poll tries again
    }
  }
  function start() {
    void refresh();
    timer ??= setInterval(() => void refresh(), POLL_MS);
  }
  function stop() {
    if (timer) clearInterval(timer);
    timer = null;
  }
  return { open, latest, refresh, start, stop };
});
