import { describe, expect, it } from 'vitest';
import { caseData, CONFORMANCE_CASES, isGraphCase } from './conformance/cases';
import { compileRule } from './compile';
import { applyReference, referenceTruthy } from './jsonlogic';
import { compileLogic, compileRulePlan, truthy } from './evaluate';
import type { JsonLogic } from './types';

describe('conformance: json-logic-js, the closure evaluator and the plan evaluator agree with every case', () => {
  it('has at least 150 cases', () => {
    expect(CONFORMANCE_CASES.length).toBeGreaterThanOrEqual(150);
  });

  for (const c of CONFORMANCE_CASES) {
    it(c.description, () => {
      const data = caseData(c);
      if (isGraphCase(c)) {
        const compiled = compileRule(c.rule);
        if (!compiled.ok) throw new Error(JSON.stringify(compiled.errors));
        const logic = compiled.value.logic;
        expect([...(applyReference(logic, data) as string[])].sort()).toEqual([...c.expected].sort());
        expect([...(compileLogic(logic)(data) as string[])].sort()).toEqual([...c.expected].sort());
        expect(compileRulePlan(compiled.value)(data).sort()).toEqual([...c.expected].sort());
      } else {
        const logic = c.rule as JsonLogic;
        expect(referenceTruthy(applyReference(logic, data))).toBe(c.expected);
        expect(truthy(compileLogic(logic)(data))).toBe(c.expected);
      }
    });
  }
});
