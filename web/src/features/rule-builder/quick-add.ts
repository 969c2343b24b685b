import type { RuleNodeKind, ConditionSpec } from '@shared/rules/types';
import { fieldOperators, type FieldDef } from '@shared/rules/fields';
import { NODE_KINDS } from './rule-graph';
import { OUTBOUND_PRESETS, type OutboundPreset } from './palette';

/**
 * The condition a field starts with: its first operator (or `previous`'s, when the field allows
 * it), default window for event counts, 10% for a sample. Shared by the condition editor's field
 * picker and quick add.
 */
export function startCondition(f: FieldDef, previous?: ConditionSpec): ConditionSpec {
  const ops = fieldOperators(f) as readonly string[];
  const op = previous && ops.includes(previous.op) ? previous.op : (ops[0] ?? '');
  const next: ConditionSpec = { field: f.key, op };
  if (f.type === 'aggregate') next.params = previous?.params ?? { eventType: f.money ? 'purchase' : 'message', days: 30 };
  if (f.type === 'bucket') next.value = { percent: 10 };
  return next;
}

/** What a marketer types for a segment condition, in both languages. */
const SEGMENT_WORDS = ['在分群中', '不在分群中', '分群', 'in segment', 'not in segment', 'segment'];

/** One thing quick add can put on the canvas: a node of a kind, or a condition on a field. */
export interface QuickAddItem {
  id: string;
  group: 'nodes' | 'fields';
  kind: RuleNodeKind;
  preset?: OutboundPreset;
  field?: string;
  label: string;
  hint: string;
  /** what a query is matched against (lower case): the label in both languages and the key */
  keys: string[];
}

export function quickAddItems(
  fields: readonly FieldDef[],
  words: {
    kind: (k: RuleNodeKind) => string;
    kindHint: (k: RuleNodeKind) => string;
    preset: (p: OutboundPreset) => string;
    presetHint: (p: OutboundPreset) => string;
    field: (f: FieldDef) => string;
    condition: string;
  },
  opts: { segment: boolean; eventTriggered: boolean },
): QuickAddItem[] {
  const keysOf = (...texts: string[]) => texts.map((s) => s.toLowerCase());
  const nodes: QuickAddItem[] = NODE_KINDS.filter((k) => k !== 'trigger' && !(opts.segment && (k === 'action' || k === 'band'))).map(
    (k) => ({
      id: `kind:${k}`,
      group: 'nodes',
      kind: k,
      label: words.kind(k),
      hint: words.kindHint(k),
      keys: keysOf(words.kind(k), k),
    }),
  );
  const presets: QuickAddItem[] = opts.segment
    ? []
    : OUTBOUND_PRESETS.map((p) => ({
        id: `preset:${p}`,
        group: 'nodes',
        kind: 'action',
        preset: p,
        label: words.preset(p),
        hint: words.presetHint(p),
        keys: keysOf(words.preset(p), p),
      }));
  const conditions: QuickAddItem[] = fields
    .filter((f) => opts.eventTriggered || !f.eventScoped)
    .map((f) => ({
      id: `field:${f.key}`,
      group: 'fields',
      kind: 'condition',
      field: f.key,
      label: words.field(f),
      hint: words.condition,
      // "在分群中" / "不在分群中" / "in segment" find the segment condition however it is asked for
      keys: keysOf(words.field(f), f.key, f.label.zh, f.label.en, ...(f.type === 'segment' ? SEGMENT_WORDS : [])),
    }));
  return [...nodes, ...presets, ...conditions];
}

/** Items matching what was typed (every word of it), nodes first, as given. */
export function matchQuickAdd(items: readonly QuickAddItem[], query: string): QuickAddItem[] {
  const words = query.trim().toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return [...items];
  return items.filter((i) => words.every((w) => i.keys.some((k) => k.includes(w))));
}
