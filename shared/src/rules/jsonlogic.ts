/**
 * The reference evaluator: the real json-logic-js with Segflow's operations registered. Slow
 * but authoritative; the fast evaluator and SQL are tested against it.
 */
import jsonLogic from 'json-logic-js';
import { LOGIC_OPERATIONS } from './operators';
import type { EvalData, JsonLogic } from './types';

let registered = false;

/** Registers every `sf_*` operation into json-logic-js (idempotent). json-logic-js calls custom operations with the data as `this`. */
export function registerSegflowOperations(): void {
  if (registered) return;
  for (const [name, op] of Object.entries(LOGIC_OPERATIONS)) {
    jsonLogic.add_operation(name, function (this: EvalData, ...args: unknown[]) {
      return op.js(this, ...args);
    });
  }
  registered = true;
}

/** Evaluates JSON Logic for one contact with json-logic-js. */
export function applyReference(logic: JsonLogic, data: EvalData): unknown {
  registerSegflowOperations();
  return jsonLogic.apply(logic as never, data);
}

/** json-logic-js's truthiness (an empty array is false), for callers comparing results. */
export function referenceTruthy(value: unknown): boolean {
  return jsonLogic.truthy(value);
}
