import { describe, expect, it } from 'vitest';
import { caseCompileOptions, caseData, CONFORMANCE_CASES, isGraphCase } from './conformance/cases';
import { compileRule } from './compile';
import { applyReference, referenceTruthy } from './jsonlogic';
import { compileLogic, compileRulePlan, truthy } from './evaluate';
import { LOGIC_OPERATIONS } from './operators';
import type { JsonLogic } from './types';

describe('conformance: json-logic-js, the closure evaluator and the plan evaluator agree with every case', () => {
  it('has at least 150 cases', () => {
    expect(CONFORMANCE_CASES.length).toBeGreaterThanOrEqual(150);
  });

  it('covers every Segflow operation with a case that matches and one that does not', () => {
    const uncovered: string[] = [];
    for (const op of Object.keys(LOGIC_OPERATIONS)) {
      const logicOf = (c: (typeof CONFORMANCE_CASES)[number]) => {
        if (!isGraphCase(c)) return c.rule;
        const r = compileRule(c.rule, caseCompileOptions(c));
        return r.ok ? r.value.logic : null;
      };
      const uses = CONFORMANCE_CASES.filter((c) => JSON.stringify(logicOf(c)).includes(`"${op}"`));
      const outcomes = new Set(uses.map((c) => (Array.isArray(c.expected) ? c.expected.length > 0 : c.expected)));
      if (!outcomes.has(true) || !outcomes.has(false)) uncovered.push(op);
    }
    expect(uncovered).toEqual([]);
  });

  for (const c of CONFORMANCE_CASES) {
    it(c.description, () => {
      const data = caseData(c);
      if (isGraphCase(c)) {
        const compiled = compileRule(c.rule, caseCompileOptions(c));
        if (!compiled.ok) throw new Error(JSON.stringify(compiled.errors));
        const logic = compiled.value.logic;
        expect([...(applyReference(logic, data) as string[])].sort()).toEqual([...c.expected].sort());
        expect([...(compileLogic(logic)(data) as string[])].sort()).toEqual([...c.expected].sort());
        expect([...compileRulePlan(compiled.value)(data)].sort()).toEqual([...c.expected].sort());
        // and the action loop the plan falls back to for rules whose decision tree would be too large
        expect([...compileRulePlan(compiled.value, { maxDecisions: 0 })(data)].sort()).toEqual([...c.expected].sort());
      } else {
        const logic = c.rule as JsonLogic;
        expect(referenceTruthy(applyReference(logic, data))).toBe(c.expected);
        expect(truthy(compileLogic(logic)(data))).toBe(c.expected);
      }
    });
  }
});
