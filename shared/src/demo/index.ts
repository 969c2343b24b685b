/** Deterministic demo data for local development, tests and benchmarks. */
export { collectDemo, generateDemo, SHOWCASE_NAMES, type DemoDataset } from './generate';
export { PLANTED_REPURCHASE, plantedRepurchase, type PlantedFeatures } from './planted';
export { DEMO_TABLES, MAX_STATEMENT_BYTES, demoSql, insertStatements, sqlLiteral, utf8Length, type DemoSqlOptions } from './sql';
export type * from './types';
export { DEMO_PASSWORD } from './catalog';
export {
  demoCompileOptions,
  demoSegmentInsert,
  demoSegments,
  segmentHistory,
  type DemoSegment,
  type HistoryDay,
  type HistoryOptions,
} from './segments';
export { demoRules, scheduledRuns, type DemoRule } from './rules';
