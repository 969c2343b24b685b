/** What an alert rule watches, read with its name for lists and deliveries. */
import { ALERT_KIND_SPEC, type AlertKind, type AlertTarget } from '@shared/api/alerts';

/** Columns of an `alert_rules ar` row naming its target (null when it was since deleted). */
export const TARGET_COLUMNS = `ar.segment_id, ar.rule_id, ar.source_id,
  (SELECT name FROM segments WHERE id = ar.segment_id) AS segment_name,
  (SELECT name FROM rules WHERE id = ar.rule_id) AS target_rule_name,
  (SELECT name FROM event_sources WHERE id = ar.source_id) AS source_name`;

export interface TargetColumns {
  segment_id: number | null;
  rule_id: number | null;
  source_id: string | null;
  segment_name: string | null;
  target_rule_name: string | null;
  source_name: string | null;
}

export function targetOf(kind: AlertKind, r: TargetColumns): AlertTarget {
  switch (ALERT_KIND_SPEC[kind].target) {
    case 'segment':
      return { type: 'segment', id: r.segment_id, name: r.segment_name };
    case 'rule':
      return { type: 'rule', id: r.rule_id, name: r.target_rule_name };
    case 'source':
      return { type: 'source', id: r.source_id, name: r.source_name };
    default:
      return { type: 'dead_letters', id: null, name: null };
  }
}
