import { msToLocalTime } from '@shared/api/publishing';

/** A later step of a ramp being drawn: its share and local time (`YYYY-MM-DDTHH:mm` in TIMEZONE). */
export interface DraftStep {
  percent: number;
  at: string | null;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The next full hour after `now`, as a local time in the zone (a sensible default for "publish at"). */
export function nextHour(now: number, offsetMinutes: number): string {
  return msToLocalTime(Math.floor(now / HOUR) * HOUR + HOUR, offsetMinutes);
}

/** The usual gray release after a first small step: 50% a day later, 100% two days later, at the same hour. */
export function defaultRamp(now: number, offsetMinutes: number): DraftStep[] {
  const base = Math.floor(now / HOUR) * HOUR + HOUR;
  return [
    { percent: 50, at: msToLocalTime(base + DAY, offsetMinutes) },
    { percent: 100, at: msToLocalTime(base + 2 * DAY, offsetMinutes) },
  ];
}
