/**
 * A segment's page in the browser: reached from the segments list, its size history drawn from
 * the demo's 90 days of snapshots, its definition in words, an overlap picked with another
 * segment whose counts add up to both segments' sizes, an XLSX export downloaded (and audited),
 * and the same page in English. The overlap's agreement with each segment's own members is
 * proved in worker/test/segment-page.test.ts; here the screen shows the worker's numbers.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import type { SegmentListItem, SegmentListResponse } from '@shared/api/segments';
import { apiCall, gotoPage, openPage, pickOption } from './browser';
import { d1Query } from './wrangler';

const baseURL = inject('baseURL');
const persistTo = inject('persistTo');
let context: BrowserContext;
let page: Page;
let consoleErrors: string[];
let close: () => Promise<void>;

beforeAll(async () => {
  ({ context, page, consoleErrors, close } = await openPage('zh-CN'));
});
afterAll(async () => close?.());

const num = (text: string) => Number(text.replace(/[^\d]/g, ''));

describe('A segment page', () => {
  let a: SegmentListItem;
  let b: SegmentListItem;

  it('opens from the list with its size, its history chart and its definition in words', async () => {
    const list = await apiCall<SegmentListResponse>(context, 'GET', '/segments?pageSize=100');
    // the demo's own segments (seeded first, with 90 days of history), not ones other browser tests saved today
    const demo = list.items.filter((s) => s.valid && s.size !== null).sort((x, y) => x.id - y.id);
    expect(demo.length).toBeGreaterThanOrEqual(2);
    [a, b] = demo as [SegmentListItem, SegmentListItem];

    await gotoPage(page, `${baseURL}/segments`);
    await page.locator('.seg-row', { hasText: a.name }).click();
    await page.waitForURL((u) => u.pathname === `/segments/${a.id}`);
    expect(await page.getByTestId('segment-name').innerText()).toBe(a.name);
    expect(num(await page.getByTestId('segment-size-value').innerText())).toBe(a.size);

    const chart = page.getByTestId('segment-history-chart');
    await chart.waitFor();
    const canvas = await chart
      .locator('canvas')
      .first()
      .evaluate((c) => {
        const el = c as unknown as { width: number; height: number };
        return [el.width, el.height];
      });
    expect(canvas[0]).toBeGreaterThan(300);
    expect(canvas[1]).toBeGreaterThan(100);
    // the summary names the first and last recorded sizes, as the snapshots hold them
    const [last] = d1Query<{ size: number }>(
      persistTo,
      `select size from segment_snapshots where segment_id = ${a.id} order by day desc limit 1`,
    );
    expect(await page.getByTestId('segment-history').getByTestId('card-summary').innerText()).toContain(last!.size.toLocaleString('zh-CN'));
    expect((await page.getByTestId('segment-words').innerText()).trim().length).toBeGreaterThan(4);
  }, 90_000);

  it('counts the overlap with another segment: both, either and only one add up to the two sizes', async () => {
    await pickOption(page, page.getByTestId('overlap-picker'), b.name.slice(0, 4), b.name);
    const result = page.getByTestId('overlap-result');
    await result.waitFor({ timeout: 30_000 });
    const read = async (k: string) => num(await page.getByTestId(`overlap-${k}`).locator('dd').innerText());
    const [onlyA, both, onlyB, either] = [await read('onlyA'), await read('both'), await read('onlyB'), await read('either')];
    expect(onlyA + both).toBe(a.size);
    expect(onlyB + both).toBe(b.size);
    expect(either).toBe(onlyA + both + onlyB);
  }, 60_000);

  it('downloads the segment as an XLSX workbook, audited with its rows', async () => {
    await page.getByTestId('segment-export').click();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-xlsx').click()]);
    expect(download.suggestedFilename()).toMatch(
      new RegExp(`^${a.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-\\d{4}-\\d{2}-\\d{2}\\.xlsx$`),
    );
    const bytes = readFileSync((await download.path())!);
    expect(bytes.subarray(0, 2).toString('latin1')).toBe('PK');
    const [audit] = d1Query<{ after: string }>(
      persistTo,
      `select after from audit_log where action = 'contact.export' and object_type = 'segment' and object_id = '${a.id}' order by id desc limit 1`,
    );
    expect(JSON.parse(audit!.after)).toMatchObject({ segmentId: a.id, rows: a.size, format: 'xlsx', locale: 'zh-CN', sealed: true });
    expect(consoleErrors).toEqual([]);
  }, 60_000);

  it('speaks English, and its edit button opens the canvas', async () => {
    const en = await openPage('en');
    try {
      await gotoPage(en.page, `${baseURL}/segments/${a.id}`);
      await en.page.getByTestId('segment-history-chart').waitFor();
      expect(await en.page.getByTestId('segment-history').locator('h2').innerText()).toBe('Size over time');
      expect(await en.page.getByTestId('segment-overlap').locator('h2').innerText()).toBe('Overlap with another segment');
      await en.page.getByTestId('segment-edit').click();
      await en.page.waitForURL((u) => u.pathname === `/segments/${a.id}/edit`);
      await en.page.getByTestId('node-trigger').waitFor();
      expect(en.consoleErrors).toEqual([]);
    } finally {
      await en.close();
    }
  }, 60_000);
});
