/**
 * Runtime validation of a stored or posted rule graph (the shape only; meaning — fields, types,
 * reachability — is checked by `compile.ts`). Used by the worker's validator middleware.
 */
import { z } from 'zod';
import { EVENT_TYPES } from '../domain';
import { MAX_GRAPH_EDGES, MAX_GRAPH_NODES, MAX_NOTIFY_TEXT, RULE_SCHEMA_VERSION, type RuleGraph } from './types';
import { ruleError, type RuleResult } from './errors';

// Plain ids: the compiler derives test ids as `node:case`, so `:` must not occur in them.
const id = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_.-]+$/, 'ids use letters, digits, _ . - only');

/** `AggregateParams`. */
export const aggregateParamsSchema = z.object({
  eventType: z.enum(EVENT_TYPES),
  days: z.number().int().min(1).max(3660),
  channel: z.string().min(1).max(200).optional(),
});

/** `ConditionSpec`: the value is checked against the field's type by the compiler. */
export const conditionSchema = z.object({
  field: z.string().min(1).max(100),
  op: z.string().min(1).max(40),
  value: z.unknown().optional(),
  params: aggregateParamsSchema.optional(),
});

const base = { id, label: z.string().max(200).optional(), position: z.object({ x: z.number(), y: z.number() }).optional() };

/** A score's metrics (score and band nodes). */
const metricsSchema = z
  .array(
    z.object({
      field: z.string().min(1).max(100),
      params: aggregateParamsSchema.optional(),
      // negative: a penalty (seed 003's violations); every evaluator does the same arithmetic
      weight: z.number().finite().min(-1000).max(1000),
      cap: z.number().finite().positive(),
    }),
  )
  .min(1)
  .max(10);

const bandFields = { id, label: z.string().max(100).optional(), min: z.number().finite(), max: z.number().finite().nullable() };

/** `RuleNode`, discriminated by `kind`. */
export const ruleNodeSchema = z.discriminatedUnion('kind', [
  z.object({
    ...base,
    kind: z.literal('trigger'),
    trigger: z.discriminatedUnion('type', [
      z.object({ type: z.literal('event'), eventType: z.enum(EVENT_TYPES), filters: z.array(conditionSchema).max(20) }),
      z.object({ type: z.literal('schedule'), cron: z.string().min(1).max(100) }),
    ]),
  }),
  z.object({ ...base, kind: z.literal('condition'), condition: conditionSchema }),
  z.object({ ...base, kind: z.literal('logic'), op: z.enum(['and', 'or', 'not']) }),
  z.object({
    ...base,
    kind: z.literal('score'),
    metrics: metricsSchema,
    bands: z.array(z.object(bandFields)).min(1).max(10),
  }),
  z.object({
    ...base,
    kind: z.literal('band'),
    metrics: metricsSchema,
    bands: z
      .array(z.object({ ...bandFields, tagId: z.number().int().positive() }))
      .min(1)
      .max(10),
  }),
  z.object({
    ...base,
    kind: z.literal('branch'),
    cases: z
      .array(z.object({ id, label: z.string().max(100).optional(), condition: conditionSchema }))
      .min(1)
      .max(20),
  }),
  z.object({
    ...base,
    kind: z.literal('action'),
    action: z.discriminatedUnion('type', [
      z.object({ type: z.literal('add_tag'), tagId: z.number().int().positive() }),
      z.object({ type: z.literal('remove_tag'), tagId: z.number().int().positive() }),
      z.object({ type: z.literal('call_webhook'), destinationId: z.number().int().positive() }),
      z.object({
        type: z.literal('notify'),
        destinationId: z.number().int().positive(),
        text: z.string().trim().min(1).max(MAX_NOTIFY_TEXT),
      }),
    ]),
  }),
]);

/** `RuleEdge`. */
export const ruleEdgeSchema = z.object({ id, source: id, target: id, sourceHandle: id.optional() });

/** `RuleGraph` at the current schema version (run `upgradeGraph` first for stored documents). */
export const ruleGraphSchema = z.object({
  schemaVersion: z.literal(RULE_SCHEMA_VERSION),
  nodes: z.array(ruleNodeSchema).max(MAX_GRAPH_NODES),
  edges: z.array(ruleEdgeSchema).max(MAX_GRAPH_EDGES),
});

/**
 * Parses an unknown value into a `RuleGraph`, naming the node whose shape is wrong when the
 * error sits under `nodes[i]`.
 */
export function parseRuleGraph(input: unknown): RuleResult<RuleGraph> {
  const r = ruleGraphSchema.safeParse(input);
  if (r.success) return { ok: true, value: r.data as RuleGraph };
  const nodes = (input as { nodes?: unknown } | null)?.nodes;
  return {
    ok: false,
    errors: r.error.issues.map((issue) => {
      let nodeId: string | null = null;
      if (issue.path[0] === 'nodes' && typeof issue.path[1] === 'number' && Array.isArray(nodes)) {
        const n = nodes[issue.path[1]] as { id?: unknown } | undefined;
        if (typeof n?.id === 'string') nodeId = n.id;
      }
      return ruleError(nodeId, 'invalid_document', `${issue.path.join('.')}: ${issue.message}`);
    }),
  };
}
