/**
 * Rule learner benchmark (issue 19): `npx tsx bench/learn.ts [--contacts 100000] [--reps 3] [--seed 1] [--depth 5] [--min-leaf 100]`
 *
 * The demo's repurchase learning set (`shared/src/learn/demo-set.ts`: `--contacts` contacts that
 * existed at D − 30, as of then, labelled by purchases in the 30 days after), 40 features, then:
 *
 * - **time**: `learnTree` (depth `--depth`, leaf ≥ `--min-leaf`) on the default stratified sample
 *   (≤ 50k) and on every contact, against a baseline measured in the same run: one plain pass over
 *   the same feature matrix summing each column (what merely reading the data costs). CPU time
 *   (`process.cpuUsage`), median of `--reps`, interleaved.
 * - **peak memory**: the same two jobs in fresh child processes that read the matrix from a file
 *   (written once by the parent), each reporting its peak resident set (VmHWM of
 *   /proc/self/status) and its heap + array buffers after the job; the ratio is train ÷ sum. A child keeps the
 *   parent's data loading out of the figure.
 * - **quality** on the held-out 30% (by contact id): planted rule, learned rule, best single condition.
 * - **the suggested rule's preview at 1M contacts** (with `--preview-dir`, a wrangler state
 *   directory seeded as bench/preview.ts seeds one, e.g. `/tmp/bench-1m`; opened as it is, only
 *   read): the draft, adding the most-held tag of a non-exclusive group and (as bench/preview.ts
 *   picks) the lifecycle tag 活跃客户 of an exclusive group, each counted as `runPreview` counts it
 *   (`buildPreviewCountPlan`: two D1 batches in workerd, net change per tag included), against the
 *   full table scan `SELECT count(*) FROM contacts WHERE invite_count >= ?` measured in the same
 *   run, interleaved, median of `--preview-runs`. Issue 3's target is ≤ 2× that scan.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { plantedRepurchase } from '@shared/demo/planted';
import { demoLearningSet } from '@shared/learn/demo-set';
import { discoverFeatures, encodeFeatures, type FeatureMatrix, type FeatureSpec } from '@shared/learn/features';
import { bestSingleCondition, conditionPredicts, holdOut, ruleQuality, treePredicts, type RuleQuality } from '@shared/learn/metrics';
import { splitCondition, treeToDraft } from '@shared/learn/to-rule';
import { learnTree, type Tree } from '@shared/learn/tree';
import { compileRule } from '@shared/rules/compile';
import { netPlanOver } from '@shared/rules/net-effect';
import { buildPreviewCountPlan, fillCounts, type CountRound } from '@shared/rules/preview-counts';
import { d1DatabaseId, median as medianOf } from './local';

const { values } = parseArgs({
  options: {
    contacts: { type: 'string', default: '100000' },
    reps: { type: 'string', default: '3' },
    seed: { type: 'string', default: '1' },
    depth: { type: 'string', default: '5' },
    'min-leaf': { type: 'string', default: '100' },
    child: { type: 'string' },
    file: { type: 'string', default: '/tmp/segflow-bench-learn/matrix.bin' },
    sample: { type: 'string', default: '50000' },
    'preview-dir': { type: 'string' },
    'preview-runs': { type: 'string', default: '7' },
  },
});
const log = (s: string) => process.stderr.write(`${s}\n`);
const NOW = 1_773_540_000_000; // 2026-03-15 10:00 Asia/Shanghai (fixed: results are reproducible)
const DEPTH = Number(values.depth);
const MIN_LEAF = Number(values['min-leaf']);

/** One plain pass over the matrix: the sum of each column's present values. */
function sumPass(m: FeatureMatrix): number {
  let total = 0;
  for (const col of m.columns) {
    let s = 0;
    for (let i = 0; i < col.length; i++) {
      const v = col[i] as number;
      if (v === v) s += v;
    }
    total += s;
  }
  return total;
}

