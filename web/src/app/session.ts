import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import { ApiRequestError, apiGet, apiPost, setCsrfToken } from './api/client';
import type { Me, SessionUser } from '@shared/api/auth';
import { ROLE_RANK, type Role } from '@shared/domain';

/**
 * Who is signed in. Loaded once before the first screen (router guard); a 401 from any call
 * clears it and sends the user to the sign-in page.
 */
export const useSessionStore = defineStore('session', () => {
  const user = ref<SessionUser | null>(null);
  const loaded = ref(false);

  function set(me: Me | null) {
    user.value = me?.user ?? null;
    setCsrfToken(me?.csrfToken ?? '');
    loaded.value = true;
  }

  async function load() {
    try {
      set(await apiGet<Me>('/auth/me'));
    } catch (e) {
      if (e instanceof ApiRequestError && e.status === 401) set(null);
      else throw e;
    }
  }

  async function login(email: string, password: string) {
    set(await apiPost<Me>('/auth/login', { email, password }));
  }

  async function logout() {
    try {
      await apiPost('/auth/logout', {});
    } finally {
      set(null);
    }
  }

  /** The user has at least this role. */
  const can = (min: Role) => !!user.value && ROLE_RANK[user.value.role] >= ROLE_RANK[min];
  const isSuperAdmin = computed(() => can('super_admin'));

  return { user, loaded, load, login, logout, set, can, isSuperAdmin };
});
