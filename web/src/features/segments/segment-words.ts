/**
 * A segment's definition in words: who reaches its End node, read back from the graph as a
 * tree of "all of" / "any of" / "not" over the conditions' own sentences (the rule builder's
 * conditionText, so the page and the canvas say the same thing). Multiple edges into one node
 * are OR-ed, as the compiler does.
 */
import type { ConditionSpec, RuleGraph, RuleNode } from '@shared/rules/types';
import type { CustomFieldDecl } from '@shared/rules/fields';
import { i18n } from '../../app/i18n';
import { conditionText } from '../rule-builder/condition-text';

/** One line of the definition, with the lines it groups. */
export interface WordsNode {
  kind: 'all' | 'any' | 'not' | 'leaf' | 'everyone';
  text: string;
  children: WordsNode[];
}

type Expr = { k: 'everyone' } | { k: 'leaf'; text: string } | { k: 'and' | 'or'; items: Expr[] } | { k: 'not'; item: Expr };

const EVERYONE: Expr = { k: 'everyone' };

function and(items: Expr[]): Expr {
  const flat = items.flatMap((e) => (e.k === 'and' ? e.items : e.k === 'everyone' ? [] : [e]));
  return flat.length === 0 ? EVERYONE : flat.length === 1 ? flat[0]! : { k: 'and', items: flat };
}
function or(items: Expr[]): Expr {
  if (items.some((e) => e.k === 'everyone')) return EVERYONE;
  const flat = items.flatMap((e) => (e.k === 'or' ? e.items : [e]));
  return flat.length === 1 ? flat[0]! : { k: 'or', items: flat };
}

/** The words tree of who reaches the End node (the logic node with nothing after it). */
export function segmentWords(
  graph: RuleGraph,
  customFields: readonly CustomFieldDecl[],
  tag: (id: number) => { name: string } | undefined,
): WordsNode | null {
  const t = i18n.global.t;
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const hasOutput = new Set(graph.edges.map((e) => e.source));
  const end = graph.nodes.find((n) => n.kind === 'logic' && n.op !== 'not' && !hasOutput.has(n.id));
  if (!end) return null;
  const cond = (c: ConditionSpec): Expr => ({ k: 'leaf', text: conditionText(c, customFields, tag) });

  /** What a node lets through on one of its handles, given who reaches it. */
  function gate(n: RuleNode, handle: string | undefined): Expr {
    if (n.kind === 'condition') return handle === 'no' ? { k: 'not', item: cond(n.condition) } : cond(n.condition);
    if (n.kind === 'branch') {
      const i = n.cases.findIndex((c) => c.id === handle);
      const earlier = (i === -1 ? n.cases : n.cases.slice(0, i)).map((c) => ({ k: 'not', item: cond(c.condition) }) as Expr);
      return and(i === -1 ? earlier : [...earlier, cond(n.cases[i]!.condition)]);
    }
    if (n.kind === 'score') {
      const band = n.bands.find((b) => b.id === handle);
      if (!band) return EVERYONE;
      const range = band.max === null ? `≥ ${band.min}` : `${band.min} – ${band.max}`;
      return { k: 'leaf', text: t('segmentPage.words.score', { label: band.label ?? n.label ?? '', range }) };
    }
    return EVERYONE;
  }

  const memo = new Map<string, Expr>();
  function reach(id: string, seen: Set<string>): Expr {
    const hit = memo.get(id);
    if (hit) return hit;
    const n = byId.get(id);
    if (!n || seen.has(id)) return { k: 'leaf', text: '…' };
    if (n.kind === 'trigger') return EVERYONE;
    const inner = new Set(seen).add(id);
    const paths = graph.edges
      .filter((e) => e.target === id)
      .map((e) => {
        const src = byId.get(e.source);
        return src ? and([reach(src.id, inner), gate(src, e.sourceHandle)]) : EVERYONE;
      });
    let out: Expr;
    if (paths.length === 0) out = { k: 'leaf', text: t('segmentPage.words.nobody') };
    else if (n.kind === 'logic' && n.op === 'and') out = and(paths);
    else if (n.kind === 'logic' && n.op === 'not') out = { k: 'not', item: or(paths) };
    else out = or(paths);
    memo.set(id, out);
    return out;
  }

  function words(e: Expr): WordsNode {
    switch (e.k) {
      case 'everyone':
        return { kind: 'everyone', text: t('segmentPage.words.everyone'), children: [] };
      case 'leaf':
        return { kind: 'leaf', text: e.text, children: [] };
      case 'not':
        return e.item.k === 'leaf'
          ? { kind: 'leaf', text: t('segmentPage.words.notLeaf', { text: e.item.text }), children: [] }
          : { kind: 'not', text: t('segmentPage.words.none'), children: [words(e.item)] };
      case 'and':
        return { kind: 'all', text: t('segmentPage.words.all'), children: e.items.map(words) };
      case 'or':
        return { kind: 'any', text: t('segmentPage.words.any'), children: e.items.map(words) };
    }
  }
  return words(reach(end.id, new Set()));
}
