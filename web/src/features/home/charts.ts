/**
 * ECharts for the app's charts, tree-shaken: only the chart types and components drawn are
 * registered (`echarts/core` + `use`), so the bundle carries lines and bars on a canvas, not all
 * of ECharts (maps, 3D, SVG renderer…). Import `VChart` from here, never from vue-echarts, so the
 * parts are registered before a chart mounts. Only the chart components import this file, and
 * pages load them with `asyncChart`: the first screen is drawn before ECharts arrives.
 */
import { use } from 'echarts/core';
import { BarChart, LineChart } from 'echarts/charts';
import { GridComponent, TooltipComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
import type { ComposeOption } from 'echarts/core';
import type { BarSeriesOption, LineSeriesOption } from 'echarts/charts';
import type { GridComponentOption, TooltipComponentOption } from 'echarts/components';

use([LineChart, BarChart, GridComponent, TooltipComponent, CanvasRenderer]);

export { default as VChart } from 'vue-echarts';

/** The options the registered parts accept (a chart type not registered above is a type error). */
export type HomeChartOption = ComposeOption<LineSeriesOption | BarSeriesOption | GridComponentOption | TooltipComponentOption>;
