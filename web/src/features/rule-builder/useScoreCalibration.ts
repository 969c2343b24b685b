import { ref } from 'vue';
import type { FactorSpread } from '@shared/api/score-calibration';
import type { ScoreMetric } from '@shared/rules/types';
import { calibrateScore } from '../../app/api/score-calibration';

/** What a factor is, apart from its weight and cap: the spread found for it stays with it. */
const factorKey = (m: Pick<ScoreMetric, 'field' | 'params'>) => JSON.stringify([m.field, m.params ?? null]);

/** A factor's spread and the percentile it was read at. */
export type FactorSpreadAt = FactorSpread & { percentile: number };

/** Every suggested cap set on `metrics` (a factor without a suggestion keeps its cap). */
export function setCaps(metrics: ScoreMetric[], caps: readonly (number | null)[]) {
  caps.forEach((c, i) => {
    const m = metrics[i];
    if (c !== null && m) m.cap = c;
  });
}

/**
 * "Caps from the workspace" for a score or band node: asks where each factor sits among the
 * contacts the viewer may see, then hands every suggested cap to `apply`, which the inspector
 * makes ONE edit of the node it was asked for (one undo step). The spreads are kept by factor,
 * so each row can say "P90 = 12 · max 100" until the factor itself changes.
 */
export function useScoreCalibration() {
  const busy = ref(false);
  const failed = ref(false);
  const percentile = ref(90);
  const spreads = ref(new Map<string, FactorSpreadAt>());
  const total = ref<number | null>(null);

  async function calibrate(metrics: readonly ScoreMetric[], apply: (caps: (number | null)[]) => void) {
    if (!metrics.length || busy.value) return;
    busy.value = true;
    failed.value = false;
    try {
      const res = await calibrateScore({
        metrics: metrics.map((m) => (m.params ? { field: m.field, params: m.params } : { field: m.field })),
        percentile: percentile.value,
      });
      const next = new Map(spreads.value);
      metrics.forEach((m, i) => next.set(factorKey(m), { ...res.factors[i]!, percentile: res.percentile }));
      spreads.value = next;
      total.value = res.total;
      apply(res.factors.map((f) => f.suggestedCap));
    } catch {
      failed.value = true;
    } finally {
      busy.value = false;
    }
  }

  const spreadOf = (m: ScoreMetric): FactorSpreadAt | undefined => spreads.value.get(factorKey(m));
  return { busy, failed, percentile, total, calibrate, spreadOf };
}
