import { markRaw, type Component } from 'vue';
import type { RuleNodeKind } from '@shared/rules/types';
import RuleNodeTrigger from './nodes/RuleNodeTrigger.vue';
import RuleNodeCondition from './nodes/RuleNodeCondition.vue';
import RuleNodeLogic from './nodes/RuleNodeLogic.vue';
import RuleNodeScore from './nodes/RuleNodeScore.vue';
import RuleNodeBand from './nodes/RuleNodeBand.vue';
import RuleNodeBranch from './nodes/RuleNodeBranch.vue';
import RuleNodeAction from './nodes/RuleNodeAction.vue';

/** One component per node kind: a kind added to `RuleNodeKind` without one fails to compile. */
export const NODE_COMPONENTS: Record<RuleNodeKind, Component> = markRaw({
  trigger: RuleNodeTrigger,
  condition: RuleNodeCondition,
  logic: RuleNodeLogic,
  score: RuleNodeScore,
  band: RuleNodeBand,
  branch: RuleNodeBranch,
  action: RuleNodeAction,
});
