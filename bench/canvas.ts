/**
 * Canvas drag benchmark: `npx tsx bench/canvas.ts [--runs 3] [--moves 60] [--profile out.cpuprofile]`
 * (needs `npm run build` first: it serves web/dist).
 *
 * 1. A fresh local D1 in a temp directory (migrations + `scripts/seed.ts --contacts 500`) served by
 *    `wrangler dev` on a free port, as the browser tests do.
 * 2. Two rules created through the API: the baseline, a 3-node rule (trigger → condition →
 *    action), and the load, a generated 300-node rule (ten chains of 28 conditions, each ending
 *    in an action, nine "or" nodes joining the last "no" outputs: the e2e test's graph).
 * 3. For each rule, in Debian's Chromium (1440×900, headless, GPU off), interleaved, `--runs`
 *    times: open the editor, wait until every node is rendered and the preview has answered, zoom
 *    to fit (all nodes on screen: the worst case), then drag one node with `--moves`
 *    mouse moves, each awaited as Playwright dispatches it (so a move that keeps the main thread
 *    busy delays the next). In the page, `requestAnimationFrame` timestamps give frame gaps and a
 *    `PerformanceObserver({ type: 'longtask' })` collects tasks over 50 ms.
 * Prints, per rule (median over runs): time to render, wall time of the drag and per move, frame
 * gap median / p95 / worst, long tasks (count, total, worst), and the 300-node / 3-node ratios.
 * With `--profile FILE` it also writes a Chrome CPU profile of one 300-node drag (open it in
 * Chromium's DevTools, Performance panel) to see where the time goes. With `--trace FILE` it records a
 * Chromium timeline of one 300-node drag (FILE opens in DevTools' Performance panel) and prints where the renderer's main thread spent it
 * (script, style, layout, paint…), which the CPU profile shows only as "(program)".
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { chromium, type Page } from 'playwright-core';
import { QUIET_ENV, d1Query, freePort, startDev, stopDev, wrangler } from '../e2e/wrangler';
import { CSRF_HEADER } from '@shared/api/auth';
import { DEMO_PASSWORD } from '@shared/demo/index';
import { median } from './local';

const SUPER_ADMIN = 'admin@segflow.demo';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    moves: { type: 'string', default: '60' },
    profile: { type: 'string' },
    trace: { type: 'string' },
  },
});
const RUNS = Number(values.runs);
const MOVES = Number(values.moves);
const log = (s: string) => process.stderr.write(`${s}\n`);

type Graph = { schemaVersion: 1; nodes: object[]; edges: object[] };

function smallGraph(tagId: number): Graph {
  return {
    schemaVersion: 1,
    nodes: [
      { id: 't', kind: 'trigger', position: { x: 0, y: 0 }, trigger: { type: 'schedule', cron: '0 3 * * *' } },
      { id: 'c0_0', kind: 'condition', position: { x: 300, y: 0 }, condition: { field: 'totalSpend', op: 'gte', value: 100 } },
      { id: 'a0', kind: 'action', position: { x: 600, y: 0 }, action: { type: 'add_tag', tagId } },
    ],
    edges: [
      { id: 'e0', source: 't', target: 'c0_0' },
      { id: 'e1', source: 'c0_0', target: 'a0', sourceHandle: 'yes' },
    ],
  };
}

/** The 300-node graph of e2e/rules.test.ts. */
function bigGraph(tagId: number): Graph {
  const nodes: object[] = [{ id: 't', kind: 'trigger', position: { x: 0, y: 0 }, trigger: { type: 'schedule', cron: '0 3 * * *' } }];
  const edges: object[] = [];
  for (let r = 0; r < 10; r++) {
    for (let c = 0; c < 28; c++) {
      nodes.push({
        id: `c${r}_${c}`,
        kind: 'condition',
        position: { x: 300 * (c + 1), y: 200 * r },
        condition: { field: 'totalSpend', op: 'gte', value: (r * 28 + c) * 100 },
      });
      edges.push({ id: `e${r}_${c}`, source: c ? `c${r}_${c - 1}` : 't', target: `c${r}_${c}`, ...(c ? { sourceHandle: 'yes' } : {}) });
    }
    nodes.push({ id: `a${r}`, kind: 'action', position: { x: 300 * 29, y: 200 * r }, action: { type: 'add_tag', tagId } });
    edges.push({ id: `ea${r}`, source: `c${r}_27`, target: `a${r}`, sourceHandle: 'yes' });
    if (r < 9) {
      nodes.push({ id: `o${r}`, kind: 'logic', position: { x: 300 * 29, y: 200 * r + 100 }, op: 'or' });
      edges.push({ id: `eo${r}`, source: `c${r}_27`, target: `o${r}`, sourceHandle: 'no' });
    }
  }
  if (nodes.length !== 300) throw new Error(`expected 300 nodes, built ${nodes.length}`);
  return { schemaVersion: 1, nodes, edges };
}

