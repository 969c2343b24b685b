/// <reference types="vite/client" />
import { createApp } from 'vue';
import { createPinia } from 'pinia';
import 'element-plus/dist/index.css';
import './styles.css';
import App from './App.vue';
import { router } from './app/router';
import { i18n, startLocale } from './app/i18n';

// an English reader's messages are a chunk of their own: mount once they are here, so no
// screen is ever drawn with message keys (zh-CN, the default, is in the bundle: no wait)
void startLocale().then(() => {
  createApp(App).use(createPinia()).use(router).use(i18n).mount('#app');
  // The first route's screen (a lazily loaded chunk) is on the page: e2e/browser.ts `gotoPage` waits for this.
  void router.isReady().then(() => (document.documentElement.dataset.routeReady = 'true'));
});
