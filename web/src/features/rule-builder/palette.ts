import type { RuleNodeKind } from '@shared/rules/types';
import { NODE_KINDS } from './rule-graph';

/** The drag payload type a palette item carries onto the canvas. */
export const PALETTE_MIME = 'application/x-segflow-node';

/** Action presets the palette offers besides the plain action (a tag action): outbound actions. */
export const OUTBOUND_PRESETS = ['call_webhook', 'notify'] as const;
export type OutboundPreset = (typeof OUTBOUND_PRESETS)[number];

/** The drag payload: a node kind, or `action:<preset>` for an outbound action. */
export function paletteItem(payload: string): { kind: RuleNodeKind; preset?: OutboundPreset } | null {
  const [kind, preset] = payload.split(':') as [string, string | undefined];
  if (!(NODE_KINDS as readonly string[]).includes(kind)) return null;
  if (preset === undefined) return { kind: kind as RuleNodeKind };
  return kind === 'action' && (OUTBOUND_PRESETS as readonly string[]).includes(preset)
    ? { kind: 'action', preset: preset as OutboundPreset }
    : null;
}
