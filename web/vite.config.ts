import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';

// The SPA is built into web/dist and served by the worker's ASSETS binding (wrangler.toml).
// `vite --config web/vite.config.ts` serves it with hot reload and proxies /api to `wrangler dev`.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [vue()],
  resolve: { alias: { '@shared': fileURLToPath(new URL('../shared/src', import.meta.url)) } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 1200,
    // web/dist/.vite/manifest.json: the chunk graph scripts/js-budget.ts reads (kept out of the
    // served assets by web/public/.assetsignore)
    manifest: true,
  },
  server: {
    port: 5173,
    proxy: { '/api': 'http://127.0.0.1:8787' },
  },
});
