import { defineAsyncComponent, h, type Component } from 'vue';
import { ElSkeleton } from 'element-plus';

/**
 * A chart component loaded after the page around it: ECharts is the largest part of the app
 * (about 175 KB gzip), so a page shows its numbers first and each chart fills its place when
 * the chart chunk arrives (a skeleton until then). `e2e/first-screen-budget.test.ts` holds the
 * first screen to its budget without it.
 */
export function asyncChart<T extends Component>(loader: () => Promise<{ default: T }>): T {
  return defineAsyncComponent({
    loader,
    loadingComponent: { render: () => h(ElSkeleton, { animated: true, rows: 4 }) },
    delay: 0,
  }) as T;
}
