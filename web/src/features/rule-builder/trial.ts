import type { RuleExplanation } from '@shared/rules/explain';
import type { RuleGraph } from '@shared/rules/types';
import type { TrialVerdict, TrialView } from './useRuleEditorUi';

/** Words the verdicts need, in the viewer's language. */
export interface TrialWords {
  elseCase: string;
  caseN: (n: number) => string;
  score: (value: string) => string;
}

/**
 * Each node's verdict for one contact, from the explain endpoint's answer:
 * - not reached: the flow never gets there (a logic node some input reached has "not passed");
 * - a condition passes when its test holds (the contact leaves by `yes`), else "not passed" (`no`);
 * - a branch passes by the case it takes (else: not passed), a score or band node shows the contact's score and band;
 * - an action passes when it fires; the trigger (and a logic node the flow reaches) passes.
 */
export function trialView(graph: RuleGraph, contactId: number, x: RuleExplanation, words: TrialWords): TrialView {
  const verdicts: Record<string, TrialVerdict> = {};
  const inbound = (id: string) => graph.edges.some((e) => e.target === id && x.edges[e.id]);
  for (const n of graph.nodes) {
    const reached = x.reached[n.id] === true;
    if (!reached) {
      verdicts[n.id] = { state: n.kind === 'logic' && inbound(n.id) ? 'failed' : 'unreached' };
      continue;
    }
    switch (n.kind) {
      case 'condition':
        verdicts[n.id] = { state: x.tests[n.id] ? 'passed' : 'failed' };
        break;
      case 'branch': {
        const i = n.cases.findIndex((c) => x.tests[`${n.id}:${c.id}`]);
        const c = n.cases[i];
        verdicts[n.id] = c ? { state: 'passed', detail: c.label || words.caseN(i + 1) } : { state: 'failed', detail: words.elseCase };
        break;
      }
      case 'score':
      case 'band': {
        const value = x.scores[n.id] ?? 0;
        const band = n.bands.find((b) => value >= b.min && (b.max === null || value < b.max));
        const text = words.score(value.toFixed(1));
        verdicts[n.id] = { state: band ? 'passed' : 'failed', detail: band?.label ? `${text} · ${band.label}` : text };
        break;
      }
      case 'action':
        verdicts[n.id] = { state: x.fired.includes(n.id) ? 'passed' : 'failed' };
        break;
      default:
        verdicts[n.id] = { state: 'passed' };
    }
  }
  return { contactId, verdicts, edges: { ...x.edges } };
}
