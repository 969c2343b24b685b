import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import type { RuleExplainResponse } from '@shared/api/rules';
import type { ScoreCalibrationResponse } from '@shared/api/score-calibration';
import type { RuleGraph } from '@shared/rules/types';
import { apiCall, gotoPage, openPage, pickOption } from './browser';
import { d1Query } from './wrangler';

/**
 * Seed 003's group-member score (speaking 30%, content 25%, activity 20%, invites 15%,
 * violations a 10-point penalty; > 80 core, 60–80 active, 40–60 normal, < 40 watch) built from an
 * empty canvas with the band node in under 15 UI actions, previewed, and explained for a sample
 * contact: five factors with their contributions, the total and the band. A violator's penalty
 * shows as a negative contribution and lowers the score.
 */
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

/** Every click, key, fill or drag the user makes while building, counted. */
let actions = 0;
const act = async <T>(step: () => Promise<T>): Promise<T> => {
  actions++;
  return step();
};

/** Drags a connection from one handle to another with the mouse: one action. */
async function connect(from: Locator, to: Locator) {
  const a = (await from.boundingBox())!;
  const b = (await to.boundingBox())!;
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 12 });
  await page.mouse.up();
}

describe('member score on the band node (seed 003)', () => {
  it('builds it from an empty canvas in under 15 actions, previews it, and explains a contact factor by factor', async () => {
    // the demo's exclusive group of member tiers, tags in tier order
    const tiers = d1Query<{ id: number; name: string }>(
      persistTo,
      `select t.id, t.name from tags t join tag_groups g on g.id = t.group_id where g.name = '群成员评级' and g.exclusive = 1 and t.status = 'active' order by t.id`,
    );
    expect(tiers.map((t) => t.name)).toEqual(['核心成员', '活跃成员', '普通成员', '观察名单']);

    // an empty canvas: a new blank rule holds its trigger and nothing else
    await gotoPage(page, `${baseURL}/rules`);
    await page.getByTestId('create-rule').click();
    await page.getByTestId('template-gallery').waitFor();
    await page.getByTestId('template-use').click();
    await page.locator('.el-message-box input').fill(`群成员分层 ${Date.now()}`);
    await page.locator('.el-message-box .el-button--primary').click();
    await page.waitForURL(/\/rules\/\d+$/);
    await page.getByTestId('node-trigger').waitFor();
    expect(await page.locator('.vue-flow__node').count()).toBe(1);
    const ruleId = Number(/\/rules\/(\d+)$/.exec(page.url())![1]);

    // 1: the band node from the palette (it is selected, its inspector opens)
    await act(() => page.getByTestId('palette-band').dragTo(page.getByTestId('canvas'), { targetPosition: { x: 420, y: 380 } }));
    const band = page.getByTestId('node-band');
    await band.waitFor();
    // 2: trigger → band
    await act(() =>
      connect(
        page.locator('[data-testid=node-trigger] .vue-flow__handle.source').first(),
        band.locator('.vue-flow__handle.target').first(),
      ),
    );
    await expect.poll(() => page.locator('.vue-flow__edge').count()).toBe(1);
    const inspector = page.getByTestId('band-inspector');
    await inspector.waitFor();
    // 3–4: the exclusive group; its four tags go to the four bands, top first
    actions += 2;
    await pickOption(page, inspector.getByTestId('band-group'), '', '群成员评级');
    await expect
      .poll(() => band.getByTestId('band-row').allInnerTexts())
      .toEqual([
        expect.stringContaining('核心成员'),
        expect.stringContaining('活跃成员'),
        expect.stringContaining('普通成员'),
        expect.stringContaining('观察名单'),
      ]);
    // 5–9: the five factors, one click each; violations start as a −10 penalty
    for (const m of ['field:messageCount', 'count:article_open', 'count:group_join', 'field:inviteCount', 'field:violationCount']) {
      await act(() => inspector.getByTestId(`measure-${m}`).click());
    }
    await expect.poll(() => inspector.getByTestId('band-factor').count()).toBe(5);
    // 10–13: the four weights (each factor shows how it is normalised)
    const weights = inspector.getByTestId('band-factor-weight').locator('input');
    for (const [i, w] of [30, 25, 20, 15].entries()) await act(() => weights.nth(i).fill(String(w)));
    await page.keyboard.press('Tab'); // leaves the last field (the number commits on blur)
    actions++;
    await expect.poll(() => inspector.getByTestId('band-weight-sum').innerText()).toContain('100');
    expect(await inspector.getByTestId('band-factor-norm').nth(4).innerText()).toContain('扣满 10 分');
    expect(await page.getByTestId('node-error').count()).toBe(0);
    expect(actions).toBeLessThan(15);
    await inspector.getByTestId('band-group').scrollIntoViewIfNeeded();
    await page.mouse.move(5, 895);
    await page.screenshot({ path: 'e2e/screenshots/member-score-inspector-zh-CN.png' });
    await inspector.getByTestId('band-edit-row').last().scrollIntoViewIfNeeded();
    await page.screenshot({ path: 'e2e/screenshots/member-score-bands-zh-CN.png' });
    console.log(`member score built in ${actions} UI actions`);

    // saved, the draft is what was built: one band node onto the group's tags, weights as typed
    await page.getByTestId('save-draft').click();
    await expect.poll(() => page.getByTestId('save-draft').isDisabled()).toBe(true);
    await expect
      .poll(async () => {
        const r = await apiCall<{ draftGraph: RuleGraph }>(context, 'GET', `/rules/${ruleId}`);
        const b = r.draftGraph.nodes.find((n) => n.kind === 'band');
        return b?.kind === 'band' ? { w: b.metrics.map((m) => m.weight), t: b.bands.map((x) => x.tagId) } : null;
      })
      .toEqual({ w: [30, 25, 20, 15, -10], t: tiers.map((t) => t.id) });

    // preview: every contact lands in one band (the lowest starts below any score)
    await page.getByTestId('tab-preview').click();
    const contacts = d1Query<{ n: number }>(persistTo, 'select count(*) as n from contacts')[0]!.n;
    await expect.poll(() => page.getByTestId('preview-matched').innerText(), { timeout: 15_000 }).toBe(contacts.toLocaleString('zh-CN'));
    const perBand = await band.getByTestId('band-row').allInnerTexts();
    expect(perBand.every((row) => /\d/.test(row))).toBe(true);

    // why: five factors with their contributions, the total and the band (the first sample with a score above 0)
    const why = page.getByTestId('explain');
    const samples = page.getByTestId('sample-contact');
    const sampleCount = await samples.count();
    for (let i = 0; i < sampleCount; i++) {
      await samples.nth(i).click();
      await expect.poll(() => why.getByTestId('explain-factor').count()).toBe(5);
      if (!(await why.getByTestId('explain-score-total').innerText()).includes(' 0.0')) break;
      await page.keyboard.press('Escape');
      await page.locator('.el-dialog').waitFor({ state: 'hidden' });
    }
    const factors = await why.getByTestId('explain-factor').allInnerTexts();
    expect(factors.map((f) => f.split('\t')[0])).toEqual(['消息数', '近 30 天打开文章次数', '近 30 天入群次数', '邀请人数', '违规次数']);
    const contributions = (await why.getByTestId('explain-factor-contribution').allInnerTexts()).map(Number);
    expect(contributions.every((c) => Number.isFinite(c))).toBe(true);
    const total = Number(/([-\d.]+)/.exec(await why.getByTestId('explain-score-total').innerText())![1]);
    expect(total).toBeGreaterThan(0);
    expect(contributions.some((c) => c > 0)).toBe(true);
    expect(total).toBeCloseTo(
      contributions.reduce((s, c) => s + c, 0),
      0,
    );
    const bandText = await why.getByTestId('explain-score-band').innerText();
    expect(bandText).toMatch(/落入分段：.*→ (核心成员|活跃成员|普通成员|观察名单)/);
    await page.mouse.move(5, 895);
    await page.waitForTimeout(400); // the dialog's opening animation
    await page.screenshot({ path: 'e2e/screenshots/member-score-why-zh-CN.png' });
    await page.keyboard.press('Escape');

    // a penalty lowers a violator's score: the same rule explained for a violator, with and without the violations factor
    const [violator] = d1Query<{ id: number }>(persistTo, 'select id from contacts where violation_count >= 3 order by id limit 1');
    expect(violator).toBeDefined();
    const { draftGraph } = await apiCall<{ draftGraph: RuleGraph }>(context, 'GET', `/rules/${ruleId}`);
    const explain = async (graph: RuleGraph) => {
      const r = await apiCall<RuleExplainResponse>(context, 'POST', '/rules/explain', { graph, contactId: violator!.id });
      if (!r.ok) throw new Error(JSON.stringify(r.errors));
      return Object.values(r.explanation.scoreDetails)[0]!;
    };
    const withPenalty = await explain(draftGraph);
    expect(withPenalty.factors[4]).toMatchObject({ field: 'violationCount', weight: -10, contribution: -10 });
    const clean = await explain({
      ...draftGraph,
      nodes: draftGraph.nodes.map((n) => (n.kind === 'band' ? { ...n, metrics: n.metrics.slice(0, 4) } : n)),
    });
    expect(withPenalty.total).toBeCloseTo(clean.total - 10, 9);

    // caps from the workspace: one click sets each cap to where 90% of the contacts stay at or
    // under it (the API's numbers), the spread shows per factor, the bands spread out, and one
    // undo puts every cap back
    const bandCount = async (i: number) =>
      Number((await band.getByTestId('band-row').nth(i).locator('.sf-band-count').innerText()).replace(/,/g, ''));
    const watchBefore = await bandCount(3);
    await band.click();
    await page.getByTestId('tab-inspector').click();
    const caps = inspector.getByTestId('band-factor-cap').locator('input');
    const capsBefore = await Promise.all([0, 1, 2, 3, 4].map((i) => caps.nth(i).inputValue()));
    const suggested = await apiCall<ScoreCalibrationResponse>(context, 'POST', '/score-calibration', {
      metrics: draftGraph.nodes.flatMap((n) =>
        n.kind === 'band' ? n.metrics.map((m) => (m.params ? { field: m.field, params: m.params } : { field: m.field })) : [],
      ),
    });
    await inspector.getByTestId('caps-calibrate').click();
    const expected = suggested.factors.map((f, i) => (f.suggestedCap === null ? capsBefore[i] : String(f.suggestedCap)));
    await expect.poll(() => Promise.all([0, 1, 2, 3, 4].map((i) => caps.nth(i).inputValue()))).toEqual(expected);
    expect(expected).not.toEqual(capsBefore);
    expect(await inspector.getByTestId('band-factor-spread').first().innerText()).toMatch(
      /第 90 百分位 [\d,.]+ · 最大 [\d,.]+ · [\d,]+ 人大于 0/,
    );
    expect(await inspector.getByTestId('caps-hint').innerText()).toContain(contacts.toLocaleString('zh-CN'));
    await inspector.getByTestId('caps-calibrate').scrollIntoViewIfNeeded();
    await page.mouse.move(5, 895);
    await page.screenshot({ path: 'e2e/screenshots/member-score-caps-zh-CN.png' });
    // the watch list (the lowest band) shrinks once the caps fit the data
    await expect.poll(() => bandCount(3), { timeout: 15_000 }).toBeLessThan(watchBefore);
    await page.getByTestId('undo').click();
    await expect.poll(() => Promise.all([0, 1, 2, 3, 4].map((i) => caps.nth(i).inputValue()))).toEqual(capsBefore);

    // the same screens in English
    await page.getByTestId('language-switch').getByText('EN').click();
    await band.click();
    await page.getByTestId('tab-inspector').click();
    await expect.poll(() => inspector.innerText()).toContain('Exclusive tag group');
    await inspector.getByTestId('band-group').scrollIntoViewIfNeeded();
    await page.mouse.move(5, 895);
    await page.screenshot({ path: 'e2e/screenshots/member-score-inspector-en.png' });
    await page.getByTestId('tab-preview').click();
    await samples.first().waitFor();
    for (let i = 0; i < sampleCount; i++) {
      await samples.nth(i).click();
      await expect.poll(() => why.getByTestId('explain-factor').count()).toBe(5);
      if (!(await why.getByTestId('explain-score-total').innerText()).includes(' 0.0')) break;
      await page.keyboard.press('Escape');
      await page.locator('.el-dialog').waitFor({ state: 'hidden' });
    }
    expect(await why.getByTestId('explain-score-band').innerText()).toMatch(/^Band: /);
    expect((await why.getByTestId('explain-factor').allInnerTexts()).map((f) => f.split('\t')[0])).toEqual([
      'Messages',
      'Article open count, last 30 days',
      'Group join count, last 30 days',
      'Invites',
      'Violations',
    ]);
    await page.mouse.move(5, 895);
    await page.waitForTimeout(400);
    await page.screenshot({ path: 'e2e/screenshots/member-score-why-en.png' });
    await page.keyboard.press('Escape');
    expect(consoleErrors).toEqual([]);
  });
});
