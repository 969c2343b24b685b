/**
 * Outbound destinations on the data-sources screen, in Chromium against `wrangler dev` (real
 * queues, real D1): a destination is created and its secret shown once; a test delivery to a
 * port nobody listens on fails every attempt (e2e runs with a backoff base of 0) and lands in the
 * dead letters through the real dead-letter queue; a receiver then starts on that port, and the
 * retry button delivers it, signed with the secret that was shown.
 */
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { Page } from 'playwright-core';
import { freePort } from './wrangler';
import { gotoPage, openPage } from './browser';

const baseURL = inject('baseURL');
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closers) await close();
});

interface Arrived {
  deliveryId: string;
  timestamp: string;
  signature: string;
  body: string;
}

/** The receiver the destination points at, started only once the dead letter is there. */
function startReceiver(port: number): Promise<{ server: Server; arrived: Arrived[] }> {
  const arrived: Arrived[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      arrived.push({
        deliveryId: String(req.headers['x-segflow-delivery']),
        timestamp: String(req.headers['x-segflow-timestamp']),
        signature: String(req.headers['x-segflow-signature']),
        body,
      });
      res.writeHead(200).end('ok');
    });
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve({ server, arrived })));
}

/** Refreshes the dead-letter tab until a row of `name` shows (the queue retries in the background). */
async function waitForDeadLetter(page: Page, name: string) {
  await expect
    .poll(
      async () => {
        await page.getByTestId('dead-refresh').click();
        await page.waitForTimeout(500);
        return page.getByTestId('dead-letters-table').getByText(name).count();
      },
      { timeout: 45_000, interval: 1000 },
    )
    .toBeGreaterThan(0);
}

describe('destinations and dead letters on screen', () => {
  it('shows a new destination’s secret once, keeps a failed delivery as a dead letter, and delivers it on retry', async () => {
    const port = await freePort();
    const name = `关闭端口-${port}`;
    const { page, consoleErrors, close } = await openPage('zh-CN');
    closers.push(close);
    await gotoPage(page, `${baseURL}/sources?tab=destinations`);

    await page.getByTestId('new-destination').click();
    await page.getByTestId('destination-name').fill(name);
    await page.getByTestId('destination-url').fill(`http://127.0.0.1:${port}/segflow`);
    await page.getByTestId('destination-save').click();
    const dialog = page.getByTestId('secret-dialog');
    await expect.poll(() => dialog.isVisible()).toBe(true);
    const secret = await page.getByTestId('secret-secret').inputValue();
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    expect(await page.getByTestId('secret-url').inputValue()).toBe(`http://127.0.0.1:${port}/segflow`);
    await page.waitForTimeout(400); // the dialog's fade-in
    await page.screenshot({ path: 'e2e/screenshots/destination-secret-zh-CN.png' });
    await page.getByTestId('secret-done').click();
    await expect.poll(() => dialog.isVisible()).toBe(false);
    // never again: not in the list, not in the page
    const row = page.getByTestId('destinations-table').locator('tr', { hasText: name });
    await expect.poll(() => row.count()).toBe(1);
    expect(await page.content()).not.toContain(secret);

    await row.getByTestId('destination-test').click();
    await page.screenshot({ path: 'e2e/screenshots/destinations-zh-CN.png', fullPage: true });

    await page.getByRole('tab', { name: '死信' }).click();
    await waitForDeadLetter(page, name);
    const dead = page.getByTestId('dead-letters-table').locator('tr', { hasText: name });
    expect(await dead.getByTestId('dead-attempts').innerText()).toBe('5');
    expect(await dead.getByTestId('dead-reason').innerText()).toMatch(/network error/);
    await page.screenshot({ path: 'e2e/screenshots/dead-letters-zh-CN.png', fullPage: true });

    // the same screens in English
    const en = await openPage('en');
    closers.push(en.close);
    await gotoPage(en.page, `${baseURL}/sources?tab=destinations`);
    await expect.poll(() => en.page.getByTestId('destinations-table').getByText(name).count()).toBe(1);
    await en.page.screenshot({ path: 'e2e/screenshots/destinations-en.png', fullPage: true });
    await gotoPage(en.page, `${baseURL}/sources?tab=dead-letters`);
    await expect.poll(() => en.page.getByTestId('dead-letters-table').getByText(name).count()).toBe(1);
    expect(await en.page.getByTestId('dead-letters-table').innerText()).toMatch(/Test delivery/);
    await en.page.screenshot({ path: 'e2e/screenshots/dead-letters-en.png', fullPage: true });

    // the receiver is fixed: the retry delivers, signed with the secret shown once
    const { server, arrived } = await startReceiver(port);
    closers.push(() => new Promise((r) => server.close(() => r())));
    await dead.getByTestId('dead-retry').click();
    await expect.poll(() => arrived.length, { timeout: 20_000 }).toBe(1);
    const got = arrived[0]!;
    const expected = 'sha256=' + createHmac('sha256', secret).update(`${got.timestamp}.${got.body}`).digest('hex');
    expect(got.signature).toBe(expected);
    expect(JSON.parse(got.body)).toMatchObject({ deliveryId: got.deliveryId, kind: 'call_webhook', rule: { id: 0 } });
    await expect
      .poll(
        async () => {
          await page.getByTestId('dead-refresh').click();
          await page.waitForTimeout(300);
          return page.getByTestId('dead-letters-table').getByText(name).count();
        },
        { timeout: 20_000 },
      )
      .toBe(0);
    expect(arrived).toHaveLength(1);
    expect(consoleErrors).toEqual([]);
  });
});
