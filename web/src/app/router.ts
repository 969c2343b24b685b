import { createRouter, createWebHistory } from 'vue-router';

/** One route per feature; each screen lives in web/src/features/<feature>/. */
export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/', redirect: '/contacts' },
    { path: '/rules', name: 'rules', component: () => import('../features/rules/RulesPage.vue') },
    { path: '/rules/:id(\\d+)', name: 'rule', component: () => import('../features/rules/RuleEditorPage.vue') },
    { path: '/segments', name: 'segments', component: () => import('../features/segments/SegmentsPage.vue') },
    { path: '/segments/:id(\\d+)', name: 'segment', component: () => import('../features/segments/SegmentEditorPage.vue') },
    { path: '/contacts', name: 'contacts', component: () => import('../features/contacts/ContactsPage.vue') },
    { path: '/contacts/import', name: 'import', component: () => import('../features/import/ImportPage.vue') },
    { path: '/contacts/:id(\\d+)', name: 'contact', component: () => import('../features/contacts/ContactDetailPage.vue') },
    { path: '/tags', name: 'tags', component: () => import('../features/tags/TagsPage.vue') },
    { path: '/audit', name: 'audit', component: () => import('../features/audit/AuditPage.vue') },
    { path: '/:pathMatch(.*)*', redirect: '/contacts' },
  ],
});
