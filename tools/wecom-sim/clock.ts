/**
 * The simulator's clock. WeCom's time-bound behaviour (access_token validity, per-minute and
 * per-hour rate windows, create times) reads it, so tests can move time instead of waiting.
 *
 * - `new SimClock()` follows the real time, plus whatever `advance()` added (serve.ts).
 * - `new SimClock(start)` is frozen at `start` (ms since the epoch) and moves only by
 *   `advance()` / `set()` (unit and worker tests).
 */
export class SimClock {
  private frozenAt: number | null;
  private offset = 0;

  constructor(startMs?: number) {
    this.frozenAt = startMs ?? null;
  }

  /** Milliseconds since the epoch. */
  now(): number {
    return this.frozenAt ?? Date.now() + this.offset;
  }

  /** Seconds since the epoch, as WeCom writes times (create_time, CreateTime…). */
  nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }

  advance(ms: number): void {
    if (this.frozenAt != null) this.frozenAt += ms;
    else this.offset += ms;
  }

  /** Freezes the clock at `ms` (until the next `set`/`advance`). */
  set(ms: number): void {
    this.frozenAt = ms;
  }

  /** Back to the real time (drops the offset). */
  follow(): void {
    this.frozenAt = null;
    this.offset = 0;
  }

  get frozen(): boolean {
    return this.frozenAt != null;
  }
}
