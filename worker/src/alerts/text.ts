/**
 * An alert in one sentence, for the `text` of its outbound delivery (a notify destination shows
 * it as is, e.g. a WeCom group bot). Chinese first, as the product speaks; the structured alert
 * rides beside it in the payload for receivers that word it themselves.
 */
import type { AlertMeasured, AlertTarget } from '@shared/api/alerts';

const n = (v: number) => v.toLocaleString('en-US');

export function alertText(ruleName: string, target: AlertTarget, m: AlertMeasured): string {
  const name = target.name ?? `#${String(target.id)}`;
  const head = `【Segflow 告警】${ruleName}：`;
  switch (m.kind) {
    case 'segment_drop':
    case 'segment_rise':
      return `${head}分群「${name}」日环比${m.kind === 'segment_drop' ? '下降' : '上升'} ${Math.abs(m.changePct)}%（${n(m.previous)} → ${n(m.current)}，阈值 ${m.threshold}%）`;
    case 'segment_below':
      return `${head}分群「${name}」人数 ${n(m.current)}，低于 ${n(m.threshold)}`;
    case 'rule_silent':
      return `${head}规则「${name}」已 ${m.hours} 小时没有打标签（阈值 ${m.threshold} 小时）`;
    case 'rule_errors':
      return m.paused ? `${head}规则「${name}」已被系统暂停（发布者的权限已失效）` : `${head}规则「${name}」运行出错：${m.reason}`;
    case 'source_silent':
      return `${head}数据源「${name}」已 ${m.hours} 小时没有收到事件（阈值 ${m.threshold} 小时）`;
    case 'dead_letters':
      return `${head}新增死信：接收 ${m.intake} 条，推送 ${m.deliveries} 条`;
  }
}
