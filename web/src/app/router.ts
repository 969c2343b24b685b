import { createRouter, createWebHistory } from 'vue-router';
import type { Role } from '@shared/domain';
import { useSessionStore } from './session';
import { onUnauthorized } from './api/client';

declare module 'vue-router' {
  interface RouteMeta {
    /** Reachable signed out (the sign-in page). */
    public?: boolean;
    /** Least role that may open the screen; others are sent home. */
    minRole?: Role;
  }
}

/** One route per feature; each screen lives in web/src/features/<feature>/. */
export const router = createRouter({
  history: createWebHistory(),
  // `/tags#group-3` (the home's coverage bars): the screen loads its groups after navigating, so wait for the anchor
  scrollBehavior: async (to, _from, saved) => {
    if (saved) return saved;
    if (!to.hash) return { top: 0 };
    for (let i = 0; i < 40 && !document.querySelector(to.hash); i++) await new Promise((r) => setTimeout(r, 50));
    return document.querySelector(to.hash) ? { el: to.hash, top: 16 } : { top: 0 };
  },
  routes: [
    { path: '/', name: 'home', component: () => import('../features/home/HomePage.vue') },
    { path: '/login', name: 'login', component: () => import('../features/auth/LoginPage.vue'), meta: { public: true } },
    { path: '/rules', name: 'rules', component: () => import('../features/rules/RulesPage.vue') },
    { path: '/rules/:id(\\d+)', name: 'rule', component: () => import('../features/rules/RuleEditorPage.vue') },
    { path: '/segments', name: 'segments', component: () => import('../features/segments/SegmentsPage.vue') },
    { path: '/segments/:id(\\d+)', name: 'segment', component: () => import('../features/segments/SegmentPage.vue') },
    { path: '/segments/:id(\\d+)/edit', name: 'segment-edit', component: () => import('../features/segments/SegmentEditorPage.vue') },
    { path: '/contacts', name: 'contacts', component: () => import('../features/contacts/ContactsPage.vue') },
    {
      path: '/contacts/import',
      name: 'import',
      component: () => import('../features/import/ImportPage.vue'),
      meta: { minRole: 'super_admin' },
    },
    { path: '/contacts/:id(\\d+)', name: 'contact', component: () => import('../features/contacts/ContactDetailPage.vue') },
    { path: '/tags', name: 'tags', component: () => import('../features/tags/TagsPage.vue') },
    {
      path: '/rollback',
      name: 'rollback',
      component: () => import('../features/rollback/RollbackPage.vue'),
      meta: { minRole: 'super_admin' },
    },
    { path: '/audit', name: 'audit', component: () => import('../features/audit/AuditPage.vue'), meta: { minRole: 'super_admin' } },
    {
      path: '/audit/security',
      name: 'security-log',
      component: () => import('../features/audit/SecurityLogPage.vue'),
      meta: { minRole: 'super_admin' },
    },
    { path: '/people', name: 'people', component: () => import('../features/people/PeoplePage.vue'), meta: { minRole: 'super_admin' } },
    { path: '/alerts', name: 'alerts', component: () => import('../features/alerts/AlertsPage.vue') },
    { path: '/sources', name: 'sources', component: () => import('../features/sources/SourcesPage.vue'), meta: { minRole: 'super_admin' } },
    { path: '/:pathMatch(.*)*', redirect: '/' },
  ],
});

// Every screen but sign-in needs a session; the first navigation asks the server who we are.
router.beforeEach(async (to) => {
  const session = useSessionStore();
  if (!session.loaded) await session.load();
  if (to.meta.public) return session.user && to.name === 'login' ? { path: String(to.query.next ?? '/') } : true;
  if (!session.user) return { name: 'login', query: to.fullPath === '/' ? {} : { next: to.fullPath } };
  if (to.meta.minRole && !session.can(to.meta.minRole)) return { path: '/' };
  return true;
});

// A session that ends while a screen is open (expired, revoked, signed out elsewhere).
onUnauthorized(() => {
  const session = useSessionStore();
  session.set(null);
  const current = router.currentRoute.value;
  if (!current.meta.public) void router.push({ name: 'login', query: { next: current.fullPath } });
});
