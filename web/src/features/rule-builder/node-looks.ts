import { markRaw, type Component } from 'vue';
import { Aim, Bell, Connection, Filter, Share, Histogram, Medal, Switch, PriceTag } from '@element-plus/icons-vue';
import type { OutboundActionSpec, RuleNodeKind } from '@shared/rules/types';

/** How each kind looks in the palette and on its header. */
export const NODE_LOOKS: Record<RuleNodeKind, { icon: Component; color: string }> = {
  trigger: { icon: markRaw(Aim), color: '#07a85a' },
  condition: { icon: markRaw(Filter), color: '#2f7cf6' },
  logic: { icon: markRaw(Share), color: '#7b61ff' },
  score: { icon: markRaw(Histogram), color: '#e8912d' },
  band: { icon: markRaw(Medal), color: '#c2571a' },
  branch: { icon: markRaw(Switch), color: '#0e9aa7' },
  action: { icon: markRaw(PriceTag), color: '#d9466f' },
};

/** Outbound actions are action nodes that look apart: they tell someone, they do not tag. */
export const OUTBOUND_LOOKS: Record<OutboundActionSpec['type'], { icon: Component; color: string }> = {
  call_webhook: { icon: markRaw(Connection), color: '#3b6fd4' },
  notify: { icon: markRaw(Bell), color: '#3b6fd4' },
};
