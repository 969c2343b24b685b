/// <reference types="vite/client" />
import { createApp } from 'vue';
import { createPinia } from 'pinia';
import 'element-plus/dist/index.css';
import './styles.css';
import App from './App.vue';
import { router } from './app/router';
import { i18n } from './app/i18n';

document.documentElement.lang = i18n.global.locale.value;
createApp(App).use(createPinia()).use(router).use(i18n).mount('#app');
// The first route's screen (a lazily loaded chunk) is on the page: e2e/browser.ts `gotoPage` waits for this.
void router.isReady().then(() => (document.documentElement.dataset.routeReady = 'true'));
