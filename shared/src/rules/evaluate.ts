/**
 * The fast JS evaluators, by the names the rest of the code imports them by. Two compilers of the
 * same operations (`operators.ts`, each with its fast path next to its JS and SQL forms):
 *
 * - `evaluate-closure.ts`: `compileLogic` / `evaluatorFor`, JSON Logic compiled once into nested
 *   closures (previews' explanations, the conformance suite, any logic);
 * - `evaluate-plan.ts`: `compileRulePlan` / `ruleEvaluatorFor`, a whole rule's plan compiled into
 *   one decision tree that returns the fired action ids (the webhook hot path);
 * - `evaluate-common.ts`: what both share (truthiness, the compiled-expression type, the cache).
 */
export { compileLogic, evaluatorFor } from './evaluate-closure';
export { truthy, type Evaluator } from './evaluate-common';
export { compilePredicate, compileRulePlan, ruleEvaluatorFor, type PlanOptions, type RuleEvaluator } from './evaluate-plan';
