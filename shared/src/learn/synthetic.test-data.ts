/**
 * Synthetic contacts for the learner's unit tests: every kind of value a feature can meet —
 * missing, of the wrong JSON type, empty text, rare categories, future dates, lists, tags,
 * purchases in and out of a window.
 */
import type { CustomFieldDecl } from '../rules/fields';
import type { EvalData } from '../rules/types';
import { DAY_MS, dayNumber } from '../time';

export const NOW = Date.UTC(2026, 5, 1, 4, 30);
export const TZ = 480;

export const CUSTOM: CustomFieldDecl[] = [
  { key: 'points', labelZh: '积分', labelEn: 'Points', type: 'number' },
  { key: 'vip', labelZh: 'VIP', labelEn: 'VIP', type: 'boolean' },
  { key: 'interests', labelZh: '兴趣', labelEn: 'Interests', type: 'list' },
];

/** Deterministic pseudo-random numbers. */
export function lcg(seed: number) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** `n` contacts evaluated at `NOW`. */
export function syntheticContacts(n: number, seed = 1): EvalData[] {
  const r = lcg(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const today = dayNumber(NOW, TZ);
  return Array.from({ length: n }, (_, i) => {
    const custom: Record<string, unknown> = {};
    const p = r();
    if (p < 0.6) custom.points = Math.floor(r() * 100);
    else if (p < 0.7) custom.points = '3'; // wrong JSON type: reads as missing
    const v = r();
    if (v < 0.4) custom.vip = true;
    else if (v < 0.7) custom.vip = false;
    else if (v < 0.75) custom.vip = 1; // wrong type
    if (r() < 0.7) custom.interests = [pick(['a', 'b', 'c']), ...(r() < 0.5 ? [pick(['a', 'b', 'd'])] : [])];
    const lp = r();
    const lastPurchaseAt = lp < 0.3 ? null : lp < 0.35 ? NOW + 3 * DAY_MS : NOW - Math.floor(r() * 200) * DAY_MS - Math.floor(r() * DAY_MS);
    const stats = [];
    for (let k = 0; k < 4; k++)
      if (r() < 0.4)
        stats.push({ type: 'purchase' as const, day: today - Math.floor(r() * 90), count: 1, amount: Math.floor(r() * 20_000) });
    return {
      contact: {
        id: i + 1,
        region: pick([null, '', '上海', '浙江', '广东', '北京', `稀有${i}`]),
        departmentId: pick([null, 3, 4, 5]),
        totalSpend: Math.floor(r() * 50_000),
        lastPurchaseAt,
        custom,
      },
      tags: [1, 2, 3, 4, 5].filter(() => r() < 0.3),
      stats,
      events: [],
      now: NOW,
      tzOffsetMinutes: TZ,
    };
  });
}
