/**
 * The contact timeline over archived history, in the browser: on its own `wrangler dev` (with
 * `--test-scheduled`, so the Cron Trigger can be fired) over its own small demo database, so
 * archiving does not change the data the other browser tests read. The archive job runs from
 * the real scheduled handler until every day older than the horizon is in R2; the contact page
 * then says older history is archived and "load older" shows it.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dayNumber, dayStartMs } from '@shared/time';
import { gotoPage, openPage } from './browser';
import { QUIET_ENV, d1Query, freePort, startDev, stopDev, wrangler } from './wrangler';

const dir = mkdtempSync(join(tmpdir(), 'segflow-e2e-archive-'));
let dev: ChildProcess | null = null;
let baseURL = '';
/** The first day D1 keeps (90-day default horizon, Shanghai days). */
const cutoffMs = dayStartMs(dayNumber(Date.now(), 480) - 89, 480);
let contactId = 0;
let archivedCount = 0;

beforeAll(async () => {
  wrangler(['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', dir]);
  execFileSync('node_modules/.bin/tsx', ['scripts/seed.ts', '--persist-to', dir, '--contacts', '200', '--seed', '15'], {
    env: QUIET_ENV,
    stdio: 'ignore',
  });
  // the contact with the most events the archive will take, among those with recent ones too (both parts on screen)
  const [top] = d1Query<{ contact_id: number; n: number }>(
    dir,
    `SELECT contact_id, COUNT(*) AS n FROM events WHERE occurred_at < ${cutoffMs}
       AND contact_id IN (SELECT contact_id FROM events WHERE occurred_at >= ${cutoffMs}) GROUP BY contact_id ORDER BY n DESC LIMIT 1`,
  );
  contactId = top!.contact_id;
  archivedCount = top!.n;
  const port = await freePort();
  dev = await startDev(dir, port, ['--test-scheduled']);
  baseURL = `http://127.0.0.1:${port}`;
  // one tick archives a few chunks (a day each here): tick until nothing old is left in D1
  for (let tick = 0; tick < 200; tick++) {
    const res = await fireCron();
    expect(await res.text()).toBe('Ran scheduled event');
    if (tick % 10 === 9 && d1Query<{ n: number }>(dir, `SELECT COUNT(*) AS n FROM events WHERE occurred_at < ${cutoffMs}`)[0]!.n === 0)
      break;
  }
  expect(d1Query<{ n: number }>(dir, `SELECT COUNT(*) AS n FROM events WHERE occurred_at < ${cutoffMs}`)[0]!.n).toBe(0);
}, 240_000);

/** One Cron Trigger run; a dropped connection (wrangler dev reloading under load) is tried again, twice at most. */
async function fireCron(): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetch(`${baseURL}/__scheduled?cron=*+*+*+*+*`);
    } catch (e) {
      if (attempt === 3) throw e;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

afterAll(() => {
  if (dev) stopDev(dev);
  rmSync(dir, { recursive: true, force: true });
});

describe('archived history on the contact page', () => {
  for (const [locale, note, button, badge] of [
    ['zh-CN', '及更早的事件已归档', '加载更早记录（已归档）', '已归档'],
    ['en', 'are archived: kept in file storage (R2)', 'Load older (archived)', 'Archived'],
  ] as const) {
    it(`says older events are archived and loads them from R2 on request (${locale})`, async () => {
      const { page, consoleErrors, close } = await openPage(locale, undefined, baseURL);
      try {
        await gotoPage(page, `${baseURL}/contacts/${contactId}`);
        await page.getByRole('tab', { name: locale === 'en' ? /Events/ : /行为事件/ }).click();
        const box = page.getByTestId('archived-events');
        const more = page.getByRole('button', { name: locale === 'en' ? 'Load more' : '加载更多' });
        // the D1 part may page; load all of it first (once its first page is on screen: a busy
        // machine may still be loading it, and then there is neither the note nor the button yet)
        for (let i = 0; i < 10; i++) {
          await expect.poll(async () => (await box.isVisible()) || (await more.isVisible()), { timeout: 20_000 }).toBe(true);
          if (await box.isVisible()) break;
          await more.click();
          await page.waitForTimeout(300);
        }
        await expect.poll(() => box.isVisible()).toBe(true);
        expect(await box.innerText()).toContain(note);
        expect(await page.getByTestId('load-archived').innerText()).toBe(button);
        // 30 archived days per request, until none are left (a page of days may hold none of this contact's events)
        for (let i = 0; i < 10 && (await page.getByTestId('load-archived').isVisible()); i++) {
          await page.getByTestId('load-archived').click();
          await expect.poll(() => page.locator('[data-testid=load-archived].is-loading').count()).toBe(0);
          await page.waitForTimeout(300);
        }
        const archived = page.getByTestId('archived-timeline');
        await expect.poll(() => page.getByTestId('archived-end').isVisible()).toBe(true);
        expect(await archived.locator('.el-timeline-item').count()).toBe(archivedCount);
        expect(await archived.innerText()).toContain(badge);
        expect(await page.getByTestId('load-archived').count()).toBe(0);
        mkdirSync('e2e/screenshots', { recursive: true });
        // the boundary in view: the last events D1 holds above, the archived ones below
        await box
          .locator('.el-alert')
          .first()
          .evaluate((el) => el.scrollIntoView({ block: 'center' }));
        await page.screenshot({ path: `e2e/screenshots/contact-archived-history-${locale}.png` });
        expect(consoleErrors).toEqual([]);
      } finally {
        await close();
      }
    });
  }
});
