/**
 * The one error shape every API error has, for every status:
 * `{ error: { code, message, details? } }`. `details` lists per-field problems.
 */
export interface ApiErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    details?: FieldProblem[];
  };
}

/** One problem with one field of a request: `path` names it as the client sent it. */
export interface FieldProblem {
  path: string;
  message: string;
}

export type ErrorCode =
  | 'invalid_request' // the body, query or params fail validation
  | 'invalid_json'
  | 'payload_too_large'
  | 'unknown_reference' // a parameter names something that does not exist (tag, department…)
  | 'not_found'
  | 'method_not_allowed'
  | 'unauthorized'
  | 'invalid_signature' // a webhook's signature is missing, wrong or outside its time window
  | 'forbidden'
  | 'csrf_token_invalid' // a cookie-authenticated write without the session's X-CSRF-Token
  | 'rate_limited' // too many sign-in failures; retry after the time in `Retry-After`
  | 'confirmation_required' // destructive work: resend with `confirm` naming the count the message states
  | 'conflict'
  | 'wecom_name_too_long' // a change to a tag group synced to WeCom would give a corp tag a name (its path) over WeCom's 30 characters
  | 'invalid_rule' // a rule graph that does not compile where a valid one is required (publish); details pin node ids
  | 'unavailable' // a service the request needs (the intake queue) refused it for now: retry later
  | 'internal'
  | 'approval_required'; // a department admin's publish in a department whose publishes wait for a super admin: request it as a plan