/** Context, not the baseline: sorting each number/date column once, the floor of an exact tree. */
function sortPass(m: FeatureMatrix): number {
  let total = 0;
  m.specs.forEach((s, f) => {
    if (s.kind !== 'numeric' && s.kind !== 'date') return;
    const col = m.columns[f] as Float64Array;
    const idx = Array.from({ length: col.length }, (_, i) => i).filter((i) => col[i] === col[i]);
    idx.sort((a, b) => (col[a] as number) - (col[b] as number) || a - b);
    total += idx[0] ?? 0;
  });
  return total;
}

function train(m: FeatureMatrix, labels: Uint8Array, rows: Int32Array | undefined, maxSample: number): Tree {
  return learnTree(m, labels, { maxDepth: DEPTH, minLeaf: MIN_LEAF, seed: 1, maxSample }, rows);
}

// ---- matrix file: specs JSON length, specs, labels, columns (the child reads it back) ----
function writeMatrix(file: string, m: FeatureMatrix, labels: Uint8Array) {
  const specs = Buffer.from(JSON.stringify(m.specs));
  const head = Buffer.alloc(8);
  head.writeUInt32LE(specs.length, 0);
  head.writeUInt32LE(m.rows, 4);
  const pad = Buffer.alloc((8 - ((8 + specs.length + labels.length) % 8)) % 8);
  const cols = m.columns.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength));
  writeFileSync(file, Buffer.concat([head, specs, Buffer.from(labels), pad, ...cols]));
}
/** Reads the file straight into the columns (no whole-file buffer), so reading adds little to the child's peak. */
function readMatrix(file: string): { m: FeatureMatrix; labels: Uint8Array } {
  const fd = openSync(file, 'r');
  const head = Buffer.alloc(8);
  readSync(fd, head, 0, 8, 0);
  const specLen = head.readUInt32LE(0);
  const rows = head.readUInt32LE(4);
  const specBuf = Buffer.alloc(specLen);
  readSync(fd, specBuf, 0, specLen, 8);
  const specs = JSON.parse(specBuf.toString()) as FeatureSpec[];
  const labels = new Uint8Array(rows);
  readSync(fd, labels, 0, rows, 8 + specLen);
  let at = 8 + specLen + rows;
  at += (8 - (at % 8)) % 8;
  const columns = specs.map(() => {
    const col = new Float64Array(rows);
    readSync(fd, new Uint8Array(col.buffer), 0, rows * 8, at);
    at += rows * 8;
    return col;
  });
  closeSync(fd);
  return { m: { specs, rows, columns }, labels };
}

/**
 * This process's peak resident set: VmHWM of /proc/self/status, which belongs to the process's own
 * memory map (getrusage's maxRSS can carry the spawning parent's high-water mark over on Linux).
 */
function peakRssMb(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024;
}

if (values.child) {
  // A fresh process: read the matrix, do one job, report memory.
  const { m, labels } = readMatrix(values.file);
  (globalThis as { gc?: () => void }).gc?.();
  const before = process.memoryUsage();
  const t0 = process.cpuUsage();
  if (values.child === 'train') train(m, labels, undefined, Number(values.sample));
  else sumPass(m);
  const cpu = process.cpuUsage(t0);
  const after = process.memoryUsage();
  process.stdout.write(
    JSON.stringify({
      maxRssMb: peakRssMb(),
      heapAndBuffersMb: (after.heapUsed + after.arrayBuffers) / 2 ** 20,
      riseMb: (after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers) / 2 ** 20,
      cpuMs: (cpu.user + cpu.system) / 1000,
    }),
  );
  process.exit(0);
}

const N = Number(values.contacts);
const REPS = Number(values.reps);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const cpuMs = (f: () => unknown) => {
  const t0 = process.cpuUsage();
  f();
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / 1000;
};