interface DragStats {
  renderMs: number;
  dragMs: number;
  perMoveMs: number;
  frames: number;
  medianFrame: number;
  p95Frame: number;
  worstFrame: number;
  longTasks: number;
  longTaskMs: number;
  worstLongTask: number;
}

const INSTALL_PROBES = `(() => {
  window.__frames = [];
  window.__long = [];
  new PerformanceObserver((l) => l.getEntries().forEach((e) => window.__long.push(e.duration))).observe({ type: 'longtask' });
  const tick = (t) => { window.__frames.push(t); requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
})()`;
const READ_PROBES = `(() => {
  const f = window.__frames;
  const gaps = f.slice(1).map((t, i) => t - f[i]).sort((a, b) => a - b);
  const q = (p) => gaps[Math.min(gaps.length - 1, Math.floor(gaps.length * p))] ?? 0;
  return { frames: f.length, medianFrame: q(0.5), p95Frame: q(0.95), worstFrame: gaps[gaps.length - 1] ?? 0,
    longTasks: window.__long.length, longTaskMs: window.__long.reduce((a, b) => a + b, 0), worstLongTask: Math.max(0, ...window.__long) };
})()`;

/** Main-thread time by trace event name over a recorded timeline (top-level slices only). */
function summariseTrace(events: { name: string; ph: string; dur?: number; tid: number; pid: number; cat: string }[]): string {
  const main = events.find((e) => e.name === 'thread_name' && (e as unknown as { args: { name: string } }).args.name === 'CrRendererMain');
  const byName = new Map<string, number>();
  for (const e of events) {
    if (!main || e.pid !== main.pid || e.tid !== main.tid || e.ph !== 'X' || !e.dur) continue;
    if (
      !/^(FunctionCall|EventDispatch|TimerFire|FireAnimationFrame|RunMicrotasks|UpdateLayoutTree|Layout|Paint|PrePaint|Layerize|Commit|HitTest|ParseHTML|EvaluateScript|v8\.run|RasterTask|UpdateLayer|CompositeLayers|ScheduleStyleRecalculation|IntersectionObserverController::computeIntersections)/.test(
        e.name,
      )
    )
      continue;
    byName.set(e.name, (byName.get(e.name) ?? 0) + e.dur / 1000);
  }
  return [...byName.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
    .map(([n, ms]) => `  ${n.padEnd(48)} ${ms.toFixed(0).padStart(7)} ms`)
    .join('\n');
}

async function measure(
  page: Page,
  baseURL: string,
  ruleId: number,
  nodeCount: number,
  profileTo?: string,
  traceTo?: string,
): Promise<DragStats> {
  const t0 = Date.now();
  await page.goto(`${baseURL}/rules/${ruleId}`);
  await page.waitForFunction(`document.querySelectorAll('.vue-flow__node').length === ${nodeCount}`, undefined, { timeout: 120_000 });
  const renderMs = Date.now() - t0;
  // the preview request answered (the 300-node rule exceeds D1's column limit, so it shows no
  // counts: the server says "too complex"), nothing left in flight to land mid-drag
  await page.waitForLoadState('networkidle');
  await page.getByTestId('fit').click();
  await page.waitForTimeout(800);
  const node = page.locator('[data-node-id=c0_0]');
  const box = (await node.boundingBox())!;
  await page.evaluate(INSTALL_PROBES);
  const cdp = profileTo || traceTo ? await page.context().newCDPSession(page) : null;
  const traceEvents: Parameters<typeof summariseTrace>[0] = [];
  if (cdp && traceTo) {
    cdp.on('Tracing.dataCollected', (d) => void traceEvents.push(...(d.value as unknown as typeof traceEvents)));
    await cdp.send('Tracing.start', {
      categories: 'devtools.timeline,disabled-by-default-devtools.timeline',
      transferMode: 'ReportEvents',
    });
  }
  if (cdp && profileTo) {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
    await cdp.send('Profiler.start');
  }
  const [x0, y0] = [box.x + Math.min(60, box.width / 2), box.y + Math.min(14, box.height / 2)];
  const started = Date.now();
  await page.mouse.move(x0, y0);
  await page.mouse.down();
  for (let i = 1; i <= MOVES; i++) await page.mouse.move(x0 + i * 4, y0 + i * 2);
  await page.mouse.up();
  // let the drop (a store commit, a new preview) settle into the measurement
  await page.waitForTimeout(300);
  const dragMs = Date.now() - started;
  if (cdp && profileTo) {
    const { profile } = (await cdp.send('Profiler.stop')) as { profile: unknown };
    writeFileSync(profileTo, JSON.stringify(profile));
  }
  if (cdp && traceTo) {
    const done = new Promise<void>((resolve) => cdp.once('Tracing.tracingComplete', () => resolve()));
    await cdp.send('Tracing.end');
    await done;
    writeFileSync(traceTo, JSON.stringify({ traceEvents }));
    console.log(
      `\nrenderer main thread during one ${nodeCount}-node drag (${MOVES} moves), by trace event:\n${summariseTrace(traceEvents)}`,
    );
  }
  await cdp?.detach();
  const moved = (await node.boundingBox())!;
  if (moved.x - box.x < 20) throw new Error(`the node did not move (${box.x} → ${moved.x}): the drag was not measured`);
  const probes = (await page.evaluate(READ_PROBES)) as Omit<DragStats, 'renderMs' | 'dragMs' | 'perMoveMs'>;
  return { renderMs, dragMs, perMoveMs: dragMs / MOVES, ...probes };
}

function summarise(all: DragStats[]): DragStats {
  const keys = Object.keys(all[0]!) as (keyof DragStats)[];
  return Object.fromEntries(keys.map((k) => [k, median(all.map((s) => s[k]))])) as unknown as DragStats;
}

async function main() {
  const persistTo = mkdtempSync(join(tmpdir(), 'segflow-bench-canvas-'));
  log(
    `bench/canvas: D1 in ${persistTo}; load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  wrangler(['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persistTo]);
  execFileSync('node_modules/.bin/tsx', ['scripts/seed.ts', '--persist-to', persistTo, '--contacts', '500'], {
    env: QUIET_ENV,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const port = await freePort();
  const dev = await startDev(persistTo, port);
  const baseURL = `http://127.0.0.1:${port}`;
  const profileDir = mkdtempSync(join(tmpdir(), 'segflow-bench-chromium-'));
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    locale: 'zh-CN',
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
  try {
    const [tag] = d1Query<{ id: number }>(persistTo, `select id from tags where status = 'active' order by id limit 1`);
    // signed in as the demo super admin: a session cookie for the page, a CSRF token for writes
    const login = await context.request.post(`${baseURL}/api/auth/login`, { data: { email: SUPER_ADMIN, password: DEMO_PASSWORD } });
    if (!login.ok()) throw new Error(`sign-in failed: ${login.status()} ${await login.text()}`);
    const { csrfToken } = (await (await context.request.get(`${baseURL}/api/auth/me`)).json()) as { csrfToken: string };
    const create = async (name: string, graph: Graph) => {
      const res = await context.request.post(`${baseURL}/api/rules`, { data: { name, graph }, headers: { [CSRF_HEADER]: csrfToken } });
      if (res.status() !== 201) throw new Error(`creating ${name}: ${res.status()} ${await res.text()}`);
      return ((await res.json()) as { id: number }).id;
    };
    const small = await create('bench 3 nodes', smallGraph(tag!.id));
    const big = await create('bench 300 nodes', bigGraph(tag!.id));
    const page = context.pages()[0] ?? (await context.newPage());
    // warm-up: caches, JIT, the worker's compiled rules
    await measure(page, baseURL, small, 3);
    const results = { small: [] as DragStats[], big: [] as DragStats[] };
    for (let r = 0; r < RUNS; r++) {
      results.small.push(await measure(page, baseURL, small, 3));
      results.big.push(await measure(page, baseURL, big, 300, r === 0 ? values.profile : undefined, r === 0 ? values.trace : undefined));
      log(`run ${r + 1}/${RUNS}: 300-node drag ${results.big.at(-1)!.dragMs} ms, 3-node drag ${results.small.at(-1)!.dragMs} ms`);
    }
    const s = summarise(results.small);
    const b = summarise(results.big);
    const row = (label: string, k: keyof DragStats, digits = 0) =>
      `${label.padEnd(26)} ${s[k].toFixed(digits).padStart(9)} ${b[k].toFixed(digits).padStart(9)} ${(s[k] ? (b[k] / s[k]).toFixed(2) + '×' : '–').padStart(8)}`;
    console.log(
      `\ncanvas drag, ${MOVES} moves, median of ${RUNS} runs (Chromium headless, no GPU; load average ${loadavg()[0]!.toFixed(2)})`,
    );
    console.log(`${''.padEnd(26)} ${'3 nodes'.padStart(9)} ${'300 nodes'.padStart(9)} ${'ratio'.padStart(8)}`);
    console.log(row('open until drawn (ms)', 'renderMs'));
    console.log(row('drag wall time (ms)', 'dragMs'));
    console.log(row('per mouse move (ms)', 'perMoveMs', 1));
    console.log(row('frames during drag', 'frames'));
    console.log(row('frame gap median (ms)', 'medianFrame', 1));
    console.log(row('frame gap p95 (ms)', 'p95Frame', 1));
    console.log(row('frame gap worst (ms)', 'worstFrame'));
    console.log(row('long tasks (>50 ms)', 'longTasks'));
    console.log(row('long tasks total (ms)', 'longTaskMs'));
    console.log(row('worst long task (ms)', 'worstLongTask'));
    if (values.profile) console.log(`\nCPU profile of the first 300-node drag: ${values.profile}`);
  } finally {
    await context.close();
    stopDev(dev);
    rmSync(profileDir, { recursive: true, force: true });
    rmSync(persistTo, { recursive: true, force: true });
  }
}

await main();
