declare namespace Cloudflare {
  interface Env {
    /**
     * Base URL of WeCom's server API: https://qyapi.weixin.qq.com (wrangler.toml [vars]); the worker
     * tests point it at the WeCom simulator (vitest.config.ts).
     */
    WECOM_API_BASE: string;
  }
}