log(
  `load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}`,
);
let t = Date.now();
const set = demoLearningSet({ contacts: N, rows: N, seed: Number(values.seed), now: NOW });
log(`demo: ${set.ids.length} contacts that existed at D − 30, in ${((Date.now() - t) / 1000).toFixed(1)} s`);

// 40 features: every column of the catalog, the aggregates of 7 event types over 30 and 60 days,
// the custom fields, and the first 4 tags (by id) held by ≥ 20 contacts.
const all = discoverFeatures(set.snapshots, {
  customFields: set.customFields,
  windows: [30, 60],
  eventTypes: ['message', 'purchase', 'article_open', 'qr_scan', 'invite', 'group_join', 'violation'],
});
const specs = [...all.filter((s) => s.kind !== 'binary'), ...all.filter((s) => s.kind === 'binary').slice(0, 4)].slice(0, 40);
t = Date.now();
const m = encodeFeatures(specs, set.snapshots, set.customFields);
const encodeMs = Date.now() - t;
log(`features: ${specs.length} (${specs.map((s) => s.id).join(', ')}), encoded in ${encodeMs} ms`);
const split = holdOut(set.ids, 0.3, 1);

const times = { sum: [] as number[], sort: [] as number[], sampled: [] as number[], full: [] as number[] };
let checksum = 0;
let sampledTree: Tree | null = null;
for (let rep = 0; rep < REPS; rep++) {
  times.sum.push(cpuMs(() => (checksum += sumPass(m))));
  times.sort.push(cpuMs(() => (checksum += sortPass(m))));
  times.sampled.push(cpuMs(() => (sampledTree = train(m, set.labels, split.train, 50_000))));
  times.full.push(cpuMs(() => train(m, set.labels, undefined, 200_000)));
  log(
    `  pass ${rep + 1}/${REPS}: sum ${times.sum.at(-1)?.toFixed(0)} ms, train (50k) ${times.sampled.at(-1)?.toFixed(0)} ms, train (all) ${times.full.at(-1)?.toFixed(0)} ms, load ${loadavg()[0]?.toFixed(1)}`,
  );
}

