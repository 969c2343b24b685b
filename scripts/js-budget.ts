/**
 * The first screen's JavaScript, gzipped (issue 18's budget: ≤ 250 KB): what a browser must load
 * to show the sign-in page and then the home after signing in, read from the build's chunk graph
 * (web/dist/.vite/manifest.json): the entry, the sign-in and home route chunks and everything
 * they import statically. What those screens import dynamically (the home's ECharts charts) is
 * listed apart: it arrives after the first screen is drawn. So is every language but zh-CN (the
 * default, in the bundle): web/src/app/i18n.ts fetches it before the app mounts for a reader of
 * that language, whose first screen is the two added. Each file is gzipped at zlib's default
 * level, as a CDN would serve it.
 *
 *   npm run build && npm run budget      prints the table; exits 1 over the budget
 *
 * e2e/first-screen-budget.test.ts checks in Chromium that these are the files the screens load.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

export const BUDGET_KB = 250;
/** The manifest keys of the first screen's route chunks (web/src/app/router.ts). */
const FIRST_SCREEN = ['index.html', 'src/features/auth/LoginPage.vue', 'src/features/home/HomePage.vue'];

interface Chunk {
  file: string;
  imports?: string[];
  dynamicImports?: string[];
}

export interface BudgetFile {
  file: string;
  raw: number;
  gzip: number;
}

export interface Budget {
  /** Loaded before the first screen is drawn. */
  first: BudgetFile[];
  /** Loaded by the first screens afterwards (dynamic imports: the charts). */
  after: BudgetFile[];
  /** Each language loaded on demand (`src/locales/<lang>/index.ts`): what it adds to the first screen. */
  locales: { locale: string; files: BudgetFile[]; kb: number }[];
  firstKB: number;
  afterKB: number;
}

const LAZY_LOCALE = /^src\/locales\/([^/]+)\/index\.ts$/;

export function measureBudget(dist = 'web/dist'): Budget {
  const manifest = JSON.parse(readFileSync(join(dist, '.vite/manifest.json'), 'utf8')) as Record<string, Chunk>;
  const closure = (keys: string[], into = new Set<string>()) => {
    const visit = (key: string) => {
      if (into.has(key)) return;
      const chunk = manifest[key];
      if (!chunk) throw new Error(`${key} is not in the build manifest: rebuild (npm run build)`);
      into.add(key);
      chunk.imports?.forEach(visit);
    };
    keys.forEach(visit);
    return into;
  };
  const first = closure(FIRST_SCREEN);
  // the entry's dynamic imports are the other routes; only the first screens' own lazy parts count
  const routes = new Set(manifest['index.html']!.dynamicImports ?? []);
  const lazy = [...first].flatMap((k) => manifest[k]!.dynamicImports ?? []).filter((k) => !routes.has(k));
  const localeKeys = lazy.filter((k) => LAZY_LOCALE.test(k));
  const after = [...closure(lazy.filter((k) => !LAZY_LOCALE.test(k)))].filter((k) => !first.has(k));
  const size = (key: string): BudgetFile => {
    const file = manifest[key]!.file;
    const body = readFileSync(join(dist, file));
    return { file, raw: body.length, gzip: gzipSync(body).length };
  };
  const files = (keys: Iterable<string>) => [...keys].map(size).sort((a, b) => b.gzip - a.gzip);
  const firstFiles = files(first);
  const afterFiles = files(after);
  const kb = (list: BudgetFile[]) => list.reduce((n, f) => n + f.gzip, 0) / 1024;
  const locales = localeKeys.map((key) => {
    const own = files([...closure([key])].filter((k) => !first.has(k)));
    return { locale: LAZY_LOCALE.exec(key)![1]!, files: own, kb: kb(own) };
  });
  return { first: firstFiles, after: afterFiles, locales, firstKB: kb(firstFiles), afterKB: kb(afterFiles) };
}

export function formatBudget(b: Budget): string {
  const row = (f: BudgetFile) =>
    `  ${(f.gzip / 1024).toFixed(1).padStart(6)} KB gzip ${(f.raw / 1024).toFixed(1).padStart(7)} KB raw  ${f.file}`;
  return [
    `first screen (sign-in, then home): ${b.first.length} files, ${b.firstKB.toFixed(1)} KB gzip, budget ${BUDGET_KB} KB`,
    ...b.first.map(row),
    `after the first screen is drawn (its charts): ${b.after.length} files, ${b.afterKB.toFixed(1)} KB gzip`,
    ...b.after.map(row),
    ...b.locales.flatMap((l) => [
      `another language, fetched before the first screen only by its readers: ${l.locale} adds ${l.kb.toFixed(1)} KB gzip (first screen in ${l.locale}: ${(b.firstKB + l.kb).toFixed(1)} KB)`,
      ...l.files.map(row),
    ]),
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const budget = measureBudget();
  console.log(formatBudget(budget));
  if (budget.firstKB > BUDGET_KB) {
    console.error(`over budget by ${(budget.firstKB - BUDGET_KB).toFixed(1)} KB`);
    process.exit(1);
  }
}
