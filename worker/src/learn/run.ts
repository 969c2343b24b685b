/**
 * The training job of one suggestion (the `segflow-suggestions` consumer calls it): load the
 * labelled contacts page by page (progress written after each), learn with `suggestRule`, and
 * store the draft graph with every leaf's held-out numbers. Every way out ends the row `done` or
 * `failed` with the reason in words; only the runtime killing the job can leave it `running`,
 * and then the queue delivers the message again (and at last to the dead-letter consumer, which
 * marks it failed).
 */
import type { SuggestionErrorCode, SuggestionLeaf, SuggestionParams, SuggestionResult } from '@shared/api/suggestions';
import { suggestRule, type SuggestFailure } from '@shared/learn/suggest';
import { parseJsonOr } from '@shared/json';
import type { ConditionSpec, RuleGraph } from '@shared/rules/types';
import { customFieldsStatement, toCustomFieldDecl, tzOffsetMinutes } from '../rules/context';
import { segmentPredicate } from '../segments/visible';
import { batch } from '../db/rows';
import { loadLearningSet } from './load';
import { refitTag } from './refit';
import { markDone, markFailed, markProgress, markRunning, readSuggestion } from './store';

/** A leaf's positive rate that earns the add-tag action. */
export const LEAF_THRESHOLD = 0.5;
/** Loading is this share of the progress bar; training the rest. */
const LOAD_SHARE = 90;

const FAILURE_WORDS: Record<SuggestFailure, string> = {
  no_contacts: 'There are no contacts to learn from in this department (for a future behaviour: none existed at the start of its window).',
  one_class: 'Every contact, or none, has the outcome: there is nothing to tell apart.',
  no_positive_leaf: `No group of contacts the tree finds reaches a ${LEAF_THRESHOLD * 100}% rate of the outcome: try a deeper tree or a smaller minimum leaf.`,
};

class JobFailure extends Error {
  constructor(
    readonly code: SuggestionErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Runs suggestion `id` to `done` or `failed`. Redelivered after it finished, it does nothing. */
export async function runSuggestion(env: Env, id: number, now = Date.now()): Promise<void> {
  const db = env.DB;
  const row = await readSuggestion(db, id);
  if (!row || (row.status !== 'queued' && row.status !== 'running')) return;
  await markRunning(db, id, Date.now()).run();
  try {
    const result = await train(env, row.department_path, parseJsonOr<SuggestionParams>(row.params, null as never), id, now);
    await markDone(db, id, result, Date.now()).run();
  } catch (err) {
    const code = err instanceof JobFailure ? err.code : 'job_failed';
    const words = err instanceof JobFailure ? err.message : `Training stopped: ${err instanceof Error ? err.message : String(err)}`;
    if (!(err instanceof JobFailure)) console.error(`suggestion ${id}:`, err);
    await markFailed(db, id, code, words, Date.now()).run();
  }
}

async function train(
  env: Env,
  departmentPath: string | null,
  params: SuggestionParams,
  id: number,
  now: number,
): Promise<SuggestionResult> {
  const db = env.DB;
  const tz = tzOffsetMinutes(env);
  const { outcome } = params;
  let segmentWhere;
  if (outcome.kind === 'segment') {
    const seg = await db
      .prepare('SELECT id, name, logic FROM segments WHERE id = ?')
      .bind(outcome.segmentId)
      .first<{ id: number; name: string; logic: string }>();
    if (!seg) throw new JobFailure('outcome_gone', `Segment ${outcome.segmentId} was deleted before training started.`);
    try {
      segmentWhere = segmentPredicate(seg, env, now);
    } catch (e) {
      throw new JobFailure('outcome_gone', e instanceof Error ? e.message : String(e));
    }
  }
  if (outcome.kind === 'tag') {
    const tag = await db.prepare('SELECT id FROM tags WHERE id = ?').bind(outcome.tagId).first();
    if (!tag) throw new JobFailure('outcome_gone', `Tag ${outcome.tagId} was deleted before training started.`);
  }
  const [fields] = await batch(db, [customFieldsStatement(db)]);
  const customFields = fields.results.map(toCustomFieldDecl);
  const set = await loadLearningSet(db, { departmentPath, outcome, segmentWhere, now, tzOffsetMinutes: tz }, async (loaded, total) => {
    await markProgress(db, id, { progress: total > 0 ? (LOAD_SHARE * loaded) / total : LOAD_SHARE, loaded, total }, Date.now()).run();
  });
  const s = suggestRule({
    ids: set.ids,
    snapshots: set.snapshots,
    labels: set.labels,
    customFields,
    // the outcome's own tag would predict itself
    features: outcome.kind === 'tag' ? { excludeTags: [outcome.tagId] } : {},
    tree: { maxDepth: params.depth, minLeaf: params.minLeaf, seed: params.seed },
    // the draft names the outcome's tag, or none (0) until a person picks the tag when making the draft;
    // a refit names its rule's tag, so its tree reads (and diffs) like the rule
    tagId: (await refitTag(db, params)) ?? (outcome.kind === 'tag' ? outcome.tagId : 0),
    threshold: LEAF_THRESHOLD,
    splitSeed: params.seed,
  });
  if (!s.ok) throw new JobFailure(s.reason, FAILURE_WORDS[s.reason]);
  const v = s.value;
  const graph = v.draft.graph;
  const leaves: SuggestionLeaf[] = v.draft.leaves.map((l) => ({
    from: l.from,
    ...(l.handle ? { handle: l.handle } : {}),
    actionNodeId: l.actionNodeId,
    path: pathTo(graph, l.from, l.handle),
    train: l.train,
    heldOut: l.heldOut,
  }));
  let positives = 0;
  for (const y of set.labels) positives += y;
  return {
    graph,
    leaves,
    learned: v.learned,
    baseline: v.baseline,
    trainRows: v.trainRows,
    heldOutRows: v.heldOutRows,
    positives,
    features: v.features.length,
    asOf: set.asOf,
    threshold: LEAF_THRESHOLD,
  };
}

/** The conditions from the trigger to handle `handle` of `from`, in order. */
function pathTo(graph: RuleGraph, from: string, handle: 'yes' | 'no' | undefined): SuggestionLeaf['path'] {
  const nodes = new Map(graph.nodes.map((n) => [n.id, n]));
  const steps: SuggestionLeaf['path'] = [];
  let at: string | undefined = from;
  let side = handle;
  for (let guard = 0; at && guard < 64; guard++) {
    const node = nodes.get(at);
    if (!node || node.kind !== 'condition' || !side) break;
    steps.unshift({ nodeId: node.id, condition: node.condition as ConditionSpec, handle: side });
    const edge = graph.edges.find((e) => e.target === at);
    at = edge?.source;
    side = edge?.sourceHandle as 'yes' | 'no' | undefined;
  }
  return steps;
}
