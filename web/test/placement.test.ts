import { describe, expect, it } from 'vitest';
import { READABLE_ZOOM, freeSpot, readableViewport, type Rect } from '../src/features/rule-builder/placement';

describe('freeSpot: a new node lands where it overlaps nothing', () => {
  const node = (x: number, y: number): Rect => ({ x, y, width: 240, height: 96 });

  it('keeps the spot asked for when it is free', () => {
    expect(freeSpot({ x: 0, y: 0 }, [node(600, 0)])).toEqual({ x: 0, y: 0 });
  });

  const size = { width: 240, height: 96 };
  it('moves below the node in the way, and below the next one too', () => {
    const spot = freeSpot({ x: 10, y: 10 }, [node(0, 0), node(0, 120)], size);
    expect(spot.x).toBe(10);
    expect(spot.y).toBe(120 + 96 + 24);
    // and the result overlaps neither
    for (const r of [node(0, 0), node(0, 120)]) expect(spot.y >= r.y + r.height || spot.y + 96 <= r.y).toBe(true);
  });

  it('treats a near miss (inside the gap) as in the way', () => {
    expect(freeSpot({ x: 0, y: 100 }, [node(0, 0)], size).y).toBe(96 + 24);
  });

  it('counts the new node’s own height: a tall one does not reach into the node below', () => {
    const spot = freeSpot({ x: 0, y: 0 }, [node(0, 150)], { width: 240, height: 180 });
    expect(spot.y).toBe(150 + 96 + 24);
  });
});

describe('readableViewport: fit, but never below readable text', () => {
  const view = { width: 1000, height: 600 };

  it('centres a small rule at 100% at most', () => {
    const v = readableViewport({ x: 0, y: 0, width: 400, height: 100 }, view);
    expect(v.zoom).toBe(1);
    expect(v.x).toBe((1000 - 400) / 2);
    expect(v.y).toBe((600 - 100) / 2);
  });

  it('zooms out to fit a rule that fits above the readable zoom', () => {
    const v = readableViewport({ x: 0, y: 0, width: 1100, height: 200 }, view);
    expect(v.zoom).toBeCloseTo((1000 - 64) / 1100);
    expect(v.zoom).toBeGreaterThanOrEqual(READABLE_ZOOM);
  });

  it('stops at the readable zoom for a long rule and shows its start (left edge), centred vertically', () => {
    const v = readableViewport({ x: 50, y: 20, width: 3000, height: 300 }, view);
    expect(v.zoom).toBe(READABLE_ZOOM);
    expect(v.x).toBe(32 - 50 * READABLE_ZOOM);
    expect(v.y).toBeCloseTo((600 - 300 * READABLE_ZOOM) / 2 - 20 * READABLE_ZOOM);
  });

  it('starts from the top when the rule is taller than the view at the readable zoom', () => {
    const v = readableViewport({ x: 0, y: -100, width: 500, height: 2000 }, view);
    expect(v.zoom).toBe(READABLE_ZOOM);
    expect(v.y).toBe(32 + 100 * READABLE_ZOOM);
  });
});
