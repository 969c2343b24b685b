import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page, type Request } from 'playwright-core';
import { inject } from 'vitest';
import { DEMO_PASSWORD } from '@shared/demo/index';
import { expectedOf, type RuleDetail, type RulePreviewOk } from '@shared/api/rules';
import type { TaxonomyTag } from '@shared/api/taxonomy';
import { d1Query, devLogPath } from './wrangler';

/** The demo super admin (scripts/seed.ts gives every demo user DEMO_PASSWORD). */
export const SUPER_ADMIN = 'admin@segflow.demo';

/**
 * Debian's Chromium, headless, in a throwaway profile, with the given UI language, signed in
 * as `as` (a demo user's email; the super admin by default; null: signed out). Signing in goes
 * through the real API, so the context holds a real HttpOnly session cookie; the sign-in page
 * itself is driven in e2e/auth.test.ts.
 */
export async function openBrowser(
  locale = 'zh-CN',
  as: string | null = SUPER_ADMIN,
  baseURL: string = inject('baseURL'),
): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'segflow-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    locale,
    viewport: { width: 1440, height: 900 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  if (as) {
    const res = await context.request.post(`${baseURL}/api/auth/login`, { data: { email: as, password: DEMO_PASSWORD } });
    if (!res.ok()) throw new Error(`sign-in as ${as} failed: ${res.status()} ${await res.text()}`);
    // test setup through context.request writes with the session's CSRF token, as the app does
    const { csrfToken } = (await res.json()) as { csrfToken: string };
    await context.setExtraHTTPHeaders({ 'x-csrf-token': csrfToken });
  }
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Calls the API as the context's signed-in user (its session cookie, and the session's CSRF
 * token on writes), for test setup that the screens under test do not cover.
 */