// memory, in fresh processes
mkdirSync(fileURLToPath(new URL('.', `file://${values.file}`)), { recursive: true });
writeMatrix(values.file, m, set.labels);
const child = (job: string, sample = '50000') => {
  const r = spawnSync(
    process.execPath,
    [
      '--expose-gc',
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      '--child',
      job,
      '--file',
      values.file,
      '--sample',
      sample,
      '--depth',
      String(DEPTH),
      '--min-leaf',
      String(MIN_LEAF),
    ],
    {
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`child ${job} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { maxRssMb: number; heapAndBuffersMb: number; riseMb: number; cpuMs: number };
};
const memSum = child('sum');
const memTrain = child('train', '50000');
const memTrainAll = child('train', '200000');

// quality on the held-out 30%
const tree = sampledTree as unknown as Tree;
const spend = specs.findIndex((s) => s.id === 'event.amount:purchase:60');
const planted = ruleQuality(
  (r) =>
    plantedRepurchase({
      region: (set.snapshots[r]?.contact.region as string | null) ?? null,
      sourceChannel: (set.snapshots[r]?.contact.sourceChannel as string | null) ?? null,
      spend60: m.columns[spend]?.[r] as number,
    }),
  set.labels,
  split.test,
);
const learned = ruleQuality(treePredicts(tree, m, 0.5), set.labels, split.test);
const base = bestSingleCondition(m, set.labels, split.train);
const baseline = base ? ruleQuality(conditionPredicts(base, m), set.labels, split.test) : null;
const draft = treeToDraft(tree, { tagId: 1, threshold: 0.5 });

const pct = (x: number) => (100 * x).toFixed(1);
const q = (name: string, x: RuleQuality | null) =>
  x
    ? `| ${name} | ${pct(x.precision)} | ${pct(x.recall)} | ${pct(x.f1)} | ${x.lift.toFixed(2)} | ${x.picked.toLocaleString('en')} |`
    : `| ${name} | – | – | – | – | – |`;
const sum = median(times.sum);
console.log(
  `\nlearning set: ${set.ids.length.toLocaleString('en')} contacts × ${specs.length} features (checksum ${checksum.toExponential(3)}), load ${loadavg()[0]?.toFixed(1)}`,
);
console.log(`\n| job | CPU ms (median of ${REPS}) | × plain pass |\n|---|---:|---:|`);
console.log(`| plain pass over the matrix (sums) | ${sum.toFixed(0)} | 1.0× |`);
console.log(
  `| (context: sorting every number/date column once) | ${median(times.sort).toFixed(0)} | ${(median(times.sort) / sum).toFixed(1)}× |`,
);
console.log(`| train, stratified sample ≤ 50k | ${median(times.sampled).toFixed(0)} | ${(median(times.sampled) / sum).toFixed(1)}× |`);
console.log(
  `| train, all ${set.ids.length.toLocaleString('en')} contacts | ${median(times.full).toFixed(0)} | ${(median(times.full) / sum).toFixed(1)}× |`,
);
console.log(`| (encoding the features, once) | ${encodeMs} wall | |`);
console.log(`\n| fresh process | peak RSS MB | × plain pass | heap + buffers after MB | rise MB |\n|---|---:|---:|---:|---:|`);
for (const [name, r] of [
  ['read matrix + plain pass', memSum],
  ['read matrix + train (≤ 50k)', memTrain],
  ['read matrix + train (all)', memTrainAll],
] as const)
  console.log(
    `| ${name} | ${r.maxRssMb.toFixed(0)} | ${(r.maxRssMb / memSum.maxRssMb).toFixed(2)}× | ${r.heapAndBuffersMb.toFixed(0)} | ${r.riseMb.toFixed(0)} |`,
  );
console.log(`\nheld-out 30% (${split.test.length.toLocaleString('en')} contacts, base rate ${pct(learned.baseRate)}%):\n`);
console.log(`| rule | precision % | recall % | F1 % | lift | picked |\n|---|---:|---:|---:|---:|---:|`);
console.log(q('planted (the truth)', planted));
console.log(q(`learned (depth ${DEPTH}, leaf ≥ ${MIN_LEAF}, ${tree.nodes.filter((n) => !n.split).length} leaves)`, learned));
console.log(q('best single condition (F1)', baseline));
if (base) console.log(`\nbaseline condition: ${JSON.stringify(splitCondition(specs[base.split.feature] as FeatureSpec, base.split))}`);
if (draft.ok)
  console.log(
    `draft: ${draft.value.graph.nodes.filter((n) => n.kind === 'condition').length} conditions, ${draft.value.graph.nodes.filter((n) => n.kind === 'action').length} add-tag actions: ${draft.value.graph.nodes
      .filter((n) => n.kind === 'condition')
      .map((n) => (n.kind === 'condition' ? JSON.stringify(n.condition) : ''))
      .join('; ')}`,
  );

// ---- the suggested rule's preview on a 1M-contact D1 (issue 3's target: ≤ 2× a table scan) ----
const BATCH_WORKER = `export default {
  async fetch(request, env) {
    const { sql, params, batch } = await request.json();
    try {
      const t0 = Date.now();
      if (batch) {
        const all = await env.DB.batch(batch.map((s) => env.DB.prepare(s.sql).bind(...s.params)));
        return Response.json({ ms: Date.now() - t0, results: all.map((r) => (r.results ?? [])[0] ?? {}) });
      }
      const res = await env.DB.prepare(sql).bind(...params).all();
      return Response.json({ ms: Date.now() - t0, results: (res.results ?? []).slice(0, 50) });
    } catch (e) {
      return Response.json({ error: String(e && e.message || e) }, { status: 500 });
    }
  },
};`;

async function previewAtScale(dir: string, graphOf: (tagId: number) => unknown) {
  const { Miniflare } = await import('miniflare');
  const mf = new Miniflare({
    modules: true,
    script: BATCH_WORKER,
    d1Persist: path.join(path.resolve(dir), 'v3', 'd1'),
    d1Databases: { DB: d1DatabaseId() },
  });
  try {
    const call = async (body: unknown): Promise<{ ms: number; results: Record<string, unknown>[] }> => {
      const res = await mf.dispatchFetch('http://bench/', { method: 'POST', body: JSON.stringify(body) });
      const out = (await res.json()) as { ms: number; results: Record<string, unknown>[]; error?: string };
      if (!res.ok || out.error) throw new Error(out.error);
      return out;
    };
    const n = (await call({ sql: 'SELECT count(*) AS n FROM contacts', params: [] })).results[0]?.n as number;
    const tags = (
      await call({ sql: 'SELECT t.id, t.name, t.group_id, g.exclusive FROM tags t JOIN tag_groups g ON g.id = t.group_id', params: [] })
    ).results as { id: number; name: string; group_id: number; exclusive: number }[];
    const fields = (await call({ sql: 'SELECT key, label_zh, label_en, type FROM custom_fields ORDER BY id', params: [] })).results as {
      key: string;
      label_zh: string;
      label_en: string;
      type: 'text' | 'number' | 'date' | 'boolean' | 'list';
    }[];
    // windows relative to the newest event, as bench/preview.ts does
    const now = ((await call({ sql: 'SELECT max(occurred_at) AS m FROM events', params: [] })).results[0]?.m as number) ?? Date.now();
    // The draft's tag, two ways: the most-held tag of a non-exclusive group (what an outcome tag
    // usually is), and 活跃客户, of the exclusive lifecycle group many contacts hold, as
    // bench/preview.ts picks: its siblings' displacement counts are real gain / lose work.
    const held = (await call({ sql: 'SELECT tag_id, count(*) AS n FROM contact_tags GROUP BY tag_id ORDER BY n DESC', params: [] }))
      .results as {
      tag_id: number;
      n: number;
    }[];
    const exclusive = new Set(tags.filter((t) => t.exclusive === 1).map((t) => t.id));
    const plain = tags.find((t) => t.id === held.find((h) => !exclusive.has(h.tag_id))?.tag_id) ?? tags[0]!;
    const lifecycle = tags.find((t) => t.name === '活跃客户') ?? tags[0]!;
    const customFields = fields.map((f) => ({ key: f.key, labelZh: f.label_zh, labelEn: f.label_en, type: f.type }));
    const planFor = (tagId: number, tuning: { nodesOnly?: boolean } = {}) => {
      const compiled = compileRule(graphOf(tagId), { customFields });
      if (!compiled.ok) throw new Error(JSON.stringify(compiled.errors));
      const net = netPlanOver(
        compiled.value.actions,
        tags.map((t) => ({ id: t.id, groupId: t.group_id, exclusive: t.exclusive === 1 })),
      );
      const plan = buildPreviewCountPlan(compiled.value, { now, tzOffsetMinutes: 480 }, { net, ...tuning });
      if (!plan?.ok) throw new Error(`no count plan: ${JSON.stringify(plan)}`);
      return plan.value;
    };
    const variants = [
      // what issue 3's target names: total, matched, every node and every edge (no gain / lose per tag)
      { name: "total + nodes + edges (issue 3's target)", plan: planFor(plain.id, { nodesOnly: true }) },
      {
        name: `every column: adds ${plain.name} (non-exclusive, held by ${(held.find((h) => h.tag_id === plain.id)?.n ?? 0).toLocaleString('en')}), net change per tag`,
        plan: planFor(plain.id),
      },
      { name: `every column: adds ${lifecycle.name} (exclusive group of 4), net change per tag`, plan: planFor(lifecycle.id) },
    ];
    const rounds: string[] = [];
    const preview = async (plan: ReturnType<typeof planFor>) => {
      const counts = new Array<number>(plan.size).fill(0);
      let ms = 0;
      const mine: number[] = [];
      const run = async (round: CountRound) => {
        if (!round.statements.length) return;
        const r = await call({ batch: round.statements });
        mine.push(r.ms);
        ms += r.ms;
        fillCounts(
          round,
          r.results.map((x) => x.counts as string | number | null),
          counts,
        );
      };
      await run(plan.first);
      if (plan.second) await run(plan.second(counts));
      rounds.push(mine.join('+'));
      return ms;
    };
    const scan = async () => (await call({ sql: 'SELECT count(*) AS n FROM contacts WHERE invite_count >= ?', params: [5] })).ms;
    await scan();
    for (const v of variants) await preview(v.plan); // warm the page cache
    const runs = Number(values['preview-runs']);
    const msScan: number[] = [];
    const msPreview = variants.map(() => [] as number[]);
    rounds.length = 0;
    for (let i = 0; i < runs; i++) {
      msScan.push(await scan());
      for (const [k, v] of variants.entries()) msPreview[k]!.push(await preview(v.plan));
    }
    const a = medianOf(msScan);
    console.log(
      `\nthe suggested rule's preview on ${n.toLocaleString('en')} contacts (${path.resolve(dir)}; median of ${runs}, interleaved, load ${loadavg()[0]?.toFixed(1)}):\n`,
    );
    console.log(`| statement | ms | × table scan |\n|---|---:|---:|`);
    console.log(`| table scan: count(*) WHERE invite_count >= 5 (the baseline) | ${a.toFixed(0)} | 1.00× |`);
    for (const [k, v] of variants.entries()) {
      const b = medianOf(msPreview[k]!);
      console.log(`| the draft's preview, ${v.name} | ${b.toFixed(0)} | ${(b / a).toFixed(2)}× |`);
    }
    console.log(
      `\nissue 3's target: total + per-node counts ≤ 2× the table scan (every column — gain / lose per tag — is beyond it, as in bench/preview.ts)`,
    );
    console.log(`batches (ms) of each preview, in run order: ${rounds.join(' | ')}`);
    if (process.env.LEARN_BENCH_DUMP) {
      // every statement of both previews (the second batch as the first batch's counts write it), for timing one at a time
      const dump: { variant: string; batch: number; sql: string; params: unknown[] }[] = [];
      for (const v of variants) {
        const counts = new Array<number>(v.plan.size).fill(0);
        const r = await call({ batch: v.plan.first.statements });
        fillCounts(
          v.plan.first,
          r.results.map((x) => x.counts as string | number | null),
          counts,
        );
        for (const st of v.plan.first.statements) dump.push({ variant: v.name, batch: 1, ...st });
        for (const st of v.plan.second?.(counts).statements ?? []) dump.push({ variant: v.name, batch: 2, ...st });
      }
      writeFileSync(process.env.LEARN_BENCH_DUMP, JSON.stringify(dump, null, 1));
      console.log(`statements → ${process.env.LEARN_BENCH_DUMP}`);
    }
    if (process.env.LEARN_BENCH_PLANS) {
      const first = variants[0]!.plan.first.statements;
      for (const st of first) {
        const t0 = (await call({ batch: [st] })).ms;
        const qp = await call({ sql: `EXPLAIN QUERY PLAN ${st.sql}`, params: st.params });
        console.log(`\n${t0} ms: ${st.sql.slice(0, 600)}\n${qp.results.map((r) => `    ${String(r.detail)}`).join('\n')}`);
      }
    }
  } finally {
    await mf.dispose();
  }
}

if (values['preview-dir'] && draft.ok) {
  const g = draft.value.graph;
  await previewAtScale(values['preview-dir'], (tagId) => ({
    ...g,
    nodes: g.nodes.map((n) => (n.kind === 'action' && n.action.type === 'add_tag' ? { ...n, action: { ...n.action, tagId } } : n)),
  }));
}
