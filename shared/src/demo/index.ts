/** Deterministic demo data for local development, tests and benchmarks. */
export { collectDemo, generateDemo, type DemoDataset } from './generate';
export { DEMO_TABLES, demoSql, insertStatements, sqlLiteral, type DemoSqlOptions } from './sql';
export type * from './types';