export async function apiCall<T = unknown>(context: BrowserContext, method: string, path: string, data?: unknown): Promise<T> {
  const base = inject('baseURL');
  const me = await context.request.get(`${base}/api/auth/me`);
  if (!me.ok()) throw new Error(`not signed in: ${me.status()}`);
  const { csrfToken } = (await me.json()) as { csrfToken: string };
  const res = await context.request.fetch(`${base}/api${path}`, { method, data, headers: { 'x-csrf-token': csrfToken } });
  if (!res.ok()) throw new Error(`${method} ${path} failed: ${res.status()} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Publishes a saved rule through the API at 100%, confirming the per-tag counts its preview gives. */
export async function publishViaApi(context: BrowserContext, ruleId: number, graph: unknown): Promise<void> {
  const preview = await apiCall<RulePreviewOk>(context, 'POST', '/rules/preview', { graph, ruleId, rolloutPercent: 100, sampleSize: 0 });
  await apiCall(context, 'POST', `/rules/${ruleId}/publish`, {
    rolloutPercent: 100,
    graphHash: preview.graphHash,
    expected: expectedOf(preview.counts),
    confirm: true,
  });
}

/**
 * A tag of this file's own in 运营标记 (the e2e D1 is shared by every e2e file) and a published
 * schedule rule adding it to every contact in `region`.
 */
export async function publishTaggingRule(
  context: BrowserContext,
  o: { ruleName: string; tagName: string; region: string },
): Promise<{ ruleId: number; tagId: number }> {
  const [group] = d1Query<{ id: number }>(inject('persistTo'), `select id from tag_groups where name = '运营标记'`);
  const tag = await apiCall<TaxonomyTag>(context, 'POST', '/taxonomy/tags', { groupId: group!.id, name: o.tagName, allowDuplicate: true });
  const graph = {
    schemaVersion: 1,
    nodes: [
      { id: 't', kind: 'trigger', trigger: { type: 'schedule', cron: '0 3 * * *' } },
      { id: 'c', kind: 'condition', condition: { field: 'region', op: 'eq', value: o.region } },
      { id: 'a', kind: 'action', action: { type: 'add_tag', tagId: tag.id } },
    ],
    edges: [
      { id: 'e1', source: 't', target: 'c' },
      { id: 'e2', source: 'c', target: 'a', sourceHandle: 'yes' },
    ],
  };
  const rule = await apiCall<RuleDetail>(context, 'POST', '/rules', { name: o.ruleName, graph });
  await publishViaApi(context, rule.id, graph);
  return { ruleId: rule.id, tagId: tag.id };
}

/**
 * Opens `url` in `page` once its first screen is on the page (the app marks the root once the
 * router has loaded the route's lazily loaded chunk; web/src/main.ts). Local `wrangler dev` has
 * been seen to leave one request of a navigation (the HTML, or one of its module scripts)
 * unanswered for 30 s on a loaded machine while every other request of the run answered, so a
 * navigation that has not shown its screen within 20 s is tried once more; what the test then
 * asserts is unchanged.
 */
export async function gotoPage(page: Page, url: string): Promise<void> {
  // the requests the browser is still waiting for, to name the one left unanswered
  const pending = new Set<Request>();
  const started = (r: Request) => pending.add(r);
  const ended = (r: Request) => pending.delete(r);
  page.on('request', started);
  page.on('requestfinished', ended);
  page.on('requestfailed', ended);
  const open = async (timeout: number) => {
    const deadline = Date.now() + timeout;
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout });
    await page.waitForFunction("document.documentElement.dataset.routeReady === 'true'", null, {
      timeout: Math.max(1, deadline - Date.now()),
    });
  };
  try {
    await open(20_000);
  } catch (e) {
    if (!(e instanceof Error && e.name === 'TimeoutError')) throw e;
    // say so, with what wrangler dev printed lately, so the unanswered request can be traced
    const log = devLogPath(inject('persistTo'));
    const tail = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-40).join('\n') : '(no log)';
    const waiting = [...pending].map((r) => `${r.method()} ${r.url()}`).join('\n') || '(none)';
    console.warn(
      `gotoPage: ${url} did not show its screen within 20 s at ${new Date().toISOString()}; trying once more.\n` +
        `the browser still waits for:\n${waiting}\nwrangler dev lately:\n${tail}`,
    );
    await open(30_000);
  } finally {
    page.off('request', started);
    page.off('requestfinished', ended);
    page.off('requestfailed', ended);
  }
}

/**
 * A signed-in browser (see openBrowser) with one page open, collecting the page's console
 * errors and uncaught exceptions, which screen tests assert to be empty.
 */
export async function openPage(locale = 'zh-CN', as: string | null = SUPER_ADMIN, baseURL: string = inject('baseURL')) {
  const { context, close } = await openBrowser(locale, as, baseURL);
  const page = await context.newPage();
  const consoleErrors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  return { context, page, consoleErrors, close };
}

/** Opens an Element Plus select, types to filter (when `typed`), and clicks the first visible option containing `option`. */
export async function pickOption(page: Page, trigger: Locator, typed: string, option: string) {
  await trigger.click();
  if (typed) await page.keyboard.type(typed);
  await page.locator('.el-select-dropdown__item:visible', { hasText: option }).first().click();
}

/**
 * Pans the rule canvas the way a user does (dragging an empty spot of it) until `node` is inside
 * it: the fit stops at a readable zoom, so a long rule's last nodes can start off to the right.
 */
export async function revealNode(page: Page, node: Locator): Promise<void> {
  const canvas = (await page.getByTestId('canvas').boundingBox())!;
  const box = (await node.boundingBox())!;
  const margin = 40;
  const dx = Math.min(0, canvas.x + canvas.width - margin - (box.x + box.width)) || Math.max(0, canvas.x + margin - box.x);
  const dy = Math.min(0, canvas.y + canvas.height - margin - (box.y + box.height)) || Math.max(0, canvas.y + margin - box.y);
  if (!dx && !dy) return;
  // an empty spot: a point where the pane itself is the topmost element
  let from: { x: number; y: number } | null = null;
  for (let fy = 0.85; !from && fy > 0.1; fy -= 0.1)
    for (let fx = 0.5; !from && fx < 0.95; fx += 0.1) {
      const p = { x: Math.round(canvas.x + canvas.width * fx), y: Math.round(canvas.y + canvas.height * fy) };
      if (await page.evaluate(`!!document.elementFromPoint(${p.x}, ${p.y})?.classList.contains('vue-flow__pane')`)) from = p;
    }
  if (!from) throw new Error('no empty spot on the canvas to pan from');
  await page.mouse.move(from.x, from.y);
  await page.mouse.down();
  await page.mouse.move(from.x + dx, from.y + dy, { steps: 8 });
  await page.mouse.up();
}
