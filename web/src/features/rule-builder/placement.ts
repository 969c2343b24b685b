/**
 * Where things go on the canvas, as pure geometry (unit-tested in web/test/placement.test.ts):
 * a new node's spot that overlaps nothing, and a fit that never zooms out past readable text.
 */

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}
export interface Point {
  x: number;
  y: number;
}

/**
 * A node not rendered yet (just added): RuleNodeCard's width, and the height of a fresh
 * condition, which shows its two problems (not connected, no value) until it is filled in.
 */
export const NEW_NODE_SIZE = { width: 240, height: 180 };
const GAP = 24;

const overlaps = (a: Rect, b: Rect) =>
  a.x < b.x + b.width + GAP && b.x < a.x + a.width + GAP && a.y < b.y + b.height + GAP && b.y < a.y + a.height + GAP;

/**
 * The spot nearest `at` (moving down, past each node in the way) where a node of `size`
 * overlaps none of `taken`, with a gap around it.
 */
export function freeSpot(at: Point, taken: readonly Rect[], size = NEW_NODE_SIZE): Point {
  const spot = { ...at };
  for (let i = 0; i <= taken.length; i++) {
    const hit = taken.find((r) => overlaps({ ...spot, ...size }, r));
    if (!hit) return spot;
    spot.y = hit.y + hit.height + GAP;
  }
  return spot;
}

/**
 * The zoom below which a node's 13 px text is no longer readable (about 10 px on screen). A fit
 * stops here: a rule too long for the canvas at this zoom scrolls (pan) instead of shrinking.
 */
export const READABLE_ZOOM = 0.8;

/**
 * The viewport that shows `bounds` in a `view` of that size: the whole rule centred when it fits
 * at a readable zoom (never above `maxZoom`); otherwise at READABLE_ZOOM from its start (the
 * left edge, where the trigger is), centred vertically when its height fits, else from the top.
 */
export function readableViewport(
  bounds: Rect,
  view: { width: number; height: number },
  opts: { padding?: number; maxZoom?: number; minZoom?: number } = {},
): { x: number; y: number; zoom: number } {
  const pad = opts.padding ?? 32;
  const maxZoom = opts.maxZoom ?? 1;
  const minZoom = opts.minZoom ?? READABLE_ZOOM;
  const w = Math.max(1, bounds.width);
  const h = Math.max(1, bounds.height);
  const fitZoom = Math.min(maxZoom, (view.width - 2 * pad) / w, (view.height - 2 * pad) / h);
  const zoom = Math.max(minZoom, fitZoom);
  const centre = (size: number, start: number, span: number) => (size - span * zoom) / 2 - start * zoom;
  const x = w * zoom <= view.width - 2 * pad ? centre(view.width, bounds.x, w) : pad - bounds.x * zoom;
  const y = h * zoom <= view.height - 2 * pad ? centre(view.height, bounds.y, h) : pad - bounds.y * zoom;
  return { x, y, zoom };
}
