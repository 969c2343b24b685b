/**
 * Five-field cron expressions (minute hour day-of-month month day-of-week) as a schedule
 * trigger stores them ("0 3 * * *" = 03:00 every day), matched against a minute in the
 * configured time zone. Supports `*`, numbers, ranges `a-b`, steps `*\/n` and `a-b/n`, and
 * lists; day-of-week 0–7 with 0 and 7 both Sunday. As in Vixie cron, when both day fields
 * are restricted a day matching either one matches.
 */
export class CronError extends Error {}

interface Field {
  values: Set<number>;
  any: boolean;
}

const BOUNDS: [number, number][] = [
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [0, 7],
];
const NAMES = ['minute', 'hour', 'day of month', 'month', 'day of week'];

function field(text: string, i: number): Field {
  const [lo, hi] = BOUNDS[i] as [number, number];
  const values = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!m) throw new CronError(`${NAMES[i]} "${part}" is not a number, range, list or step`);
    const from = m[1] === '*' ? lo : Number(m[2]);
    const to = m[1] === '*' ? hi : m[3] !== undefined ? Number(m[3]) : m[4] !== undefined ? hi : from;
    const step = m[4] !== undefined ? Number(m[4]) : 1;
    if (from < lo || to > hi || from > to || step < 1) throw new CronError(`${NAMES[i]} "${part}" is outside ${lo}–${hi}`);
    for (let v = from; v <= to; v += step) values.add(i === 4 && v === 7 ? 0 : v);
  }
  return { values, any: text === '*' };
}

/** A parsed expression: `matches(ms, tzOffsetMinutes)` says whether that minute is scheduled. */
export function parseCron(expr: string): { matches: (ms: number, tzOffsetMinutes: number) => boolean } {
  const parts = expr.trim().split(/\s+/);
  if (parts.length !== 5) throw new CronError(`"${expr}" needs 5 fields: minute hour day-of-month month day-of-week`);
  const [min, hour, dom, mon, dow] = parts.map(field) as [Field, Field, Field, Field, Field];
  return {
    matches(ms, tz) {
      const d = new Date(ms + tz * 60_000);
      if (!min.values.has(d.getUTCMinutes()) || !hour.values.has(d.getUTCHours()) || !mon.values.has(d.getUTCMonth() + 1)) return false;
      const domOk = dom.values.has(d.getUTCDate());
      const dowOk = dow.values.has(d.getUTCDay());
      if (dom.any || dow.any) return domOk && dowOk;
      return domOk || dowOk;
    },
  };
}
