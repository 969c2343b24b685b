import { onBeforeUnmount, ref, shallowRef, watch, type Ref } from 'vue';
import type { PreviewBody, RulePreviewOk } from '@shared/api/rules';
import type { RuleError } from '@shared/rules/errors';
import { previewRule } from '../../app/api/rules';
import { previewSegment } from '../../app/api/segments';
import { errorMessage } from '../../app/errors';
import { useRuleDocStore } from './useRuleDocStore';
import { useRuleEditorUi } from './useRuleEditorUi';

/** The debounce: long enough to not count every keystroke, short enough to feel live. */
export const PREVIEW_DEBOUNCE_MS = 400;

/** One preview result as the panel shows it, rules and segments alike. */
export interface PreviewView {
  total: number;
  matched: number;
  rolloutPercent: number;
  graphHash: string | null;
  counts: RulePreviewOk['counts'];
  sample: RulePreviewOk['sample'];
  logic: RulePreviewOk['logic'];
  tookMs: number;
  /** False: publishing changes no tags now (the rule reads its triggering event). */
  appliesNow: boolean;
}

/** One preview from the worker, as the panel shows it, or the errors the server found. */
async function fetchPreview(
  mode: 'rule' | 'segment',
  /** the document as sent: a plain copy, never the store's reactive graph */
  graph: PreviewBody['graph'],
  ruleId: number | null,
  rolloutPercent: number,
): Promise<{ view: PreviewView | null; errors: RuleError[] }> {
  if (mode === 'segment') {
    // a saved segment's id: a reference back to it shows as a loop on the node
    const r = await previewSegment({ graph, sampleSize: 20, ...(ruleId ? { segmentId: ruleId } : {}) });
    if (!r.ok) return { view: null, errors: r.errors };
    const counts = { total: r.total, matched: r.size, nodes: r.nodes, edges: r.edges, actions: {}, tags: [], conflicts: [] };
    const view = { total: r.total, matched: r.size, rolloutPercent: 100, graphHash: null, counts, sample: r.sample, logic: r.logic };
    return { view: { ...view, tookMs: r.tookMs, appliesNow: true }, errors: [] };
  }
  const r = await previewRule({ graph, rolloutPercent, ruleId: ruleId ?? undefined, sampleSize: 20 });
  if (!r.ok) return { view: null, errors: r.errors };
  const { counts } = r;
  return {
    view: {
      total: counts.total,
      matched: counts.matched,
      rolloutPercent: r.rolloutPercent,
      graphHash: r.graphHash,
      counts,
      sample: r.sample,
      logic: r.logic,
      tookMs: r.tookMs,
      appliesNow: r.appliesNow,
    },
    errors: [],
  };
}

/**
 * Live preview: whenever the document (or the share) changes, after a short pause, the worker
 * counts it exactly on D1. Counts land in the UI store so every node shows its badge. Answers to
 * older documents are dropped.
 */
export function useRulePreview(opts: { ruleId: Ref<number | null>; rolloutPercent: Ref<number> }) {
  const doc = useRuleDocStore();
  const ui = useRuleEditorUi();
  const result = shallowRef<PreviewView | null>(null);
  /** Errors the server found (segments: its own shape rules; rules: same as the browser's compile). */
  const serverErrors = shallowRef<RuleError[]>([]);
  const error = ref<string | null>(null);
  const loading = ref(false);
  let seq = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  async function run() {
    const mine = ++seq;
    const graph = JSON.parse(JSON.stringify(doc.graph));
    // a rule the browser already knows is invalid needs no round trip: its errors are on the nodes
    if (doc.mode === 'rule' && !doc.compiled.ok) {
      loading.value = false;
      ui.counting = false;
      result.value = null;
      ui.counts = null;
      serverErrors.value = [];
      doc.externalErrors = [];
      return;
    }
    loading.value = true;
    ui.counting = true;
    error.value = null;
    try {
      const { view, errors } = await fetchPreview(doc.mode, graph, opts.ruleId.value, opts.rolloutPercent.value);
      if (mine !== seq) return;
      result.value = view;
      serverErrors.value = errors;
      // what only the server can find (a segment's shape, a rule too large for one D1 statement)
      // shows like the compiler's errors, instead of a preview that silently never comes
      doc.externalErrors = errors;
      ui.counts = view
        ? {
            nodes: view.counts.nodes,
            edges: view.counts.edges ?? {},
            tags: view.counts.tags,
            conflicts: view.counts.conflicts,
            actions: view.counts.actions ?? {},
          }
        : null;
    } catch (e) {
      if (mine === seq) error.value = errorMessage(e);
    } finally {
      if (mine === seq) {
        loading.value = false;
        ui.counting = false;
      }
    }
  }

  function schedule(delay = PREVIEW_DEBOUNCE_MS) {
    clearTimeout(timer);
    ui.counting = true;
    timer = setTimeout(run, delay);
  }
  // positions do not change counts: watch the document without them
  watch(
    () => JSON.stringify({ n: doc.graph.nodes.map(({ position: _p, ...rest }) => rest), e: doc.graph.edges, r: opts.rolloutPercent.value }),
    () => schedule(),
  );
  onBeforeUnmount(() => clearTimeout(timer));

  return { result, serverErrors, error, loading, refresh: () => schedule(0) };
}
