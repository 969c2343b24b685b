/**
 * What a compiled rule needs loaded to evaluate one contact in JS: how many days of the daily
 * rollup and of raw events (for aggregates with a property filter). The webhook path loads just
 * that instead of a contact's whole history.
 */
import type { CompiledRule } from './compile';
import type { JsonLogic } from './types';

/** Days of history to load; 0 = none. */
export interface DataNeeds {
  statsDays: number;
  eventsDays: number;
}

function walk(logic: JsonLogic, needs: DataNeeds): void {
  if (Array.isArray(logic)) {
    logic.forEach((l) => walk(l, needs));
    return;
  }
  if (typeof logic !== 'object' || logic === null) return;
  for (const [op, raw] of Object.entries(logic)) {
    const args = Array.isArray(raw) ? raw : [raw];
    if (op === 'sf_agg') {
      const days = typeof args[2] === 'number' ? args[2] : 0;
      const filtered = args[3] !== null && args[3] !== undefined;
      if (filtered) needs.eventsDays = Math.max(needs.eventsDays, days);
      else needs.statsDays = Math.max(needs.statsDays, days);
    }
    args.forEach((a) => walk(a, needs));
  }
}

/** The history windows the rules' aggregates read (the max over all of them). */
export function dataNeeds(rules: readonly { tests: readonly Pick<CompiledRule['tests'][number], 'logic'>[] }[]): DataNeeds {
  const needs: DataNeeds = { statsDays: 0, eventsDays: 0 };
  for (const r of rules) for (const t of r.tests) walk(t.logic, needs);
  return needs;
}
