import { onBeforeUnmount, ref, shallowRef, watch, type Ref } from 'vue';
import type { RulePreviewOk } from '@shared/api/rules';
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
      if (doc.mode === 'segment') {
        const r = await previewSegment({ graph, sampleSize: 20 });
        if (mine !== seq) return;
        if (r.ok) {
          result.value = {
            total: r.total,
            matched: r.size,
            rolloutPercent: 100,
            graphHash: null,
            counts: { total: r.total, matched: r.size, nodes: r.nodes, edges: r.edges, actions: {}, tags: [], conflicts: [] },
            sample: r.sample,
            logic: r.logic,
            tookMs: r.tookMs,
            appliesNow: true,
          };
          serverErrors.value = [];
        } else {
          result.value = null;
          serverErrors.value = r.errors;
        }
        doc.externalErrors = serverErrors.value;
      } else {
        const r = await previewRule({
          graph,
          rolloutPercent: opts.rolloutPercent.value,
          ruleId: opts.ruleId.value ?? undefined,
          sampleSize: 20,
        });
        if (mine !== seq) return;
        if (r.ok) {
          result.value = {
            total: r.counts.total,
            matched: r.counts.matched,
            rolloutPercent: r.rolloutPercent,
            graphHash: r.graphHash,
            counts: r.counts,
            sample: r.sample,
            logic: r.logic,
            tookMs: r.tookMs,
            appliesNow: r.appliesNow,
          };
          serverErrors.value = [];
        } else {
          result.value = null;
          serverErrors.value = r.errors;
        }
        // what only the server can find (a rule too large for one D1 statement) shows like the
        // compiler's errors, instead of a preview that silently never comes
        doc.externalErrors = serverErrors.value;
      }
      ui.counts = result.value
        ? {
            nodes: result.value.counts.nodes,
            edges: result.value.counts.edges ?? {},
            tags: result.value.counts.tags,
            conflicts: result.value.counts.conflicts,
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
