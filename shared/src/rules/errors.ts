/**
 * Errors of the rule language. Validation and compilation never throw for a bad graph: they
 * return `{ ok: false, errors }` with each error pinned to the node (or edge) to fix.
 */

/** Machine-readable error codes; the UI maps them to zh-CN / en text. */
export const RULE_ERROR_CODES = [
  'invalid_document', // fails the zod schema
  'unsupported_version', // schemaVersion newer than this code, or unknown
  'duplicate_id',
  'no_trigger',
  'multiple_triggers',
  'dangling_edge', // edge to/from a node that does not exist
  'bad_handle', // edge leaves a handle its source does not have
  'trigger_has_input',
  'action_has_output',
  'cycle',
  'unreachable', // no path from the trigger
  'action_no_path', // an action nothing leads to
  'no_actions',
  'logic_inputs', // `not` needs exactly one input, `and`/`or` at least one
  'unknown_field',
  'bad_operator', // the field's type does not allow the operator
  'missing_value',
  'wrong_value_type',
  'unknown_tag',
  'bad_params', // aggregate parameters missing or out of range
  'too_many_parameters', // the SQL would exceed D1's bound-parameter limit
  'too_complex', // paths multiply (many diamonds): the inlined logic would be too large
  'bad_schedule', // a schedule trigger's cron expression does not parse
  'unknown_destination', // a call-webhook / notify action names no destination of its kind (or a revoked one)
  'bad_bands', // a band node's bands leave a gap, overlap, or repeat a tag
  'band_group', // a band node's tag is not in its group, or the group is not exclusive
  'outbound_never_fires', // only call-webhook / notify actions, and no event trigger: no run would ever change a tag, so none would fire
  'unknown_segment', // "in segment X" names a segment that does not exist or the author cannot see
  'segment_cycle', // segments referencing each other in a loop (A → B → A); `path` names them
  'segment_invalid', // "in segment X" where X's own graph does not compile
] as const;

/** One of `RULE_ERROR_CODES`. */
export type RuleErrorCode = (typeof RULE_ERROR_CODES)[number];

/** A problem the user can fix, pinned to a node or edge (`nodeId` null = the whole graph). */
export interface RuleError {
  nodeId: string | null;
  edgeId?: string;
  code: RuleErrorCode;
  message: string;
  /** `segment_cycle`: the segments' names around the loop, first repeated last ("A", "B", "A"). */
  path?: string[];
}

/** The result of every fallible step of the rule language. */
export type RuleResult<T> = { ok: true; value: T } | { ok: false; errors: RuleError[] };

/** Builds a `RuleError`. */
export function ruleError(nodeId: string | null, code: RuleErrorCode, message: string, edgeId?: string): RuleError {
  return edgeId === undefined ? { nodeId, code, message } : { nodeId, edgeId, code, message };
}

/**
 * Thrown only by the low-level evaluators when handed JSON Logic this language never
 * produces (e.g. an unknown operation): a programming error, not a user error.
 */
export class UnsupportedLogicError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedLogicError';
  }
}
